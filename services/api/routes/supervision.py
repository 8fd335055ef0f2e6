"""Supervision: tracking evaluations; public reports (举报) and their confidential follow-up;
public disclosure of projects' status and notices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel import select

from forms.supervision import PublicReport, TrackingEvaluation
from services.api.body import json_object
from services.api.deps import ActorDep, DbDep, IdemKey
from services.engine.actors import public_actor
from services.engine.errors import Invalid, NotFound
from services.engine.forms_errors import reasons_from_validation
from services.procedures import reports, supervision
from services.queries.cases import notice_view
from services.store.tables import AuditEvent, Case, Evaluation, Notice, Project
from states.messages import label, reason
from states.profiles import get_profile

router = APIRouter(prefix="/api/v1", tags=["supervision"])


@router.post("/projects/{project_id}/evaluations", status_code=201,
             summary="Record a tracking evaluation; a finding needing action opens a rectification")
def evaluate(project_id: int, body: TrackingEvaluation, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
             ) -> dict[str, Any]:
    return supervision.record_evaluation(db, project_id, actor, body.summary,
                                         [f.model_dump(mode="json") for f in body.findings], idempotency_key)


@router.get("/projects/{project_id}/evaluations", summary="A project's tracking evaluations (staff)")
def evaluations(project_id: int, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        project = session.get(Project, project_id)
        if project is None or not any(actor.holds(r, project.jurisdiction)
                                      for r in ("case_officer", "operator", "approver", "admin")):
            raise NotFound.of("项目", "Project")
        rows = session.exec(select(Evaluation).where(Evaluation.project_id == project_id).order_by(Evaluation.id))
        return {"items": [{"id": e.id, "at": e.at.isoformat(), "role": e.role, "summary": e.summary,
                           "findings": e.findings, "rectification_case_id": e.rectification_case_id} for e in rows]}


@router.post("/public/reports", status_code=201, summary="Report misconduct (举报), no account needed")
async def lodge_report(request: Request, db: DbDep, idempotency_key: IdemKey = None) -> dict[str, Any]:
    body = await json_object(request)
    jurisdiction = body.pop("jurisdiction", None)
    reasons = []
    if not isinstance(jurisdiction, str) or get_profile(jurisdiction) is None:
        reasons.append(reason("unknown_jurisdiction", field="jurisdiction", code=str(jurisdiction)))
    try:
        form = PublicReport.model_validate(body)
    except ValidationError as exc:
        reasons.extend(reasons_from_validation(exc))
    if reasons:
        raise Invalid(reasons)
    caller = public_actor(request.client.host if request.client else None)
    result = await run_in_threadpool(reports.lodge_report, db, jurisdiction, form, caller, idempotency_key)
    return {**result, "message": {"zh": "举报已受理。请妥善保存受理号和查询码，我们将为您保密",
                                  "en": "Received. Keep the receipt and the secret; your identity is kept confidential"},
            "check": f"/api/v1/public/reports/{result['receipt']}"}


@router.get("/public/reports/{receipt}", summary="Follow a report: its status and the feedback, nothing internal")
def check_report(receipt: str, request: Request, db: DbDep,
                 secret: Annotated[str, Header(alias="X-Report-Secret", max_length=100)] = "") -> dict[str, Any]:
    client = request.client.host if request.client else "unknown"
    return reports.check_report(db, receipt[:40], secret, client)


@router.post("/cases/{case_id}/reporter",
             summary="Read a report's reporter (an assigned handler only; the read is an audit event)")
def read_reporter(case_id: int, actor: ActorDep, db: DbDep) -> JSONResponse:
    identity = reports.read_reporter(db, case_id, actor)
    return JSONResponse(identity, headers={"Cache-Control": "no-store"})


@router.get("/public/notices", summary="Public notices: publicity, consultation, suspension, revocation")
def notices(db: DbDep, jurisdiction: str | None = None, kind: str | None = None) -> dict[str, Any]:
    with db.read() as session:
        q = select(Notice)
        if jurisdiction:
            q = q.where(Notice.jurisdiction == jurisdiction)
        if kind:
            q = q.where(Notice.kind == kind)
        return {"items": [{**notice_view(n), "kind": n.kind} for n in
                          session.exec(q.order_by(Notice.id.desc()).limit(300))]}


PUBLIC_HISTORY = ("publicity_end", "dismiss_objections", "issue_notice", "accept_report", "deadline_passed",
                  "revoke", "disclose")


@router.get("/public/projects/{project_id}", summary="A project's public record: status and its history")
def project_record(project_id: int, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        p = session.get(Project, project_id)
        if p is None or p.status not in ("registered", "disclosed", "revoked"):
            raise NotFound.of("项目", "Project")
        cases = {c.id: c for c in session.exec(select(Case).where(Case.project_id == project_id))}
        events = session.exec(select(AuditEvent).where(AuditEvent.case_id.in_(list(cases)),  # type: ignore[attr-defined]
                                                       AuditEvent.event.in_(PUBLIC_HISTORY))  # type: ignore[attr-defined]
                               .order_by(AuditEvent.at))
        history = [{"at": e.at.isoformat(), "procedure": cases[e.case_id].procedure, "event": e.event,
                    "label": label(f"trigger.{e.event}"), "to_state": e.to_state} for e in events]
        notices_ = session.exec(select(Notice).where(Notice.case_id.in_(list(cases))))  # type: ignore[attr-defined]
        return {"id": p.id, "jurisdiction": p.jurisdiction, "title": p.title, "kind": p.kind, "status": p.status,
                "suspended": p.suspended, "registration_number": p.registration_number, "history": history,
                "notices": [{**notice_view(n), "kind": n.kind} for n in notices_]}


@router.get("/public/revenue-audits", summary="Beijing class-1 projects' revenue-use audits (published)")
def revenue_audits(db: DbDep, jurisdiction: str | None = None) -> dict[str, Any]:
    with db.read() as session:
        q = select(Case, Project).join(Project, Project.id == Case.project_id).where(
            Case.procedure == "revenue_audit")
        if jurisdiction:
            q = q.where(Case.jurisdiction == jurisdiction)
        return {"items": [{"project_id": p.id, "registration_number": p.registration_number, "project": p.title,
                           "year": c.vintage, "state": {"name": c.state, **label(f"state.{c.state}")},
                           "returned_share": c.application.get("returned_share"),
                           "audit": {k: v for k, v in (c.application.get("audit") or {}).items()
                                     if k != "report_sha256"} or None}
                          for c, p in session.exec(q.order_by(Case.id))]}
