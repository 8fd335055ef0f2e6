"""What anyone may read or lodge without an account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from forms.registration import Objection
from services.api.body import json_object
from services.api.deps import DbDep, IdemKey, fire_public
from services.api.responses import errors, json_body
from services.engine.command import Outcome
from services.procedures import objection_receipts
from services.queries import registry
from services.queries.registry import NoticeList, ObjectionReceipt, ObjectionStatus, ProjectList
from services.queries.schemas import Bilingual, not_found
from services.store.tables import Notice
from states.messages import label

router = APIRouter(prefix="/api/v1/public", tags=["public"])


@router.get("/publicity", summary="Publicity notices (open ones first)", responses=errors(422))
def notices(db: DbDep, jurisdiction: str | None = None, status: str | None = None) -> NoticeList:
    with db.read() as session:
        return registry.publicity_notices(session, jurisdiction, status)


def _objection_receipt(session: Session, outcome: Outcome) -> tuple[int, dict[str, Any]]:
    return 201, ObjectionReceipt(receipt=outcome.extra["receipt"], case_id=outcome.case.id,
                                 check=f"/api/v1/public/objections/{outcome.extra['receipt']}",
                                 message=Bilingual(**label("message.objection_received"))).model_dump(mode="json")


@router.post("/publicity/{case_id}/objections", status_code=201, summary="Lodge an objection during publicity",
             response_model=ObjectionReceipt, responses=errors(404, 409, 413, 422),
             openapi_extra=json_body("The objection", Objection.model_json_schema()))
async def lodge_objection(case_id: int, request: Request, db: DbDep, idempotency_key: IdemKey = None
                          ) -> JSONResponse:
    body = await json_object(request)
    with db.read() as session:
        open_notice = session.exec(select(Notice).where(Notice.case_id == case_id, Notice.kind == "publicity",
                                                        Notice.status == "open")).first()
    if open_notice is None:
        raise not_found("open_publicity")
    return await fire_public(request, case_id, "lodge_objection", body, _objection_receipt, idempotency_key)


@router.get("/objections/{receipt}", summary="Follow an objection by its receipt: its status and where the case "
            "stands, nothing about anyone", response_model=ObjectionStatus, responses=errors(404, 422, 429))
def check_objection(receipt: str, request: Request, db: DbDep) -> ObjectionStatus:
    client = request.client.host if request.client else "unknown"
    return ObjectionStatus.model_validate(objection_receipts.check_objection(db, receipt, client))


@router.get("/projects", summary="The registry of registered and disclosed projects and scenarios",
            responses=errors(422))
def projects(db: DbDep, jurisdiction: str | None = None) -> ProjectList:
    with db.read() as session:
        return registry.projects(session, jurisdiction)
