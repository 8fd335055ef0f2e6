"""What routes need, as Annotated aliases so that signatures read plainly."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services.accounts.identity import AdminScope, authenticate, require_admin, require_national
from services.engine import command
from services.engine.actors import Actor, public_actor
from services.store.engine import Database


def get_db(request: Request) -> Database:
    # the ignore below: starlette's app.state is untyped; create_app sets db
    return request.app.state.db  # type: ignore[no-any-return]


DbDep = Annotated[Database, Depends(get_db)]


def current_actor(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    with get_db(request).read() as session:
        return authenticate(session, token)


ActorDep = Annotated[Actor, Depends(current_actor)]
# Every mutating route takes one (services/engine/idempotency.py): a retry with the same key gets the first reply.
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                       description="Any unique string; a retry with the same key gets the first "
                                                   "reply instead of acting twice")]


def current_admin(actor: ActorDep) -> AdminScope:
    """An administrator of some jurisdictions, or the national one (403 for anyone else)."""
    return require_admin(actor)


def current_national_admin(actor: ActorDep) -> AdminScope:
    """The national administrator only: the State Council's calendar and system-wide operations."""
    return require_national(actor)


AdminDep = Annotated[AdminScope, Depends(current_admin)]
NationalAdminDep = Annotated[AdminScope, Depends(current_national_admin)]


def parse_if_match(value: str | None) -> int | None:
    """Accept `3`, `"3"`, `W/"3"` and `"v3"` (the ETag we send)."""
    if value is None:
        return None
    raw = value.strip().removeprefix("W/").strip('"').removeprefix("v")
    # ASCII digits only ("²".isdigit() is true), and no more than a version can hold
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else -1


def committed(request: Request, body: dict[str, Any] | None, action: str) -> None:
    """After a command committed: the embedded scheduler dispatches its outbox rows right away."""
    orchestrator = getattr(request.app.state, "orchestrator", None)
    if orchestrator is not None:
        case = body if body and "procedure" in body and "jurisdiction" in body else None
        orchestrator.after_command(case, action)


async def fire_public(request: Request, case_id: int, trigger: str, body: dict[str, Any], respond: Any,
                      idempotency_key: str | None) -> JSONResponse:
    """A command by the public (no account): told apart by address, dispatched right after commit."""


    caller = public_actor(request.client.host if request.client else None)
    cmd = command.Command(case_id=case_id, trigger=trigger, actor=caller, form=body, idempotency_key=idempotency_key)
    status, data = await run_in_threadpool(command.fire, get_db(request), cmd, respond)
    committed(request, None, trigger)
    return JSONResponse(data, status_code=status)
