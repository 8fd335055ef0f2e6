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
from services.api.edge import PAGE_CSP
from services.api.routes.documents import send
from services.engine import visibility
from services.engine.actors import Actor
from services.engine.errors import CommandError, NotFound
from services.procedures import documents, reports
from services.queries.cases import case_detail, event_view
from services.queries.schemas import plain
from services.store.tables import AuditEvent, Case, Document, Organisation, RoleGrant, User
from services.web import brief
from services.web.actions import Refused, fire_posted, posted_strings
from services.web.deps import CheckedForm, SignedIn, form_key
from services.web.pages import lang_of, render
from services.web.schema_forms import fields
from states.machine import mermaid
from states.messages import CATALOGUE, Reason, reason, text
from states.profiles import get_profile
from states.tasks import ESCALATION

router = APIRouter(include_in_schema=False)

_STATE_LINE = re.compile(r'^(\s*)state "([^"]+)" as (\S+)$', re.M)
_CLASS_LINE = re.compile(r"^(\s*)Class (\S+) s_default$", re.M)
_ARROW_LINE = re.compile(r"^(\s*\S+ --> \S+): (.+)$", re.M)
_SELF_LOOP = re.compile(r"^\s*(\S+) --> \1: .*\n", re.M)


def diagram(name: str, jurisdiction: str, current: str, lang: str,
            spent: dict[str, tuple[str, str]] | None = None) -> str:
    """The live procedure's mermaid diagram, states named in the page's language; the current state
    is marked by text as well as colour (accessibility: no information by colour alone), the states the
    case passed through by a tick and the time it spent in each. Actions that stay in a state (edit,
    an expert's opinion) are left out: they are not steps of the path and their labels crowd it."""
    spent = spent or {}
    source = _SELF_LOOP.sub("", mermaid(name, jurisdiction, current))

    def named(m: re.Match[str]) -> str:
        zh, en = CATALOGUE.get(f"state.{m.group(3)}", (m.group(2), m.group(2)))
        name = zh if lang == "zh" else en
        if m.group(3) == current:
            name = text("diagram.current", state=name).said_in(lang)
        if m.group(3) in spent:
            took = spent[m.group(3)]
            name = text("brief.diagram_state", mark="" if m.group(3) == current else "✓ ", state=name,
                        spent=took[0] if lang == "zh" else took[1]).said_in(lang)
        return f'{m.group(1)}state "{name}" as {m.group(3)}'

    def passed(m: re.Match[str]) -> str:
        return f"{m.group(1)}Class {m.group(2)} s_previous" if m.group(2) in spent else m.group(0)

    def arrow(m: re.Match[str]) -> str:
        triggers = dict.fromkeys(m.group(2).split(" | "))  # one trigger may draw two guarded arrows
        names = [CATALOGUE.get(f"trigger.{t}", (t, t)) for t in triggers]
        return f"{m.group(1)}: " + " / ".join(zh if lang == "zh" else en for zh, en in names)

    source = _ARROW_LINE.sub(arrow, _CLASS_LINE.sub(passed, _STATE_LINE.sub(named, source)))
    return re.sub(r"^---\n.*?\n---\n", "", source, flags=re.S)  # the title is on the page already


def _people(session: Session, role: str, jurisdiction: str) -> list[User]:
    """The active holders of a role in a jurisdiction, by name: whom an officer may seat on a panel, or
    the approver assign to a report."""
    return list(session.exec(select(User).join(RoleGrant, col(RoleGrant.user_id) == col(User.id)).where(
        col(RoleGrant.role) == role, col(RoleGrant.jurisdiction) == jurisdiction, col(User.active).is_(True))
        .order_by(col(User.display_name), col(User.id))))


# Fields whose values are people: drawn as a list of names to tick (or choose), posted as user ids.
PEOPLE_FIELDS = {("compose_panel", "members"): ("expert", "brief.members", True),
                 ("compose_panel", "chair"): ("expert", "brief.chair", False),
                 ("assign_handlers", "officers"): ("case_officer", "brief.officers", True)}
REVIEW_TRIGGERS = ("pass_review", "fail_review")


