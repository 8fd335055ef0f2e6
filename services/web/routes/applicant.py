"""The applicant portal: my organisation, starting an application, drafts, submitting with the
jurisdiction's commitments, answering supplement and revision requests, my cases with their
deadlines, and my notices.

Commands go the API's way: `identity.register_organisation`, `opening.create`,
and the case's own actions (`edit`, `submit`, `resubmit`) through `services.engine.cases.fire`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select
from starlette.datastructures import FormData, UploadFile

from forms.organisation import OrganisationRegistration
from services.accounts import identity
from services.api.deps import committed, get_db
from services.engine import opening, statutory, visibility
from services.engine.actors import Actor
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.errors import CommandError, NotFound
from services.engine.forms_errors import reasons_from_validation
from services.engine.workdays import calendar
from services.procedures import documents
from services.queries import notifications
from services.queries.cases import case_detail, form_schema
from services.queries.schemas import plain
from services.store.tables import AuditEvent, Case, Organisation, Task, Timer, pk
from services.web.actions import Refused, fire_posted, posted_strings
from services.web.deps import CheckedForm, SignedIn, form_dict, form_key, wearing
from services.web.methodology_picker import CODE, chosen, citable, picked
from services.web.pages import lang_of, render
from services.web.routes.queue import working_days_left
from services.web.schema_forms import fields, read_back
from states.machine import ProcedureUnavailable, procedure
from states.messages import CATALOGUE, Reason, reason, text
from states.profiles import get_profile

router = APIRouter(include_in_schema=False)

OPENABLE = ("project_registration", "methodology_filing")
COMMITMENT = "commitment."  # a commitment's checkbox is named `commitment.<key>`
# The forms' descriptions are written for API users, in English: applicants get the catalogue's `help.<field>`
# in their language.
HELPED = ("expertise", "tier", "scope", "revises")


def _drawn(schema: dict[str, Any], lang: str, values: dict[str, Any] | None = None,
           reasons: list[Reason] | None = None) -> tuple[list[Any], list[Reason]]:
    out, loose = fields(schema, values, reasons)
    for f in out:
        if f.name in HELPED:
            f.help = text(f"help.{f.name}").said_in(lang)
    return out, loose


def procedures_in(jurisdiction: str) -> list[str]:
    """The procedures an applicant may start here (Jiaxing files projects with their first issuance)."""
    out = []
    for name in OPENABLE:
        try:
            procedure(name, jurisdiction)
        except ProcedureUnavailable:
            continue
        out.append(name)
    return out


def _unprefixed(reasons: list[Reason], prefix: str) -> list[Reason]:
    """Reasons about `application.title` belong beside the field `title` on these pages."""
    return [replace(r, field=r.field[len(prefix) + 1:]) if r.field and r.field.startswith(prefix + ".") else r
            for r in reasons]


# --- the home page: organisation, cases, notices ------------------------------------------------------------


def my_cases(session: Session, org_id: int, jurisdiction: str) -> list[dict[str, Any]]:
    """My organisation's cases, newest first, each with its open tasks' due days, timers and clock."""
    rows = list(session.exec(select(Case).where(Case.applicant_org_id == org_id, Case.jurisdiction == jurisdiction)
                             .order_by(col(Case.id).desc()).limit(100)))
    ids = [c.id for c in rows]
    tasks = list(session.exec(select(Task).where(col(Task.case_id).in_(ids), col(Task.status) == "open")
                              .order_by(col(Task.id)))) if ids else []
    timers = list(session.exec(select(Timer).where(col(Timer.case_id).in_(ids), col(Timer.status) == "pending")
                               .order_by(col(Timer.fire_at)))) if ids else []
    cal, now = calendar(session), clock.now()
    today, profile = local_date(now), get_profile(jurisdiction)
    out = []
    for case in rows:
        spec = procedure(case.procedure, case.jurisdiction)
        out.append({
            "id": case.id, "title": case.application.get("title") or case.application.get("code") or "",
            "procedure": case.procedure, "state": case.state, "terminal": spec.state(case.state).terminal,
            "tasks": [{"kind": t.kind, "role": t.role, "due_on": t.due_on, "provisional": t.due_provisional,
                       "mine": t.role == "applicant",
                       "days_left": working_days_left(cal, today, t.due_on, t.jurisdiction)}
                      for t in tasks if t.case_id == case.id],
            "timers": [{"action": tm.trigger, "fire_at": tm.fire_at, "provisional": tm.provisional}
                       for tm in timers if tm.case_id == case.id],
            "clock": statutory.summary(session, case, profile, cal, now) if profile else None,
        })
    # cases waiting on me (a supplement, a revision, a draft) first
    return sorted(out, key=lambda c: (not any(t["mine"] for t in c["tasks"]) and c["state"] != "draft",
                                      c["terminal"], -c["id"]))


def _home(request: Request, signed: Any, status: int = 200, **org_form: Any) -> Response:
    jurisdiction = wearing(signed, "applicant")
    actor: Actor = signed.actor
    with get_db(request).read() as session:
        org = session.get(Organisation, actor.org_id) if actor.org_id else None
        listing = my_cases(session, pk(org), jurisdiction) if org else []
        notices = notifications.recent(session, signed.user_id, 5)
        unread = notifications.unread(session, signed.user_id)
    values = org_form.get("values") or {}
    drawn, loose = fields(form_schema(OrganisationRegistration), values, org_form.get("reasons"))
    return render(request, "applicant.html", status_code=status, org=org, cases=listing, notices=notices,
                  unread=unread, procedures=procedures_in(jurisdiction), org_fields=drawn, org_loose=loose)


@router.get("/applicant")
def applicant_home(request: Request, signed: SignedIn) -> Response:
    return _home(request, signed)


@router.post("/applicant/organisation")
async def register(request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    wearing(signed, "applicant")
    posted = {k: v for k, v in form_dict(form).items() if isinstance(v, str)}
    values = {"uscc": posted.get("uscc", "").strip().upper(), "name": posted.get("name", "").strip()}
    try:
        body = OrganisationRegistration.model_validate(values)
        await run_in_threadpool(partial(identity.register_organisation, get_db(request), signed.actor,
                                        uscc=body.uscc, name=body.name, idempotency_key=form_key(form)))
    except ValidationError as exc:
        return _home(request, signed, 422, values=values, reasons=reasons_from_validation(exc))
    except CommandError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _home(request, signed, exc.status, values=values, reasons=exc.reasons)
    return RedirectResponse("/applicant?ok=registered", status_code=303)


# --- starting an application ---------------------------------------------------------------------------------


def _new_page(request: Request, jurisdiction: str, name: str, status: int = 200,
              values: dict[str, Any] | None = None, reasons: list[Reason] | None = None) -> Response:
    schema = for_jurisdiction(form_schema(procedure(name, jurisdiction).application), jurisdiction)
    drawn, loose = _drawn(schema, lang_of(request), values, reasons)
    with get_db(request).read() as session:
        drawn = picked(drawn, _citable(session, schema, jurisdiction), lang_of(request))
    return render(request, "applicant_new.html", status_code=status, procedure=name, fields=drawn, loose=loose,
                  procedures=procedures_in(jurisdiction))


@router.get("/applicant/new")
def new_application(request: Request, signed: SignedIn, procedure: str = "project_registration") -> Response:
    jurisdiction = wearing(signed, "applicant")
    name = procedure if procedure in procedures_in(jurisdiction) else None
    if name is None:
        raise NotFound.of("procedure")
    return _new_page(request, jurisdiction, name)


@router.post("/applicant/new")
async def create_application(request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    jurisdiction = wearing(signed, "applicant")
    posted = {k: v for k, v in form_dict(form).items() if isinstance(v, str)}
    name = posted.pop("procedure", "")
    posted = chosen(posted)
    if name not in procedures_in(jurisdiction):
        raise NotFound.of("procedure")
    schema = for_jurisdiction(form_schema(procedure(name, jurisdiction).application), jurisdiction)
    data, problems = read_back(schema, posted)
    if not problems:
        try:
            _, body = await run_in_threadpool(lambda: opening.create(
                get_db(request), actor=signed.actor, procedure_name=name, jurisdiction=jurisdiction,
                application=data, respond=lambda s, o: (201, {"id": o.case.id}), idempotency_key=form_key(form)))
        except CommandError as exc:
            if exc.status in (401, 403, 404):
                raise
            problems = _unprefixed(exc.reasons, "application")
        else:
            committed(request, None, "create")
            return RedirectResponse(f"/applicant/cases/{body['id']}?ok=created", status_code=303)
    return _new_page(request, jurisdiction, name, 422, posted, problems)


# --- one case: edit the draft, submit, answer requests -------------------------------------------------------


def _commitments(case: Case) -> list[tuple[str, tuple[str, str]]]:
    """The commitments the jurisdiction requires before a registration is submitted (the rule
    `commitments_given`); methodology filings carry none."""
    profile = get_profile(case.jurisdiction)
    if case.procedure != "project_registration" or profile is None:
        return []
    return [(k, CATALOGUE[f"commitment.{k}"]) for k in profile.registration.commitments]


def _edit_schema(case: Case) -> dict[str, Any]:
    spec = procedure(case.procedure, case.jurisdiction)
    return for_jurisdiction(form_schema(next(t.form for t in spec.transitions if t.trigger == "edit")),
                            case.jurisdiction)


def for_jurisdiction(schema: dict[str, Any], jurisdiction: str) -> dict[str, Any]:
    """Leave out what the jurisdiction does not ask: only Beijing classes projects (编制说明 4(一));
    elsewhere offering 项目类别 would only lead to a refusal."""
    profile = get_profile(jurisdiction)
    if "project_class" not in schema.get("properties", {}) or profile is None or profile.registration.project_classes:
        return schema
    props = {k: v for k, v in schema["properties"].items() if k != "project_class"}
    return {**schema, "properties": props, "required": [r for r in schema.get("required", []) if r != "project_class"]}


def changed(schema: dict[str, Any], application: dict[str, Any], posted: dict[str, str]
            ) -> tuple[dict[str, Any], list[Reason]]:
    """Only what the person changed: the edit form's fields start from the application, and an
    untouched field must not be sent (an empty optional field would otherwise clear it)."""
    data, problems = read_back(schema, posted)
    return {k: v for k, v in data.items() if (k in posted or f"{k}.division" in posted) and v != application.get(k)
            and not (v is None and application.get(k) in (None, "", []))}, problems


def _citable(session: Session, schema: dict[str, Any], jurisdiction: str) -> list[Any]:
    """The registry's citable versions, for a form that names a methodology."""
    return citable(session, jurisdiction, local_date(clock.now())) if CODE in schema.get("properties", {}) else []


