"""The case page: everything about one case, and the actions the person may take on it now.

Actions post to `/cases/{id}/actions/{trigger}`; the form is drawn from the action's JSON Schema and
read back by it (`services.web.schema_forms`). A refused action re-renders the page with the values
typed and every reason beside its field (422), or above the form when it is about the case (409).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from services.api.deps import get_db
from services.api.routes.documents import send
from services.engine import visibility
from services.engine.actors import Actor
from services.engine.errors import CommandError
from services.procedures import documents, reports
from services.queries.cases import case_detail, event_view
from services.queries.schemas import plain
from services.store.tables import AuditEvent, Case, Organisation, RoleGrant, User
from services.web.actions import fire_posted, posted_strings
from services.web.deps import CheckedForm, SignedIn, form_key
from services.web.pages import lang_of, render
from services.web.schema_forms import fields
from states.machine import mermaid
from states.messages import CATALOGUE, Reason, reason, text

router = APIRouter(include_in_schema=False)

_STATE_LINE = re.compile(r'^(\s*)state "([^"]+)" as (\S+)$', re.M)
_ARROW_LINE = re.compile(r"^(\s*\S+ --> \S+): (.+)$", re.M)


def diagram(name: str, jurisdiction: str, current: str, lang: str) -> str:
    """The live procedure's mermaid diagram, states named in the page's language; the current state
    is marked by text as well as colour (accessibility: no information by colour alone)."""
    source = mermaid(name, jurisdiction, current)
    def named(m: re.Match[str]) -> str:
        zh, en = CATALOGUE.get(f"state.{m.group(3)}", (m.group(2), m.group(2)))
        name = zh if lang == "zh" else en
        if m.group(3) == current:
            name = text("diagram.current", state=name).said_in(lang)
        return f'{m.group(1)}state "{name}" as {m.group(3)}'

    def arrow(m: re.Match[str]) -> str:
        triggers = dict.fromkeys(m.group(2).split(" | "))  # one trigger may draw two guarded arrows
        names = [CATALOGUE.get(f"trigger.{t}", (t, t)) for t in triggers]
        return f"{m.group(1)}: " + " / ".join(zh if lang == "zh" else en for zh, en in names)

    source = _ARROW_LINE.sub(arrow, _STATE_LINE.sub(named, source))
    return re.sub(r"^---\n.*?\n---\n", "", source, flags=re.S)  # the title is on the page already


def _payload_lines(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """A short, readable rendering of an event's payload (long texts cut, nested values as JSON)."""
    out = []
    for key, value in (payload or {}).items():
        shown = value if isinstance(value, str) else __import__("json").dumps(value, ensure_ascii=False)
        out.append((key, shown if len(shown) <= 300 else shown[:300] + "…"))
    return out


def _officers(session: Session, case: Case) -> list[User]:
    """The jurisdiction's case officers, for the approver who assigns a report's handlers by number."""
    return list(session.exec(select(User).join(RoleGrant, col(RoleGrant.user_id) == col(User.id)).where(
        col(RoleGrant.role) == "case_officer", col(RoleGrant.jurisdiction) == case.jurisdiction, col(User.active).is_(True))
        .order_by(col(User.id))))


def case_context(session: Session, case: Case, actor: Actor, lang: str) -> dict[str, Any]:
    detail = plain(case_detail(session, case, actor))
    rows = list(session.exec(select(AuditEvent).where(col(AuditEvent.stream) == f"case:{case.id}").order_by(col(AuditEvent.seq))))
    events = [plain(event_view(e)) for e in documents.visible_events(session, actor, case, rows)]
    names = {u.id: u.display_name for u in session.exec(
        select(User).where(col(User.id).in_({e["actor_id"] for e in events if e["actor_id"]})))}
    for e in events:
        e["actor_name"] = names.get(e["actor_id"], "")
        e["lines"] = _payload_lines(e["payload"])
    org = session.get(Organisation, case.applicant_org_id) if case.applicant_org_id else None
    may_upload = documents.may_add(actor, case)
    assigning = detail["reporter_access"] is not None and any(
        a["action"] == "assign_handlers" for a in detail["allowed_actions"])
    return {"case": detail, "events": events, "applicant": org, "may_upload": may_upload,
            "upload_choices": documents.upload_choices(actor, case) if may_upload else (),
            "may_publish": actor.holds("approver", case.jurisdiction),
            "case_open": not detail["state"]["terminal"],
            "officers": _officers(session, case) if assigning else [],
            "diagram": diagram(case.procedure, case.jurisdiction, case.state, lang)}


def _forms(detail: dict[str, Any], failed: str | None = None, values: dict[str, Any] | None = None,
           reasons: list[Reason] | None = None) -> list[dict[str, Any]]:
    """One form per allowed action; the one that failed keeps its values and shows its reasons."""
    out = []
    for action in detail["allowed_actions"]:
        mine = action["action"] == failed
        drawn, loose = fields(action["form_schema"], values if mine else None, reasons if mine else None)
        out.append({**action, "fields": drawn, "loose": loose, "open": mine})
    return out


