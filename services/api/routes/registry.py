"""The public registry of methodologies and the public consultations (no account needed)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, select

from forms.methodology import PublicComment
from services.api.body import json_object
from services.api.deps import DbDep, IdemKey, fire_public
from services.api.responses import errors, file, json_body
from services.api.routes.documents import send
from services.engine.command import Outcome
from services.engine.errors import Conflict
from services.procedures import documents
from services.queries import registry
from services.queries.registry import (
    CommentReceipt,
    ConsultationList,
    ConsultationPublic,
    MethodologyDetail,
    MethodologyList,
)
from services.queries.schemas import Bilingual
from services.store.tables import Notice
from states.messages import label, reason

router = APIRouter(prefix="/api/v1/public", tags=["public"])


@router.get("/methodologies", summary="Filed and superseded methodology versions", responses=errors(422))
def methodologies(db: DbDep, jurisdiction: str | None = None, kind: str | None = None, tier: str | None = None,
                  status: Annotated[str | None, Query(pattern="^(filed|superseded)$")] = None,
                  code: str | None = None) -> MethodologyList:
    with db.read() as session:
        return registry.methodologies(session, jurisdiction=jurisdiction, kind=kind, tier=tier, status=status,
                                      code=code)


@router.get("/methodologies/{version_id}", summary="A version: parameters, documents, filing history",
            responses=errors(404, 422))
def methodology(version_id: int, db: DbDep) -> MethodologyDetail:
    with db.read() as session:
        return registry.methodology(session, version_id)


@router.get("/methodologies/{version_id}/documents/{document_id}", summary="Download a published document",
            response_class=Response, responses={**file(*documents.ACCEPTED, description="The document's bytes"),
                                                **errors(404, 422)})
def methodology_document(version_id: int, document_id: int, db: DbDep) -> Response:
    with db.read() as session:
        registry.published_version(session, version_id)
        return send(documents.public_document(session, version_id, document_id))


@router.get("/consultations", summary="Public consultations on methodologies (open first)", responses=errors(422))
def consultations(db: DbDep, jurisdiction: str | None = None) -> ConsultationList:
    with db.read() as session:
        return registry.consultations(session, jurisdiction)


@router.get("/consultations/{case_id}", summary="A consultation: its period, and comments with published answers",
            responses=errors(404, 422))
def consultation(case_id: int, db: DbDep) -> ConsultationPublic:
    with db.read() as session:
        return registry.consultation(session, case_id)


def _comment_receipt(session: Session, outcome: Outcome) -> tuple[int, dict[str, Any]]:
    return 201, CommentReceipt(comment_id=outcome.extra["comment_id"], case_id=outcome.case.id,
                               message=Bilingual(**label("message.comment_received"))).model_dump(mode="json")


@router.post("/consultations/{case_id}/comments", status_code=201, summary="Comment during the consultation",
             response_model=CommentReceipt, responses=errors(404, 409, 413, 422),
             openapi_extra=json_body("The comment", PublicComment.model_json_schema()))
async def comment(case_id: int, request: Request, db: DbDep, idempotency_key: IdemKey = None) -> JSONResponse:
    body = await json_object(request)
    with db.read() as session:
        open_notice = session.exec(select(Notice).where(Notice.case_id == case_id, Notice.kind == "consultation",
                                                        Notice.status == "open")).first()
    if open_notice is None:
        raise Conflict([reason("consultation_closed")])
    return await fire_public(request, case_id, "comment", body, _comment_receipt, idempotency_key)
