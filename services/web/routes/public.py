"""The public's pages, no sign-in: publicity notices with the objection form, consultations with the
comment form, the registry (methodologies, projects, issuances, retirements), certificate verification,
the transparency log (its signed head and a check of a kept one), and reports (举报) with their receipt
and a way to follow them.

Reads call the read models the API answers with (`services.queries`), and commands the API's service
calls (`command.fire` as the public actor, `reports.lodge_report` / `check_report`), with the same
pydantic forms, so the pages and the API cannot disagree. Posted forms carry the public double-submit CSRF token.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from forms.methodology import PublicComment
from forms.registration import Objection
from forms.supervision import PublicReport
from services.api.deps import committed, get_db
from services.engine import command
from services.engine.actors import public_actor
from services.engine.errors import CommandError, NotFound
from services.engine.forms_errors import reasons_from_validation
from services.procedures import objection_receipts, reports
from services.procedures.certificates import fingerprint
from services.procedures.issuance import certificate_data
from services.queries import registry as reads
from services.queries.cases import form_schema, notice_view
from services.queries.schemas import plain
from services.queries.transparency import key_view
from services.store.tables import Case, Certificate, MethodologyVersion, Notice, Organisation, Project
from services.transparency import keys
from services.transparency import log as transparency_log
from services.web.actions import posted_strings
from services.web.deps import CheckedForm, form_key, maybe_signed
from services.web.pages import lang_of, render
from services.web.schema_forms import fields, read_back
from states.messages import Reason, reason, text
from states.profiles import all_profiles, get_profile

# Who is signed in, if anyone: the header shows them, and their forms carry the session's CSRF token.
router = APIRouter(include_in_schema=False, dependencies=[Depends(maybe_signed)])

Code = Annotated[str | None, Query(max_length=8)]
# What a publicity notice shows of the application it publishes: never contacts, commitments or opinions.
PUBLISHED_FIELDS = ("kind", "location", "methodology_code", "methodology_version", "project_class", "start_date",
                    "expected_annual_reduction_tco2e", "code", "version", "tier", "scope")
# What each public form's fields are for, in both languages (the schemas' descriptions are English only):
# the catalogue's `help.*` entry for each field.
HELP: dict[str, dict[str, str]] = {
    "objection": {"contact": "help.private", "text": "help.objection_text"},
    "comment": {"name": "help.published_optional", "organisation": "help.published_optional",
                "contact": "help.private", "text": "help.comment_text"},
    "report": {"subject": "help.report_subject", "project_id": "help.report_project_id",
               "content": "help.report_content", "name": "help.confidential", "contact": "help.confidential"},
}
CERT_NUMBER = re.compile(r"^[A-Z]{2,4}-RET-\d{4}-\d{6}$")
CERT_CODE = re.compile(r"^[0-9a-f]{8,64}$")


def _read(db: Any, query: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """A registry read model, the same the API answers, as the dicts the templates read."""
    with db.read() as session:
        return plain(query(session, *args, **kwargs))


def jurisdictions() -> list[tuple[str, str, str]]:
    return [(code, p.name_zh, p.name_en) for code, p in all_profiles().items()]


def page(request: Request, template: str, status_code: int = 200, **ctx: Any) -> Response:
    return render(request, template, status_code=status_code, jurisdictions=jurisdictions(), **ctx)


def private(response: Response) -> Response:
    """A receipt's secret or a report's status must not linger in caches or the back button."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _drawn(request: Request, form: type[BaseModel], helps: str, values: dict[str, Any] | None,
           reasons: list[Reason] | None) -> tuple[list[Any], list[Reason]]:
    """The form's fields with their values and reasons, and what each is for in the page's language."""
    drawn, loose = fields(form_schema(form), values, reasons)
    lang = lang_of(request)
    for f in drawn:
        key = HELP[helps].get(f.name)
        f.help = text(key).said_in(lang) if key else ""
    return drawn, loose


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _fire_public(request: Request, case_id: int, trigger: str, schema_form: type[BaseModel],
                       posted: dict[str, str], respond: Any, key: str | None
                       ) -> tuple[dict[str, Any] | None, list[Reason], int]:
    """A public command from a posted form: its result, or the reasons and the status to re-render with.
    The form's one-off key makes a double submission replay the first receipt instead of lodging twice."""
    data, problems = read_back(form_schema(schema_form), posted)
    if problems:
        return None, problems, 422
    cmd = command.Command(case_id=case_id, trigger=trigger, actor=public_actor(_client(request)), form=data,
                        idempotency_key=key)
    try:
        _, body = await run_in_threadpool(command.fire, get_db(request), cmd, respond)
    except CommandError as exc:
        if exc.status == 404:
            raise
        return None, exc.reasons, exc.status
    committed(request, None, trigger)
    return body, [], 201


