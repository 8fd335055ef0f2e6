"""Firing a case's action from a posted page form: the one path the case page, the expert workspace
and the applicant portal share. The form is read back by the action's own JSON Schema; a refusal
comes back as the status and reasons the page re-renders with (values kept), never as a lost form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from services.api.deps import committed, get_db
from services.engine import command, visibility
from services.engine.actors import Actor
from services.engine.errors import CommandError
from services.queries.cases import case_detail
from services.queries.schemas import plain
from services.web.deps import form_dict
from services.web.schema_forms import read_back
from states.messages import Reason


@dataclass(frozen=True)
class Refused:
    status: int
    reasons: list[Reason]
    offered: bool  # the action was among those offered to the person (else the reasons are about the case)


def posted_strings(form: FormData) -> dict[str, str]:
    """The posted text fields (files and the CSRF token left out)."""
    return {k: v for k, v in form_dict(form).items() if isinstance(v, str)}


async def fire_posted(request: Request, actor: Actor, case_id: int, trigger: str, posted: dict[str, str], *,
                      data: dict[str, Any] | None = None, task_id: int | None = None, if_match: int | None = None,
                      reraise: tuple[int, ...] = (401, 404), key: str | None = None) -> Refused | None:
    """None when the action committed. `data` skips reading the form back (a page that composes the
    action's JSON itself); an action not offered is still fired, so the engine says why not."""
    db = get_db(request)
    offered = True
    if data is None:
        with db.read() as session:
            detail = plain(case_detail(session, visibility.visible_case(session, actor, case_id), actor))
        action = next((a for a in detail["allowed_actions"] if a["action"] == trigger), None)
        offered = action is not None
        data, problems = read_back(action["form_schema"], posted) if action else (dict(posted), [])
        if problems:
            return Refused(422, problems, offered)
    cmd = command.Command(case_id=case_id, trigger=trigger, actor=actor, form=data, task_id=task_id, if_match=if_match,
                        idempotency_key=key)
    try:
        await run_in_threadpool(command.fire, db, cmd, lambda s, o: (200, {"state": o.case.state}))
    except CommandError as exc:
        if exc.status in reraise:
            raise
        return Refused(exc.status, exc.reasons, offered)
    committed(request, None, trigger)
    return None
