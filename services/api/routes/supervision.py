"""Supervision: tracking evaluations; public reports (举报) and their confidential follow-up;
public disclosure of projects' status and notices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from forms.supervision import PublicReport, RevenueAuditRequest, TrackingEvaluation
from services.api.body import json_object
from services.api.deps import ActorDep, DbDep, IdemKey
from services.api.responses import errors, json_body
from services.engine.actors import public_actor
from services.engine.errors import Invalid
from services.engine.forms_errors import reasons_from_validation
from services.procedures import reports, supervision
from services.queries import registry
from services.queries import supervision as supervision_queries
from services.queries.registry import (
    DisqualificationList,
    KindNoticeList,
    OperationReportList,
    ProjectRecord,
    RevenueAuditList,
)
from services.queries.supervision import (
    EvaluationList,
    EvaluationRecorded,
    ProjectOversight,
    ReporterIdentity,
    ReportReceipt,
    ReportStatus,
    RevenueAuditOpened,
)
from states.messages import label, reason
from states.profiles import get_profile

router = APIRouter(prefix="/api/v1", tags=["supervision"])

REPORT = {**PublicReport.model_json_schema(), "title": "PublicReport with its jurisdiction"}
REPORT["properties"] = {"jurisdiction": {"type": "string", "description": "Where the report is lodged"},
                        **REPORT["properties"]}
REPORT["required"] = ["jurisdiction", *REPORT.get("required", [])]


@router.post("/projects/{project_id}/evaluations", status_code=201, response_model=EvaluationRecorded,
             summary="Record a tracking evaluation; a finding needing action opens a rectification",
             responses=errors(401, 403, 404, 409, 413, 422))
def evaluate(project_id: int, body: TrackingEvaluation, actor: ActorDep, db: DbDep, idempotency_key: IdemKey = None
             ) -> dict[str, Any]:
    return supervision.record_evaluation(db, project_id, actor, body.summary,
                                         [f.model_dump(mode="json") for f in body.findings], idempotency_key)


@router.post("/projects/{project_id}/revenue-audits", status_code=201, response_model=RevenueAuditOpened,
             summary="Open a year's revenue-use audit on demand: the developer when due, or an officer's request",
             responses=errors(401, 403, 404, 409, 413, 422))
def request_revenue_audit(project_id: int, body: RevenueAuditRequest, actor: ActorDep, db: DbDep,
                          idempotency_key: IdemKey = None) -> dict[str, Any]:
    return supervision.request_revenue_audit(db, project_id, actor, body.year, body.due_days, body.note,
                                             idempotency_key)


@router.get("/projects/{project_id}/oversight", summary="A project's supervision record for its owner and staff",
            responses=errors(401, 404, 422))
def oversight(project_id: int, actor: ActorDep, db: DbDep) -> ProjectOversight:
    with db.read() as session:
        return supervision_queries.project_oversight(session, actor, project_id)


@router.get("/projects/{project_id}/evaluations", summary="A project's tracking evaluations (staff)",
            responses=errors(401, 404, 422))
def evaluations(project_id: int, actor: ActorDep, db: DbDep) -> EvaluationList:
    with db.read() as session:
        return supervision_queries.evaluations(session, actor, project_id)


@router.post("/public/reports", status_code=201, summary="Report misconduct (举报), no account needed",
             response_model=ReportReceipt, responses=errors(409, 413, 422),
             openapi_extra=json_body("The report and the jurisdiction it is lodged in", REPORT))
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
    return {**result, "message": label("message.report_received"),
            "check": f"/api/v1/public/reports/{result['receipt']}"}


@router.get("/public/reports/{receipt}", summary="Follow a report: its status and the feedback, nothing internal",
            response_model=ReportStatus, responses=errors(404, 422, 429))
def check_report(receipt: str, request: Request, db: DbDep,
                 secret: Annotated[str, Header(alias="X-Report-Secret", max_length=100)] = "") -> dict[str, Any]:
    client = request.client.host if request.client else "unknown"
    return reports.check_report(db, receipt[:40], secret, client)


@router.post("/cases/{case_id}/reporter", response_model=ReporterIdentity,
             summary="Read a report's reporter (an assigned handler only; the read is an audit event)",
             responses=errors(401, 403, 404, 422))
def read_reporter(case_id: int, actor: ActorDep, db: DbDep, response: Response) -> dict[str, Any]:
    identity = reports.read_reporter(db, case_id, actor)
    response.headers["Cache-Control"] = "no-store"
    return identity


@router.get("/public/notices", summary="Public notices: publicity, consultation, suspension, revocation",
            responses=errors(422))
def notices(db: DbDep, jurisdiction: str | None = None, kind: str | None = None) -> KindNoticeList:
    with db.read() as session:
        return registry.notices(session, jurisdiction, kind)


@router.get("/public/projects/{project_id}", summary="A project's public record: status and its history",
            responses=errors(404, 422))
def project_record(project_id: int, db: DbDep) -> ProjectRecord:
    with db.read() as session:
        return registry.project_record(session, project_id)


@router.get("/public/disqualifications", summary="Organisations disqualified from a scheme (Jiaxing art. 26)",
            responses=errors(422))
def disqualifications(db: DbDep, jurisdiction: str | None = None) -> DisqualificationList:
    with db.read() as session:
        return registry.disqualifications(session, jurisdiction)


@router.get("/public/operation-reports", summary="Beijing class-2 projects' operation reports (plan and operation)",
            responses=errors(422))
def operation_reports(db: DbDep, jurisdiction: str | None = None, project_id: int | None = None
                      ) -> OperationReportList:
    with db.read() as session:
        return registry.operation_reports(session, jurisdiction, project_id)


@router.get("/public/revenue-audits", summary="Beijing class-1 projects' revenue-use audits (published)",
            responses=errors(422))
def revenue_audits(db: DbDep, jurisdiction: str | None = None) -> RevenueAuditList:
    with db.read() as session:
        return registry.revenue_audits(session, jurisdiction)