# --- publicity notices and consultations --------------------------------------------------------


@router.get("/public")
def notices(request: Request, jurisdiction: Code = None, closed: Literal["", "1"] = "") -> Response:
    db = get_db(request)
    status = "closed" if closed else "open"
    publicity = _read(db, reads.publicity_notices, jurisdiction or None, status)["items"]
    consultations = [c for c in _read(db, reads.consultations, jurisdiction or None)["items"] if c["status"] == status]
    return page(request, "public/notices.html", publicity=publicity, consultations=consultations,
                jurisdiction=jurisdiction or "", closed=bool(closed))


def _subject(session: Session, case: Case) -> dict[str, Any]:
    org = session.get(Organisation, case.applicant_org_id) if case.applicant_org_id else None
    shown = {k: case.application[k] for k in PUBLISHED_FIELDS if case.application.get(k) not in (None, "", [])}
    # the public reads the methodology by its title, not its code alone
    title = session.exec(select(col(MethodologyVersion.title)).where(
        col(MethodologyVersion.jurisdiction) == case.jurisdiction,
        col(MethodologyVersion.code) == shown.get("methodology_code"),
        col(MethodologyVersion.version) == str(shown.get("methodology_version", "")))).first()
    return {"methodology_title": title or "",
            "procedure": case.procedure, "title": case.application.get("title", ""), "vintage": case.vintage,
            "applicant": org.name if org else "", "fields": shown}


def _latest(session: Session, case_id: int, kind: str) -> tuple[Notice, Case]:
    notice = session.exec(select(Notice).where(col(Notice.case_id) == case_id, col(Notice.kind) == kind)
                          .order_by(col(Notice.status).desc(), col(Notice.id).desc())).first()
    if notice is None:
        raise NotFound.of("notice" if kind == "publicity" else "consultation")
    # the ignore below: the notice names its case (a foreign key): the case exists
    return notice, session.get(Case, case_id)  # type: ignore[return-value]


def _notice_page(request: Request, case_id: int, status_code: int = 200, values: dict[str, Any] | None = None,
                 reasons: list[Reason] | None = None, receipt: dict[str, Any] | None = None) -> Response:
    with get_db(request).read() as session:
        notice, case = _latest(session, case_id, "publicity")
        subject = _subject(session, case)
        view = plain(notice_view(notice))
    drawn, loose = _drawn(request, Objection, "objection", values, reasons)
    return page(request, "public/notice.html", status_code=status_code, notice=view, subject=subject,
                fields=drawn, loose=loose, receipt=receipt)


@router.get("/public/notices/{case_id}")
def notice_page(case_id: int, request: Request) -> Response:
    return _notice_page(request, case_id)


def _objection_receipt(session: Session, outcome: command.Outcome) -> tuple[int, dict[str, Any]]:
    return 201, {"receipt": outcome.extra["receipt"]}


@router.post("/public/notices/{case_id}/objections")
async def lodge_objection(case_id: int, request: Request, form: CheckedForm) -> Response:
    posted = posted_strings(form)
    with get_db(request).read() as session:
        notice, _ = _latest(session, case_id, "publicity")
    if notice.status != "open":
        return _notice_page(request, case_id, 409, posted, [reason("publicity_closed")])
    body, problems, status = await _fire_public(request, case_id, "lodge_objection", Objection, posted,
                                                _objection_receipt, form_key(form))
    if body is None:
        return _notice_page(request, case_id, status, posted, problems)
    return _notice_page(request, case_id, 201, receipt=body)


def _consultation_page(request: Request, case_id: int, status_code: int = 200,
                       values: dict[str, Any] | None = None, reasons: list[Reason] | None = None,
                       receipt: dict[str, Any] | None = None) -> Response:
    db = get_db(request)
    consultation = _read(db, reads.consultation, case_id)
    with db.read() as session:
        _, case = _latest(session, case_id, "consultation")
        subject = _subject(session, case)
        subject["summary"] = case.application.get("summary", "")
    drawn, loose = _drawn(request, PublicComment, "comment", values, reasons)
    return page(request, "public/consultation.html", status_code=status_code, consultation=consultation,
                subject=subject, fields=drawn, loose=loose, receipt=receipt)