@router.get("/cases/{case_id}")
def case_page(case_id: int, request: Request, signed: SignedIn, task: int | None = None) -> Response:
    with get_db(request).read() as session:
        context = case_context(session, visibility.visible_case(session, signed.actor, case_id), signed.actor,
                               lang_of(request))
    return render(request, "case.html", **context, forms=_forms(context["case"]), task_id=task)


@router.post("/cases/{case_id}/actions/{trigger}")
async def case_action(case_id: int, trigger: str, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    posted = posted_strings(form)
    task_raw, version_raw = posted.pop("_task", ""), posted.pop("_version", "")
    refused = await fire_posted(request, signed.actor, case_id, trigger, posted,
                                task_id=int(task_raw) if task_raw.isdigit() else None,
                                if_match=int(version_raw) if version_raw.isdigit() else None, key=form_key(form))
    if refused is None:
        return RedirectResponse(f"/cases/{case_id}?ok=done", status_code=303)
    with get_db(request).read() as session:
        context = case_context(session, visibility.visible_case(session, signed.actor, case_id), signed.actor,
                               lang_of(request))
    return render(request, "case.html", status_code=refused.status, **context, task_id=task_raw or None,
                  forms=_forms(context["case"], trigger, posted, refused.reasons),
                  refused=[] if refused.offered else refused.reasons)


@router.post("/cases/{case_id}/documents")
async def upload_document(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    file, chosen = form.get("file"), form.get("visibility")
    db = get_db(request)
    reasons: list[Reason] = []
    if not isinstance(file, UploadFile) or not file.filename:
        reasons = [reason("missing.file", field="file")]
    else:
        data = await file.read(documents.MAX_BYTES + 1)
        try:
            await run_in_threadpool(documents.add, db, case_id=case_id, actor=signed.actor, name=file.filename,
                                    content_type=file.content_type or "", data=data,
                                    visibility=chosen if isinstance(chosen, str) and chosen else None,
                                    idempotency_key=form_key(form))
        except CommandError as exc:
            if exc.status == 404:
                raise
            reasons = exc.reasons
    if not reasons:
        if request.headers.get("HX-Request"):  # the progress bar's XHR: it reloads the list itself
            return Response(status_code=204)
        return RedirectResponse(f"/cases/{case_id}?ok=uploaded#documents", status_code=303)
    with db.read() as session:
        context = case_context(session, visibility.visible_case(session, signed.actor, case_id), signed.actor,
                               lang_of(request))
    return render(request, "case.html", status_code=422, **context, forms=_forms(context["case"]),
                  task_id=None, upload_reasons=reasons)


@router.post("/cases/{case_id}/documents/{document_id}/publication")
def mark_publication(case_id: int, document_id: int, request: Request, signed: SignedIn,
                     form: CheckedForm) -> Response:
    """The approver's publication mark (`publish=1`) or taking it back (`publish=0`)."""
    publish = form.get("publish") == "1"
    try:
        documents.set_publication(get_db(request), case_id=case_id, document_id=document_id, actor=signed.actor,
                                  published=publish, idempotency_key=form_key(form))
    except CommandError as exc:
        if exc.status == 404:
            raise
        with get_db(request).read() as session:
            context = case_context(session, visibility.visible_case(session, signed.actor, case_id), signed.actor,
                                   lang_of(request))
        return render(request, "case.html", status_code=exc.status, **context, forms=_forms(context["case"]),
                      task_id=None, document_reasons=exc.reasons)
    return RedirectResponse(f"/cases/{case_id}?ok={'published' if publish else 'unpublished'}#documents",
                            status_code=303)


@router.post("/cases/{case_id}/reporter")
def reveal_reporter(case_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    """An assigned handler reads the reporter's identity: shown in this one response (not cached),
    recorded as an audit event before it is shown."""
    reasons: list[Reason] = []
    reporter = None
    try:
        reporter = reports.read_reporter(get_db(request), case_id, signed.actor)
    except CommandError as exc:
        if exc.status == 404:
            raise
        reasons = exc.reasons
    with get_db(request).read() as session:
        context = case_context(session, visibility.visible_case(session, signed.actor, case_id), signed.actor,
                               lang_of(request))
    response = render(request, "case.html", status_code=403 if reasons else 200, **context,
                      forms=_forms(context["case"]), task_id=None, reporter=reporter, reporter_reasons=reasons)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/documents/{document_id}")
def download_document(document_id: int, request: Request, signed: SignedIn) -> Response:
    with get_db(request).read() as session:
        return send(documents.readable(session, signed.actor, document_id))