@dataclass(frozen=True)
class Attempt:
    """What the person last posted on the case page (`failed`: which form) and why it was refused; nothing
    on a plain visit. Each form shows its own values and reasons, the others start afresh."""

    failed: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)

    def values_of(self, key: str) -> dict[str, Any]:
        return self.values if self.failed == key else {}

    def reasons_of(self, key: str) -> list[Reason]:
        return self.reasons if self.failed == key else []


def _days_left(session: Session, case: Case, open_tasks: list[dict[str, Any]]) -> None:
    cal, today = calendar(session), local_date(clock.now())
    for t in open_tasks:
        due = date.fromisoformat(t["due_on"]) if t["due_on"] else None
        t["days_left"] = working_days_left(cal, today, due, case.jurisdiction)


def _application_fields(case: Case, attempt: Attempt, key: str, versions: list[Any], lang: str,
                        prefix: str | None = None) -> tuple[list[Any], list[Reason]]:
    """The application's fields for the edit or resubmit form, starting from the application."""
    own = attempt.reasons_of(key)
    drawn, loose = fields(_edit_schema(case), {**case.application, **attempt.values_of(key)},
                          _unprefixed(own, prefix) if prefix else own)
    return picked(drawn, versions, lang), loose


def _submit_form(case: Case, attempt: Attempt) -> dict[str, Any]:
    """The commitments to tick and a comment, each with its own reasons."""
    posted, own = attempt.values_of("submit"), attempt.reasons_of("submit")
    ticked = {k[len(COMMITMENT):] for k in posted if k.startswith(COMMITMENT)}
    return {"commitments": [{"key": k, "label": lbl, "checked": k in ticked,
                             "errors": [r for r in own if r.field == f"commitments.{k}"]}
                            for k, lbl in _commitments(case)],
            "comments": posted.get("comments", ""),
            "loose": [r for r in own if not (r.field or "").startswith("commitments.") and r.field != "comments"],
            "comment_errors": [r for r in own if r.field == "comments"]}


