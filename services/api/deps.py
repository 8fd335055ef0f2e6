"""What routes need, as Annotated aliases so that signatures read plainly."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from services.identity import Actor, authenticate
from services.store.engine import Database


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


DbDep = Annotated[Database, Depends(get_db)]


def current_actor(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    with get_db(request).read() as session:
        return authenticate(session, token)


ActorDep = Annotated[Actor, Depends(current_actor)]


def parse_if_match(value: str | None) -> int | None:
    """Accept `3`, `"3"`, `W/"3"` and `"v3"` (the ETag we send)."""
    if value is None:
        return None
    raw = value.strip().removeprefix("W/").strip('"').removeprefix("v")
    # ASCII digits only ("²".isdigit() is true), and no more than a version can hold
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else -1


def committed(request: Request, body: dict | None, action: str) -> None:
    """After a command committed: the embedded scheduler dispatches its outbox rows right away."""
    orchestrator = getattr(request.app.state, "orchestrator", None)
    if orchestrator is not None:
        case = body if body and "procedure" in body and "jurisdiction" in body else None
        orchestrator.after_command(case, action)