@router.get("/public/consultations/{case_id}")
def consultation_page(case_id: int, request: Request) -> Response:
    return _consultation_page(request, case_id)


def _comment_receipt(session: Session, outcome: command.Outcome) -> tuple[int, dict[str, Any]]:
    return 201, {"comment_id": outcome.extra["comment_id"]}


@router.post("/public/consultations/{case_id}/comments")
async def comment(case_id: int, request: Request, form: CheckedForm) -> Response:
    posted = posted_strings(form)
    with get_db(request).read() as session:
        notice, _ = _latest(session, case_id, "consultation")
    if notice.status != "open":
        return _consultation_page(request, case_id, 409, posted, [reason("consultation_closed")])
    body, problems, status = await _fire_public(request, case_id, "comment", PublicComment, posted, _comment_receipt,
                                                form_key(form))
    if body is None:
        return _consultation_page(request, case_id, status, posted, problems)
    return _consultation_page(request, case_id, 201, receipt=body)


# --- the registry ----------------------------------------------------------------------------------


@router.get("/public/registry")
def registry(request: Request) -> Response:
    db = get_db(request)
    methodologies = _read(db, reads.methodologies, status="filed")["items"]
    projects = _read(db, reads.projects)["items"]
    issued = _read(db, reads.issuances)["items"]
    retired = _read(db, reads.retirements)["items"]
    totals = {"methodologies": len(methodologies), "projects": sum(p["status"] != "revoked" for p in projects),
              "issued": sum(i["amount_tco2e"] for i in issued), "retired": sum(r["amount_tco2e"] for r in retired)}
    return page(request, "public/registry.html", totals=totals)


@router.get("/public/registry/methodologies")
def methodologies(request: Request, jurisdiction: Code = None,
                  status: Literal["", "filed", "superseded"] = "",
                  kind: Literal["", "project", "scenario"] = "") -> Response:
    items = _read(get_db(request), reads.methodologies, jurisdiction=jurisdiction or None, kind=kind or None,
                  status=status or None)["items"]
    return page(request, "public/methodologies.html", items=items, jurisdiction=jurisdiction or "", status=status,
                kind=kind)


@router.get("/public/registry/methodologies/{version_id}")
def methodology(version_id: int, request: Request) -> Response:
    return page(request, "public/methodology.html", m=_read(get_db(request), reads.methodology, version_id))


@router.get("/public/registry/projects")
def projects(request: Request, jurisdiction: Code = None) -> Response:
    items = _read(get_db(request), reads.projects, jurisdiction or None)["items"]
    return page(request, "public/projects.html", items=items, jurisdiction=jurisdiction or "")


@router.get("/public/registry/projects/{project_id}")
def project(project_id: int, request: Request) -> Response:
    db = get_db(request)
    record = _read(db, reads.project_record, project_id)
    issued = _read(db, reads.issuances, project_id=project_id)["items"]
    return page(request, "public/project.html", p=record, issued=issued)


@router.get("/public/registry/issuances")
def issuances(request: Request, jurisdiction: Code = None, vintage: Annotated[str, Query(pattern=r"^(\d{4})?$")] = ""
              ) -> Response:
    year = int(vintage) if vintage else None  # the filter form sends an empty year for "all years"
    items = _read(get_db(request), reads.issuances, jurisdiction=jurisdiction or None, vintage=year)["items"]
    return page(request, "public/issuances.html", items=items, jurisdiction=jurisdiction or "", vintage=year)


@router.get("/public/registry/retirements")
def retirements(request: Request, jurisdiction: Code = None) -> Response:
    items = _read(get_db(request), reads.retirements, jurisdiction=jurisdiction or None)["items"]
    return page(request, "public/retirements.html", items=items, jurisdiction=jurisdiction or "")


@router.get("/public/registry/operation-reports")
def operation_reports(request: Request, jurisdiction: Code = None) -> Response:
    """Beijing: class-2 projects' revenue-management plans and how they ran, year by year."""
    items = _read(get_db(request), reads.operation_reports, jurisdiction or None)["items"]
    return page(request, "public/operation_reports.html", items=items, jurisdiction=jurisdiction or "")


