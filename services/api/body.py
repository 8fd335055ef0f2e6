"""Reading a JSON object body by hand (action forms are chosen by the trigger, not the route)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from services.engine.errors import CommandError, Invalid
from states.messages import Reason

MAX_BODY = 1_000_000


class TooLarge(CommandError):
    status, code = 413, "too_large"


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise TooLarge([Reason("too_large", f"请求体超过 {MAX_BODY} 字节", f"Body exceeds {MAX_BODY} bytes")])
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Invalid([Reason("json_invalid", f"JSON 格式错误：{exc}", f"Malformed JSON: {exc}", "body")]) from exc
    except RecursionError as exc:
        raise Invalid([Reason("json_invalid", "JSON 嵌套过深", "The JSON is nested too deeply", "body")]) from exc
    if not isinstance(data, dict):
        raise Invalid([Reason("dict_type", "请求体必须是 JSON 对象", "The body must be a JSON object", "body")])
    return data
