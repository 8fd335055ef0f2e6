"""Work queues and the commands on a task."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from services.api.body import json_object
from services.api.deps import ActorDep, DbDep, IdemKey, committed, parse_if_match
from services.api.responses import errors, json_body
from services.api.routes.cases import detail_responder, reply
from services.engine import assignment, command
from services.engine.errors import Invalid
from services.queries import queues
from services.queries.cases import CaseActionPublic, TaskPublic
from services.queries.queues import TaskPage
from services.queries.schemas import not_found
from services.store.tables import Task
from states.messages import reason

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

COMPLETION = {"type": "object", "properties": {
    "action": {"type": "string", "description": "The trigger; may be left out when the task has one"},
    "form": {"type": "object", "description": "The action's form"}}}


@router.get("", summary="My work queue", responses=errors(401, 422))
def list_tasks(actor: ActorDep, db: DbDep, view: Literal["mine", "team", "unassigned", "overdue"] = "mine",
               procedure: str | None = None, jurisdiction: str | None = None, kind: str | None = None,
               cursor: Annotated[str | None, Query(max_length=200)] = None,
               limit: Annotated[int, Query(ge=1, le=100)] = 50) -> TaskPage:
    with db.read() as session:
        return queues.list_tasks(session, actor, view=view, procedure=procedure, jurisdiction=jurisdiction,
                                 kind=kind, cursor=cursor, limit=limit)


@router.post("/{task_id}/claim", summary="Claim a task (claiming one's own task again changes nothing)",
             response_model=TaskPublic, responses=errors(401, 403, 404, 409, 422))
def claim(task_id: int, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None) -> dict[str, Any]:
    return assignment.claim(db, task_id, actor, idempotency_key, queues.task_reply)


@router.post("/{task_id}/unclaim", summary="Release a task I claimed back to the team",
             response_model=TaskPublic, responses=errors(401, 403, 404, 409, 422))
def unclaim(task_id: int, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None) -> dict[str, Any]:
    return assignment.unclaim(db, task_id, actor, idempotency_key, queues.task_reply)


class Delegation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: int


@router.post("/{task_id}/delegate", summary="Hand a task to a colleague with the same role",
             response_model=TaskPublic, responses=errors(401, 403, 404, 409, 413, 422))
def delegate(task_id: int, body: Delegation, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
             ) -> dict[str, Any]:
    return assignment.delegate(db, task_id, actor, body.user_id, idempotency_key, queues.task_reply)


@router.post("/{task_id}/complete", summary="Complete = fire the task's action with its form",
             response_model=CaseActionPublic, responses=errors(401, 403, 404, 409, 413, 422),
             openapi_extra=json_body("The action and its form", COMPLETION))
async def complete(task_id: int, request: Request, actor: ActorDep, db: DbDep,
                   if_match: Annotated[str | None, Header(alias="If-Match")] = None,
                   idempotency_key: IdemKey = None) -> JSONResponse:
    """Body: `{"action": "<trigger>", "form": {...}}`; `action` may be left out when the task has one."""
    body = await json_object(request)
    with db.read() as session:
        task = session.get(Task, task_id)
        if task is None:
            raise not_found("task")
        triggers = list(task.triggers)
        case_id = task.case_id
    action = body.get("action") or (triggers[0] if len(triggers) == 1 else None)
    form = body.get("form", {})
    if not isinstance(action, str) or not isinstance(form, dict):
        raise Invalid([reason("action_required", field="action", actions=", ".join(triggers))])
    cmd = command.Command(case_id=case_id, trigger=action, actor=actor, form=form, task_id=task_id,
                          if_match=parse_if_match(if_match), idempotency_key=idempotency_key)
    status, data = await run_in_threadpool(command.fire, db, cmd, detail_responder(actor))
    committed(request, data, action)
    return reply(status, data)