@router.get("/public/registry/disqualifications")
def disqualifications(request: Request, jurisdiction: Code = None) -> Response:
    """Jiaxing art. 26: 取消参与碳普惠市场的资格……并予以公开通报 — who, where, since when and why."""
    items = _read(get_db(request), reads.disqualifications, jurisdiction or None)["items"]
    return page(request, "public/disqualifications.html", items=items, jurisdiction=jurisdiction or "")


# --- certificate verification -----------------------------------------------------------------------


def verify_certificate(db: Any, number: str, code: str) -> tuple[dict[str, Any] | None, list[Reason]]:
    """The registry's record of the certificate, when it exists, its stored data still hashes to its
    fingerprint, and the code typed (the fingerprint printed on the paper, or its first characters)
    matches; otherwise why it is not valid."""
    try:
        record = _read(db, reads.certificate, number)
    except NotFound:
        return None, [reason("certificate_unknown", field="number")]
    with db.read() as session:
        cert = session.exec(select(Certificate).where(Certificate.number == number)).one()
        intact = fingerprint(certificate_data(cert)) == cert.fingerprint
    problems = []
    if not intact:
        problems.append(reason("certificate_altered"))
    if code and not record["fingerprint"].startswith(code):
        problems.append(reason("certificate_code", field="code"))
    return record, problems


@router.get("/public/certificates")
def certificates(request: Request, number: Annotated[str, Query(max_length=100)] = "",
                 code: Annotated[str, Query(max_length=100)] = "") -> Response:
    number, code = number.strip().upper(), code.strip().lower()
    values = {"number": number, "code": code}
    if not number and not code:
        return page(request, "public/certificates.html", values=values, record=None, reasons=[], checked=False)
    reasons = []
    if not CERT_NUMBER.match(number):
        reasons.append(reason("certificate_number", field="number"))
    if code and not CERT_CODE.match(code):
        reasons.append(reason("certificate_code_format", field="code"))
    if reasons:
        return page(request, "public/certificates.html", 422, values=values, record=None, reasons=reasons,
                    checked=False)
    record, reasons = verify_certificate(get_db(request), number, code)
    return page(request, "public/certificates.html", 404 if record is None else 200, values=values, record=record,
                reasons=reasons, checked=True)


# --- the transparency log ------------------------------------------------------------------------------


def _log_page(request: Request, status_code: int = 200, text: str = "", result: dict[str, Any] | None = None,
              reasons: list[Reason] | None = None) -> Response:
    with get_db(request).read() as session:
        head = transparency_log.latest(session)
        latest = transparency_log.head_view(head) if head else None
    ring = keys.keyring()
    key = plain(key_view(ring)) if ring.current else None
    return page(request, "public/log.html", status_code, latest=latest, key=key, text=text, result=result,
                reasons=reasons or [])


@router.get("/public/log")
def log_page(request: Request) -> Response:
    return _log_page(request)


@router.post("/public/log")
async def check_checkpoint(request: Request, form: CheckedForm) -> Response:
    """A kept checkpoint checked as the API's POST /api/v1/public/log/check does."""
    text = str(form.get("checkpoint") or "").replace("\r\n", "\n")[:4000]
    if not text.strip():
        return _log_page(request, 422, reasons=[reason("missing.checkpoint", field="checkpoint")])

    def check() -> dict[str, Any]:
        with get_db(request).read() as session:
            return transparency_log.check_old_head(session, text, keys.keyring())

    try:
        result = await run_in_threadpool(check)
    except CommandError as exc:
        return _log_page(request, exc.status, text, reasons=exc.reasons)
    return _log_page(request, 200, text, result=result)


# --- reports (举报) -----------------------------------------------------------------------------------


def _report_page(request: Request, status_code: int = 200, values: dict[str, Any] | None = None,
                 reasons: list[Reason] | None = None) -> Response:
    values = values or {}
    drawn, loose = _drawn(request, PublicReport, "report", values, reasons)
    where = [r for r in loose if r.field == "jurisdiction"]
    return page(request, "public/report.html", status_code=status_code, fields=drawn,
                loose=[r for r in loose if r.field != "jurisdiction"], where_errors=where,
                chosen=values.get("jurisdiction", ""))