def _resubmit_form(case: Case, attempt: Attempt, versions: list[Any], lang: str) -> dict[str, Any]:
    """The changes asked for and the response to the request."""
    f, loose = _application_fields(case, attempt, "resubmit", versions, lang, "changes")
    base = {"response": attempt.values_of("resubmit").get("response", "")}
    response, _ = fields(form_schema(_resubmission_form(case)), base,
                         [r for r in attempt.reasons_of("resubmit") if r.field == "response"])
    return {"fields": f, "response": [x for x in response if x.name == "response"],
            "loose": [r for r in loose if r.field != "response"]}


def case_view(session: Session, case: Case, actor: Actor, failed: str | None = None,
              values: dict[str, Any] | None = None, reasons: list[Reason] | None = None,
              lang: str = "zh") -> dict[str, Any]:
    """The applicant's case page: the case, the forms the person may use now, what was asked, the checklist."""
    detail = plain(case_detail(session, case, actor))
    allowed = {a["action"] for a in detail["allowed_actions"]}
    _days_left(session, case, detail["open_tasks"])
    attempt = Attempt(failed, values or {}, reasons or [])
    versions = _citable(session, _edit_schema(case), case.jurisdiction)
    forms: dict[str, Any] = {}
    if "edit" in allowed and case.state == "draft":
        f, loose = _application_fields(case, attempt, "edit", versions, lang)
        forms["edit"] = {"fields": f, "loose": loose}
    if "submit" in allowed:
        forms["submit"] = _submit_form(case, attempt)
    if "resubmit" in allowed:
        forms["resubmit"] = _resubmit_form(case, attempt, versions, lang)
    missing = {r.field.removeprefix("documents."): r for r in attempt.reasons
               if r.field and r.field.startswith("documents.")}
    return {"case": detail, "forms": forms, "requests": _requests(session, case),
            "checklist": checklist(session, case, actor, missing),
            "may_upload": documents.may_add(actor, case), "upload_reasons": attempt.reasons_of("upload"),
            "refused": attempt.reasons if failed and failed not in forms and failed != "upload" else []}