def case_context(session: Session, case: Case, actor: Actor, lang: str) -> dict[str, Any]:
    detail = plain(case_detail(session, case, actor))
    rows = list(session.exec(select(AuditEvent).where(col(AuditEvent.stream) == f"case:{case.id}")
                             .order_by(col(AuditEvent.seq))))
    visible_rows = documents.visible_events(session, actor, case, rows)
    the_brief = brief.brief(session, case, actor, visible_rows, detail["documents"])
    names = the_brief["names"]
    addressed = {t[k] for t in detail["open_tasks"] for k in ("assignee_id", "candidate_user_id") if t[k]}
    task_people = brief.names_of(session, addressed)
    for t in detail["open_tasks"]:  # an expert's opinion is addressed to one drawn expert: name them, not "unclaimed"
        t["assignee_name"] = task_people.get(t["assignee_id"] or 0, "")
        t["addressed_to"] = task_people.get(t["candidate_user_id"] or 0, "")
    events = []
    for row in visible_rows:
        e = plain(event_view(row))
        e["actor_name"] = names.get(row.actor_id or 0, "")
        e["parts"] = brief.sentence_parts(row, names)
        events.append(e)
    org = session.get(Organisation, case.applicant_org_id) if case.applicant_org_id else None
    may_upload = documents.may_add(actor, case)
    triggers = {a["action"] for a in detail["allowed_actions"]}
    people = {role: _people(session, role, case.jurisdiction)
              for (trigger, _), (role, _, _) in PEOPLE_FIELDS.items() if trigger in triggers}
    profile = get_profile(case.jurisdiction)
    return {"case": detail, "events": events, "applicant": org, "may_upload": may_upload,
            "upload_choices": documents.upload_choices(actor, case) if may_upload else (),
            "may_publish": actor.holds("approver", case.jurisdiction),
            "case_open": not detail["state"]["terminal"], "brief": the_brief, "people": people,
            "jurisdiction_name": (profile.name_zh, profile.name_en) if profile else (case.jurisdiction,) * 2,
            "diagram": diagram(case.procedure, case.jurisdiction, case.state, lang,
                               brief.stages(rows, case.state))}


def _offered(trigger: str, context: dict[str, Any]) -> bool:
    """Actions the state allows but the case does not call for are not offered: composing a panel already
    seated (refused, rule panel_already), acknowledging a missed deadline when none was missed (the
    approver's `sla_escalation` task is what it answers)."""
    if trigger == "compose_panel":
        return not context["brief"]["panel"]["active"]
    if trigger == ESCALATION.triggers[0]:
        return any(t["kind"] == ESCALATION.kind for t in context["case"]["open_tasks"])
    return True


def _forms(context: dict[str, Any], failed: str | None = None, values: dict[str, Any] | None = None,
           reasons: list[Reason] | None = None) -> list[dict[str, Any]]:
    """One form per allowed action, each placed beside the material it is about (`section`); the one
    that failed keeps its values and shows its reasons. People are chosen by name, a review report from
    the case's documents."""
    detail = context["case"]
    out = []
    for action in detail["allowed_actions"]:
        trigger = action["action"]
        if not _offered(trigger, context):
            continue
        mine = trigger == failed
        drawn, loose = fields(action["form_schema"], values if mine else None, reasons if mine else None)
        for f in drawn:
            picked = PEOPLE_FIELDS.get((trigger, f.name))
            if picked is not None:
                role, key, many = picked
                f.label = CATALOGUE[key]
                f.widget = "people" if many else "select"
                f.choices = [(str(u.id), (u.display_name, u.display_name)) for u in context["people"].get(role, [])]
                f.value = f.value.replace("\n", ",") if many else f.value
            if trigger in REVIEW_TRIGGERS and f.name == "report_sha256":
                f.name, f.label, f.widget = "report_document", CATALOGUE["field.report_document"], "select"
                f.choices = [(str(d["id"]), (d["name"], d["name"])) for d in detail["documents"]]
                f.value = (values or {}).get("report_document", "") if mine else ""
                f.help = ""
        out.append({**action, "fields": drawn, "loose": loose, "open": mine,
                    "section": brief.SECTION_OF.get(trigger, "other")})
    return out