@router.get("/public/report")
def report_form(request: Request, project_id: Annotated[str, Query(pattern=r"^\d{0,12}$")] = "",
                jurisdiction: Code = None) -> Response:
    values: dict[str, Any] = {"project_id": project_id, "jurisdiction": jurisdiction or ""}
    if project_id:  # "report this project" from its registry page: name it for the reporter
        with get_db(request).read() as session:
            p = session.get(Project, int(project_id))
            if p is not None and p.status in ("registered", "disclosed", "revoked"):
                values.update(jurisdiction=p.jurisdiction, subject=f"{p.registration_number or ''} {p.title}".strip())
    return _report_page(request, values=values)


@router.post("/public/report")
async def lodge_report(request: Request, form: CheckedForm) -> Response:
    posted = posted_strings(form)
    jurisdiction = posted.get("jurisdiction", "")
    data, reasons = read_back(form_schema(PublicReport), posted)
    if get_profile(jurisdiction) is None:
        reasons.append(reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction[:8]))
    try:
        report = PublicReport.model_validate(data)
    except ValidationError as exc:
        reasons.extend(reasons_from_validation(exc))
    if reasons:
        return _report_page(request, 422, posted, reasons)
    result = await run_in_threadpool(reports.lodge_report, get_db(request), jurisdiction, report,
                                     public_actor(_client(request)), form_key(form))
    return private(page(request, "public/report_receipt.html", 201, result=result))


def _check_page(request: Request, status_code: int = 200, receipt: str = "", result: dict[str, Any] | None = None,
                reasons: list[Reason] | None = None, retry_after: int | None = None) -> Response:
    limit = reports.CHECK_BY_RECEIPT_AT_ADDRESS
    response = page(request, "public/report_check.html", status_code, receipt=receipt, result=result,
                    reasons=reasons or [], limit=limit.failures, minutes=int(limit.window.total_seconds() // 60))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get("/public/report/check")
def report_check_form(request: Request) -> Response:
    return _check_page(request)


@router.post("/public/report/check")
async def report_check(request: Request, form: CheckedForm) -> Response:
    receipt = str(form.get("receipt") or "").strip().upper()[:40]
    secret = str(form.get("secret") or "").strip()[:100]
    missing = [reason("missing.receipt", field="receipt")] if not receipt else []
    missing += [reason("missing.secret", field="secret")] if not secret else []
    if missing:
        return _check_page(request, 422, receipt, reasons=missing)
    try:
        result = await run_in_threadpool(reports.check_report, get_db(request), receipt, secret,
                                         _client(request))
    except CommandError as exc:  # 404 (unknown receipt or wrong secret, told apart by no one) or 429
        return _check_page(request, exc.status, receipt, reasons=exc.reasons, retry_after=exc.extra.get("retry_after"))
    return private(_check_page(request, receipt=receipt, result=result))


# --- an objector follows their objection by its receipt -------------------------------------------------------


def _objection_check_page(request: Request, status_code: int = 200, receipt: str = "",
                          result: dict[str, Any] | None = None, reasons: list[Reason] | None = None,
                          retry_after: int | None = None) -> Response:
    limit = objection_receipts.CHECK_BY_ADDRESS
    response = page(request, "public/objection_check.html", status_code, receipt=receipt, result=result,
                    reasons=reasons or [], limit=limit.failures, minutes=int(limit.window.total_seconds() // 60))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return private(response)


@router.get("/public/objection/check")
def objection_check_form(request: Request) -> Response:
    return _objection_check_page(request)


@router.post("/public/objection/check")
async def objection_check(request: Request, form: CheckedForm) -> Response:
    receipt = objection_receipts.normalised(str(form.get("receipt") or ""))
    if not receipt:
        return _objection_check_page(request, 422, reasons=[reason("missing.receipt", field="receipt")])
    try:
        result = await run_in_threadpool(objection_receipts.check_objection, get_db(request), receipt,
                                         _client(request))
    except CommandError as exc:  # 404 (no such receipt) or 429 (too many wrong ones from here)
        return _objection_check_page(request, exc.status, receipt, reasons=exc.reasons,
                                     retry_after=exc.extra.get("retry_after"))
    return _objection_check_page(request, receipt=receipt, result=plain(reads.ObjectionStatus.model_validate(result)))