def checklist(session: Session, case: Case, actor: Actor, missing: dict[str, Reason]) -> list[dict[str, Any]]:
    """The application's material by type (profile `[documents]`): each slot, whether the submission
    requires it (Beijing 编制说明 4(二); Jiaxing arts. 9, 14, 16), what is uploaded in it, and the
    submit's reason when it was refused for lacking it."""
    profile = get_profile(case.jurisdiction)
    required = set(profile.documents.required_for(case.procedure)) if profile else set()
    mine = documents.of_case(session, case, actor)
    out = []
    for kind in documents.kinds_of(case):
        docs = [d for d in mine if d["kind"] == kind or (kind == "other" and not d["kind"])]
        out.append({"kind": kind, "label": CATALOGUE[f"doc_kind.{kind}"], "required": kind in required,
                    "docs": docs, "missing": missing.get(kind)})
    return out


def _resubmission_form(case: Case) -> Any:
    spec = procedure(case.procedure, case.jurisdiction)
    return next(t.form for t in spec.transitions if t.trigger == "resubmit")


def _requests(session: Session, case: Case) -> list[dict[str, Any]]:
    """What the authority asked for: supplement items and the panel's revision conclusion."""
    events = session.exec(select(AuditEvent).where(
        AuditEvent.stream == f"case:{case.id}",
        col(AuditEvent.event).in_(("request_supplement", "panel_revise"))).order_by(col(AuditEvent.seq).desc()))
    out = []
    for e in events:
        form = e.payload.get("form") or {}
        out.append({"event": e.event, "at": e.at, "asked": form.get("items") or [],
                    "text": form.get("conclusion") or form.get("comments") or ""})
    return out


