"""Cases: open a draft, read one, fire an action, read the timeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from services.api.body import json_object
from services.api.deps import ActorDep, DbDep, IdemKey, committed, parse_if_match
from services.api.responses import errors, json_body
from services.engine import command, opening
from services.engine.actors import Actor
from services.engine.command import Command, Outcome
from services.queries import cases
from services.queries.cases import CaseActionPublic, CaseList, CasePublic, EventList

router = APIRouter(prefix="/api/v1", tags=["cases"])

ACTION_FORM = "The action's form (its JSON Schema is the action's `form_schema` in the case's `allowed_actions`)"


class NewCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    procedure: str = Field(max_length=40)
    jurisdiction: str = Field(max_length=8)
    application: dict[str, Any]


def reply(status: int, body: dict[str, Any]) -> JSONResponse:
    """A command's reply (stored JSON, the first reply on a retry), with the case's version as its ETag."""
    headers = {"ETag": f'"{body["version"]}"'} if "version" in body else {}
    return JSONResponse(body, status_code=status, headers=headers)


def detail_responder(actor: Actor, status: int = 200) -> Callable[[Session, Outcome], tuple[int, dict[str, Any]]]:
    def respond(session: Session, outcome: Outcome) -> tuple[int, dict[str, Any]]:
        return status, cases.action_reply(session, outcome, actor)
    return respond


@router.post("/cases", status_code=201, summary="Open a draft application", response_model=CaseActionPublic,
             responses=errors(401, 403, 409, 413, 422))
def create_case(body: NewCase, request: Request, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
                ) -> JSONResponse:
    status, data = opening.create(db, actor=actor, procedure_name=body.procedure, jurisdiction=body.jurisdiction,
                                application=body.application, respond=detail_responder(actor, 201),
                                idempotency_key=idempotency_key)
    committed(request, data, "create")
    return reply(status, data)


@router.get("/cases", summary="Cases I may see, newest first", responses=errors(401, 422))
def list_cases(actor: ActorDep, db: DbDep, state: str | None = None, jurisdiction: str | None = None,
               procedure: str | None = None, before: int | None = None,
               limit: Annotated[int, Query(ge=1, le=100)] = 20) -> CaseList:
    with db.read() as session:
        return cases.list_cases(session, actor, state=state, jurisdiction=jurisdiction, procedure_name=procedure,
                                before=before, limit=limit)


@router.get("/cases/{case_id}", summary="A case: state, my actions with their forms, tasks, timers, clock",
            responses=errors(401, 404, 422))
def read_case(case_id: int, actor: ActorDep, db: DbDep, response: Response) -> CasePublic:
    with db.read() as session:
        case = cases.read_case(session, actor, case_id)
    response.headers["ETag"] = f'"{case.version}"'
    return case


@router.post("/cases/{case_id}/actions/{trigger}", summary="Fire an action; the body is the action's form",
             response_model=CaseActionPublic, responses=errors(401, 403, 404, 409, 413, 422),
             openapi_extra=json_body(ACTION_FORM))
async def fire_action(case_id: int, trigger: str, request: Request, actor: ActorDep, db: DbDep,
                      if_match: Annotated[str | None, Header(alias="If-Match")] = None,
                      idempotency_key: IdemKey = None,
                      task_id: int | None = None) -> JSONResponse:
    form = await json_object(request)
    cmd = Command(case_id=case_id, trigger=trigger, actor=actor, form=form, if_match=parse_if_match(if_match),
                  idempotency_key=idempotency_key, task_id=task_id)
    status, body = await run_in_threadpool(command.fire, db, cmd, detail_responder(actor))
    committed(request, body, trigger)
    return reply(status, body)


@router.get("/cases/{case_id}/events", summary="The case's audit timeline", responses=errors(401, 404, 422))
def case_events(case_id: int, actor: ActorDep, db: DbDep) -> EventList:
    with db.read() as session:
        return cases.case_events(session, actor, case_id)
