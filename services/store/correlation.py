"""The request id a piece of work carries: set by the API's middleware for each request (or by a flow run
for the rows it handles), written into the outbox rows a command inserts (`Outbox.request_id`, a column
default, so every insert path carries it) and into every JSON log line (`services.engine.telemetry`).

Lives in the store layer because a table's column default reads it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
MAX_LENGTH = 64


def new_id() -> str:
    return secrets.token_hex(8)


def current() -> str | None:
    return _request_id.get()


def clean(value: str | None) -> str | None:
    """A caller's `X-Request-ID`, kept only when it is short and plain (it ends up in logs and rows)."""
    if not value:
        return None
    value = value.strip()[:MAX_LENGTH]
    return value if value and all(c.isalnum() or c in "-_.:" for c in value) else None


@contextmanager
def carrying(request_id: str | None) -> Iterator[str | None]:
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