def _case_page(request: Request, signed: Any, case_id: int, status: int = 200, **kw: Any) -> Response:
    with get_db(request).read() as session:
        case = visibility.visible_case(session, signed.actor, case_id)
        context = case_view(session, case, signed.actor, lang=lang_of(request), **kw)
    return render(request, "applicant_case.html", status_code=status, **context)


@router.get("/applicant/cases/{case_id}")
def applicant_case(case_id: int, request: Request, signed: SignedIn) -> Response:
    wearing(signed, "applicant")
    return _case_page(request, signed, case_id)


async def _fire(request: Request, signed: Any, case_id: int, trigger: str, data: dict[str, Any],
                form: FormData, problems: list[Reason], ok: str) -> Response:
    posted = chosen(posted_strings(form))
    refused = Refused(422, problems, True) if problems else await fire_posted(
        request, signed.actor, case_id, trigger, posted, data=data, reraise=(401, 403, 404), key=form_key(form))
    if refused is None:
        return RedirectResponse(f"/applicant/cases/{case_id}?ok={ok}", status_code=303)
    return _case_page(request, signed, case_id, refused.status, failed=trigger, values=posted,
                      reasons=refused.reasons)


def _mine(request: Request, signed: Any, case_id: int) -> Case:
    with get_db(request).read() as session:
        return visibility.visible_case(session, signed.actor, case_id)


@router.post("/applicant/cases/{case_id}/edit")
async def edit(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    wearing(signed, "applicant")
    case = _mine(request, signed, case_id)
    posted = chosen(posted_strings(form))
    data, problems = changed(_edit_schema(case), case.application, posted)
    return await _fire(request, signed, case_id, "edit", data, form, problems, "saved")


@router.post("/applicant/cases/{case_id}/submit")
async def submit(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    wearing(signed, "applicant")
    posted = posted_strings(form)
    data = {"commitments": {k[len(COMMITMENT):]: True for k, v in posted.items() if k.startswith(COMMITMENT)},
            "comments": posted.get("comments", "")}
    return await _fire(request, signed, case_id, "submit", data, form, [], "submitted")


@router.post("/applicant/cases/{case_id}/resubmit")
async def resubmit(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    wearing(signed, "applicant")
    case = _mine(request, signed, case_id)
    posted = chosen(posted_strings(form))
    changes, problems = changed(_edit_schema(case), case.application, posted)
    data = {"response": posted.get("response", ""), "changes": changes or None}
    return await _fire(request, signed, case_id, "resubmit", data, form, problems, "resubmitted")


@router.post("/applicant/cases/{case_id}/documents")
async def upload(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    """One document into one slot of the checklist (its `kind`)."""
    wearing(signed, "applicant")
    file, kind = form.get("file"), form.get("kind")
    reasons: list[Reason] = []
    if not isinstance(file, UploadFile) or not file.filename:
        reasons = [reason("missing.file", field="file")]
    else:
        data = await file.read(documents.MAX_BYTES + 1)
        try:
            await run_in_threadpool(partial(documents.add, get_db(request), case_id=case_id, actor=signed.actor,
                                            name=file.filename, content_type=file.content_type or "", data=data,
                                            kind=kind if isinstance(kind, str) and kind else None,
                                            idempotency_key=form_key(form)))
        except CommandError as exc:
            if exc.status == 404:
                raise
            reasons = exc.reasons
    if not reasons:
        return RedirectResponse(f"/applicant/cases/{case_id}?ok=uploaded#documents", status_code=303)
    return _case_page(request, signed, case_id, 422, failed="upload", reasons=reasons)


# --- notices -------------------------------------------------------------------------------------------------


@router.get("/applicant/notices")
def notices(request: Request, signed: SignedIn) -> Response:
    wearing(signed, "applicant")
    with get_db(request).read() as session:
        rows = notifications.recent(session, signed.user_id, 200)
    return render(request, "applicant_notices.html", notices=rows)


@router.post("/applicant/notices/read")
async def mark_read(request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    wearing(signed, "applicant")

    await run_in_threadpool(notifications.mark_all_read, get_db(request), signed.user_id)
    return RedirectResponse("/applicant/notices?ok=read", status_code=303)
