"""What anyone may read or lodge without an account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from services.api.body import json_object
from services.api.deps import DbDep, IdemKey, fire_public
from services.engine.command import Outcome
from services.engine.errors import NotFound
from services.queries.cases import notice_view
from services.store.tables import Notice, Project

router = APIRouter(prefix="/api/v1/public", tags=["public"])


@router.get("/publicity", summary="Publicity notices (open ones first)")
def notices(db: DbDep, jurisdiction: str | None = None, status: str | None = None) -> dict[str, Any]:
    with db.read() as session:
        q = select(Notice).where(Notice.kind == "publicity").order_by(Notice.status.desc(),  # type: ignore[attr-defined]
                                                                      Notice.closes_at)
        if jurisdiction:
            q = q.where(Notice.jurisdiction == jurisdiction)
        if status:
            q = q.where(Notice.status == status)
        return {"items": [notice_view(n) for n in session.exec(q.limit(200))]}


def _objection_receipt(session: Session, outcome: Outcome) -> tuple[int, dict[str, Any]]:
    return 201, {"receipt": outcome.extra["receipt"], "case_id": outcome.case.id,
                 "message": {"zh": "异议已受理，我们将依法处理", "en": "Your objection has been received"}}


@router.post("/publicity/{case_id}/objections", status_code=201, summary="Lodge an objection during publicity")
async def lodge_objection(case_id: int, request: Request, db: DbDep, idempotency_key: IdemKey = None
                          ) -> JSONResponse:
    body = await json_object(request)
    with db.read() as session:
        open_notice = session.exec(select(Notice).where(Notice.case_id == case_id, Notice.kind == "publicity",
                                                        Notice.status == "open")).first()
    if open_notice is None:
        raise NotFound.of("正在公示的公告", "An open publicity notice")
    return await fire_public(request, case_id, "lodge_objection", body, _objection_receipt, idempotency_key)


@router.get("/projects", summary="The registry of registered and disclosed projects and scenarios")
def registry(db: DbDep, jurisdiction: str | None = None) -> dict[str, Any]:
    with db.read() as session:
        q = select(Project).where(Project.status.in_(("registered", "disclosed", "revoked")))  # type: ignore[attr-defined]
        if jurisdiction:
            q = q.where(Project.jurisdiction == jurisdiction)
        rows = session.exec(q.order_by(Project.id).limit(500))
        return {"items": [{"id": p.id, "jurisdiction": p.jurisdiction, "kind": p.kind, "title": p.title,
                           "status": p.status, "suspended": p.suspended, "project_class": p.project_class,
                           "record": f"/api/v1/public/projects/{p.id}",
                           "registration_number": p.registration_number,
                           "registered_at": p.registered_at.isoformat() if p.registered_at else None}
                          for p in rows]}
