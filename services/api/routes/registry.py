"""The public registry of methodologies and the public consultations (no account needed)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, select

from services.api.body import json_object
from services.api.deps import DbDep, IdemKey, fire_public
from services.api.routes.documents import send
from services.engine.command import Outcome
from services.engine.errors import Conflict, NotFound
from services.procedures import documents
from services.queries.cases import notice_view
from services.store.tables import AuditEvent, Comment, MethodologyVersion, Notice
from states.messages import label, reason

router = APIRouter(prefix="/api/v1/public", tags=["public"])
PUBLISHED = ("filed", "superseded")
# Filing-history events the public may see (never payloads: they hold internal opinions).
PUBLIC_EVENTS = ("submit", "accept", "pass_review", "panel_pass", "comment_period_end", "disposition_done",
                 "approve", "publicity_end", "dismiss_objections")


def version_view(m: MethodologyVersion) -> dict[str, Any]:
    return {"id": m.id, "jurisdiction": m.jurisdiction, "code": m.code, "version": m.version, "title": m.title,
            "kind": m.kind, "tier": m.tier, "scope": m.scope, "status": m.status,
            "filed_on": m.filed_on.isoformat() if m.filed_on else None,
            "superseded_on": m.superseded_on.isoformat() if m.superseded_on else None,
            "superseded_by": m.superseded_by, "grace_until": m.grace_until.isoformat() if m.grace_until else None}


@router.get("/methodologies", summary="Filed and superseded methodology versions")
def methodologies(db: DbDep, jurisdiction: str | None = None, kind: str | None = None, tier: str | None = None,
                  status: Annotated[str | None, Query(pattern="^(filed|superseded)$")] = None,
                  code: str | None = None) -> dict[str, Any]:
    with db.read() as session:
        q = select(MethodologyVersion).where(MethodologyVersion.status.in_(  # type: ignore[attr-defined]
            (status,) if status else PUBLISHED))
        for column, value in ((MethodologyVersion.jurisdiction, jurisdiction), (MethodologyVersion.kind, kind),
                              (MethodologyVersion.tier, tier), (MethodologyVersion.code, code)):
            if value:
                q = q.where(column == value)
        rows = session.exec(q.order_by(MethodologyVersion.jurisdiction, MethodologyVersion.code,
                                       MethodologyVersion.version).limit(500))
        return {"items": [version_view(m) for m in rows]}


def _published(session: Session, version_id: int) -> MethodologyVersion:
    m = session.get(MethodologyVersion, version_id)
    if m is None or m.status not in PUBLISHED:
        raise NotFound.of("方法学", "Methodology")
    return m


@router.get("/methodologies/{version_id}", summary="A version: parameters, documents, filing history")
def methodology(version_id: int, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        m = _published(session, version_id)
        docs = [documents.view(d) for d in documents.public_of_version(session, m.id)]
        history = []
        if m.case_id:
            history = [{"at": e.at.isoformat(), "event": e.event, "label": label(f"trigger.{e.event}"),
                        "to_state": e.to_state}
                       for e in session.exec(select(AuditEvent).where(
                           AuditEvent.stream == f"case:{m.case_id}",
                           AuditEvent.event.in_(PUBLIC_EVENTS)).order_by(AuditEvent.seq))]  # type: ignore[attr-defined]
        if m.superseded_on:
            history.append({"at": m.superseded_on.isoformat(), "event": "superseded",
                            "label": {"zh": f"被 {m.superseded_by} 替代", "en": f"superseded by {m.superseded_by}"},
                            "to_state": "superseded"})
        return {**version_view(m), "summary": m.summary, "parameters": m.parameters, "documents": docs,
                "history": history}


@router.get("/methodologies/{version_id}/documents/{document_id}")
def methodology_document(version_id: int, document_id: int, db: DbDep) -> Response:
    with db.read() as session:
        _published(session, version_id)
        return send(documents.public_document(session, version_id, document_id))


@router.get("/consultations", summary="Public consultations on methodologies (open first)")
def consultations(db: DbDep, jurisdiction: str | None = None) -> dict[str, Any]:
    with db.read() as session:
        q = select(Notice).where(Notice.kind == "consultation")
        if jurisdiction:
            q = q.where(Notice.jurisdiction == jurisdiction)
        rows = session.exec(q.order_by(Notice.status.desc(), Notice.closes_at).limit(200))  # type: ignore[attr-defined]
        return {"items": [{**notice_view(n), "comments_href": f"/api/v1/public/consultations/{n.case_id}/comments"}
                          for n in rows]}


@router.get("/consultations/{case_id}", summary="A consultation: its period, and comments with published answers")
def consultation(case_id: int, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        notice = session.exec(select(Notice).where(Notice.case_id == case_id, Notice.kind == "consultation")
                              .order_by(Notice.id.desc())).first()  # type: ignore[union-attr]
        if notice is None:
            raise NotFound.of("征求意见", "Consultation")
        rows = session.exec(select(Comment).where(Comment.case_id == case_id).order_by(Comment.id))
        # Contacts are never published; answers only once the review centre has disposed of them all.
        return {**notice_view(notice), "comments": [
            {"id": c.id, "name": c.name, "organisation": c.organisation, "text": c.text,
             "received_at": c.received_at.isoformat(),
             "answer": c.answer if c.published else None,
             "disposition": c.disposition if c.published else None} for c in rows]}


def _comment_receipt(session: Session, outcome: Outcome) -> tuple[int, dict[str, Any]]:
    return 201, {"comment_id": outcome.extra["comment_id"], "case_id": outcome.case.id,
                 "message": {"zh": "意见已收到，答复将在意见处理完毕后公开", "en": "Received; answers are published "
                             "once every comment has been disposed of"}}


@router.post("/consultations/{case_id}/comments", status_code=201, summary="Comment during the consultation")
async def comment(case_id: int, request: Request, db: DbDep, idempotency_key: IdemKey = None) -> JSONResponse:
    body = await json_object(request)
    with db.read() as session:
        open_notice = session.exec(select(Notice).where(Notice.case_id == case_id, Notice.kind == "consultation",
                                                        Notice.status == "open")).first()
    if open_notice is None:
        raise Conflict([reason("consultation_closed")])
    return await fire_public(request, case_id, "comment", body, _comment_receipt, idempotency_key)
