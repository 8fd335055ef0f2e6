"""Reading a JSON object body by hand (action forms are chosen by the trigger, not the route)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from services.engine.errors import CommandError, Invalid
from states.messages import reason

MAX_BODY = 1_000_000


class TooLarge(CommandError):
    status, code = 413, "too_large"


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise TooLarge([reason("too_large.body", limit=MAX_BODY)])
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Invalid([reason("json_invalid.body", field="body", error=exc)]) from exc
    except RecursionError as exc:
        raise Invalid([reason("json_invalid.nested", field="body")]) from exc
    if not isinstance(data, dict):
        raise Invalid([reason("dict_type.body", field="body")])
    return data
