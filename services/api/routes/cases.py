"""Cases: open a draft, read one, fire an action, read the timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from services.api.body import json_object
from services.api.deps import ActorDep, DbDep, IdemKey, committed, parse_if_match
from services.engine import command, opening, visibility
from services.engine.actors import Actor
from services.engine.command import Command, Outcome
from services.procedures import documents
from services.queries.cases import case_detail, event_view
from services.store.tables import AuditEvent, Case

router = APIRouter(prefix="/api/v1", tags=["cases"])

class NewCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    procedure: str = Field(max_length=40)
    jurisdiction: str = Field(max_length=8)
    application: dict[str, Any]


def _reply(status: int, body: dict[str, Any]) -> JSONResponse:
    headers = {"ETag": f'"{body["version"]}"'} if "version" in body else {}
    return JSONResponse(body, status_code=status, headers=headers)


def _detail_responder(actor: Actor, status: int = 200):  # noqa: ANN202
    def respond(session: Session, outcome: Outcome) -> tuple[int, dict[str, Any]]:
        body = case_detail(session, outcome.case, actor)
        body["result"] = {"event_id": outcome.event_id, "moved": outcome.moved, **outcome.extra}
        return status, body
    return respond


@router.post("/cases", status_code=201, summary="Open a draft application")
def create_case(body: NewCase, request: Request, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
                ) -> JSONResponse:
    status, data = opening.create(db, actor=actor, procedure_name=body.procedure, jurisdiction=body.jurisdiction,
                                application=body.application, respond=_detail_responder(actor, 201),
                                idempotency_key=idempotency_key)
    committed(request, data, "create")
    return _reply(status, data)


@router.get("/cases", summary="Cases I may see, newest first")
def list_cases(actor: ActorDep, db: DbDep, state: str | None = None, jurisdiction: str | None = None,
               procedure: str | None = None, before: int | None = None,
               limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    with db.read() as session:
        q = select(Case).where(visibility.visible(actor)).order_by(Case.id.desc())  # type: ignore[union-attr]
        if state:
            q = q.where(Case.state == state)
        if jurisdiction:
            q = q.where(Case.jurisdiction == jurisdiction)
        if procedure:
            q = q.where(Case.procedure == procedure)
        if before:
            q = q.where(Case.id < before)
        rows = list(session.exec(q.limit(limit)))
        return {"items": [{"id": c.id, "procedure": c.procedure, "jurisdiction": c.jurisdiction, "state": c.state,
                           "title": c.application.get("title"), "version": c.version,
                           "updated_at": c.updated_at.isoformat()} for c in rows],
                "next_before": rows[-1].id if len(rows) == limit else None}


@router.get("/cases/{case_id}", summary="A case: state, my actions with their forms, tasks, timers, clock")
def read_case(case_id: int, actor: ActorDep, db: DbDep) -> JSONResponse:
    with db.read() as session:
        return _reply(200, case_detail(session, visibility.visible_case(session, actor, case_id), actor))


@router.post("/cases/{case_id}/actions/{trigger}", summary="Fire an action; the body is the action's form")
async def fire_action(case_id: int, trigger: str, request: Request, actor: ActorDep, db: DbDep,
                      if_match: Annotated[str | None, Header(alias="If-Match")] = None,
                      idempotency_key: IdemKey = None,
                      task_id: int | None = None) -> JSONResponse:
    form = await json_object(request)
    cmd = Command(case_id=case_id, trigger=trigger, actor=actor, form=form, if_match=parse_if_match(if_match),
                  idempotency_key=idempotency_key, task_id=task_id)
    status, body = await run_in_threadpool(command.fire, db, cmd, _detail_responder(actor))
    committed(request, body, trigger)
    return _reply(status, body)


@router.get("/cases/{case_id}/events", summary="The case's audit timeline")
def case_events(case_id: int, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        case = visibility.visible_case(session, actor, case_id)
        rows = list(session.exec(select(AuditEvent).where(AuditEvent.stream == f"case:{case_id}")
                                 .order_by(AuditEvent.seq)))
        return {"items": [event_view(e) for e in documents.visible_events(session, actor, case, rows)]}