def _read_people_and_report(session: Session, case_id: int, actor: Actor, trigger: str, form: Any,
                            posted: dict[str, str]) -> list[Reason]:
    """The page's friendlier fields turned back into the action's own: ticked people into the ids the
    form takes (one per line), a chosen document into the SHA-256 the server reads from its bytes'
    record (never typed, so never truncated)."""
    for (name_trigger, name), (_, _, many) in PEOPLE_FIELDS.items():
        if name_trigger == trigger and many:
            posted[name] = "\n".join(v for v in form.getlist(name) if isinstance(v, str))
    if trigger not in REVIEW_TRIGGERS:
        return []
    chosen = posted.pop("report_document", "").strip()
    if not chosen:
        return []
    doc = session.get(Document, int(chosen)) if chosen.isdigit() and len(chosen) < 10 else None
    if doc is None or doc.case_id != case_id or not any(
            # the ignore below: the route's visibility check has read this case already: it exists
            d["id"] == doc.id for d in documents.of_case(session, session.get(Case, case_id), actor)):  # type: ignore[arg-type]
        return [reason("report_document_unknown", field="report_sha256")]
    posted["report_sha256"] = doc.sha256
    return []


def _context(request: Request, signed: Any, case_id: int) -> dict[str, Any]:
    with get_db(request).read() as session:
        return case_context(session, visibility.visible_case(session, signed.actor, case_id), signed.actor,
                            lang_of(request))


@router.get("/cases/{case_id}")
def case_page(case_id: int, request: Request, signed: SignedIn, task: int | None = None, pane: bool = False
              ) -> Response:
    """The case page; `pane=1` draws it without the site's header, for the queue's split view."""
    context = _context(request, signed, case_id)
    return _framable(render(request, "case.html", **context, forms=_forms(context), task_id=task, pane=pane), pane)


PANE_CSP = PAGE_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")


def _framable(response: Response, pane: bool) -> Response:
    """The split view frames the case page in the queue: this origin only (every other page: nobody)."""
    if pane:
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = PANE_CSP
    return response


@router.get("/cases/{case_id}/panel")
def panel_fragment(case_id: int, request: Request, signed: SignedIn) -> Response:
    """The panel part of the brief alone: the page polls it (htmx) while a panel is being drawn in the
    background, so the draw's result appears without a reload."""
    context = _context(request, signed, case_id)
    return render(request, "_case_panel_poll.html", **context, forms=_forms(context), task_id=None)


@router.post("/cases/{case_id}/actions/{trigger}")
async def case_action(case_id: int, trigger: str, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    posted = posted_strings(form)
    task_raw, version_raw = posted.pop("_task", ""), posted.pop("_version", "")
    pane = posted.pop("_pane", "") == "1"
    with get_db(request).read() as session:
        problems = _read_people_and_report(session, case_id, signed.actor, trigger, form, posted)
    refused = Refused(422, problems, True) if problems else await fire_posted(
        request, signed.actor, case_id, trigger, posted, task_id=int(task_raw) if task_raw.isdigit() else None,
        if_match=int(version_raw) if version_raw.isdigit() else None, key=form_key(form))
    if refused is None:
        return RedirectResponse(f"/cases/{case_id}?ok=done{'&pane=1' if pane else ''}", status_code=303)
    context = _context(request, signed, case_id)
    return _framable(render(request, "case.html", status_code=refused.status, **context, task_id=task_raw or None,
                            forms=_forms(context, trigger, posted, refused.reasons), pane=pane,
                            refused=[] if refused.offered else refused.reasons), pane)


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
    return render(request, "case.html", status_code=422, **context, forms=_forms(context),
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
        return render(request, "case.html", status_code=exc.status, **context, forms=_forms(context),
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
                      forms=_forms(context), task_id=None, reporter=reporter, reporter_reasons=reasons)
    response.headers["Cache-Control"] = "no-store"
    return response


# What a browser can show inline: PDFs in its viewer, images. Anything else is only downloaded.
PREVIEWABLE = ("application/pdf", "image/png", "image/jpeg")


@router.get("/documents/{document_id}/preview")
def preview_document(document_id: int, request: Request, signed: SignedIn) -> Response:
    """A PDF or an image shown inline in the case page (same origin may frame it; nothing else may).
    The type was checked against the bytes at upload; other types are not previewed (404)."""
    with get_db(request).read() as session:
        doc = documents.readable(session, signed.actor, document_id)
    if doc.content_type not in PREVIEWABLE:
        raise NotFound.of("document")
    headers = {"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN",
               "ETag": f'"{doc.sha256}"', "Cache-Control": "private, no-store"}
    if doc.content_type != "application/pdf":  # Chrome's PDF viewer draws nothing under a policy
        headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
    return Response(doc.data, media_type=doc.content_type, headers=headers)


@router.get("/documents/{document_id}")
def download_document(document_id: int, request: Request, signed: SignedIn) -> Response:
    with get_db(request).read() as session:
        return send(documents.readable(session, signed.actor, document_id))
