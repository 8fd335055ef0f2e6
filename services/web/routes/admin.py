"""The administrators' pages (hat `admin`; its scope decides what is shown): missed deadlines and
cycle times, flow runs, the outbox, the calendar, users and their grants, the profiles in force.

The national hat (`admin · 全国`) sees and acts on every jurisdiction and the system's own rows; a
jurisdiction's hat on that jurisdiction only (`AdminHat`, from `services.accounts.identity.admin_scope`).

Every change goes through the service functions the admin API uses (`dispatch.retry`,
`workdays.import_year`, `identity.grant_role`/`revoke_role`), so the page and the API agree.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, and_, col, or_, select
from starlette.datastructures import FormData, UploadFile

from services.accounts import identity
from services.accounts.identity import AdminScope, admin_scope
from services.api.deps import committed, get_db
from services.api.routes.admin import YearNotice
from services.engine import workdays
from services.engine.calendar import DayOverride, local_date
from services.engine.clock import clock
from services.engine.errors import Forbidden, Invalid, NotFound
from services.engine.forms_errors import reasons_from_validation
from services.engine.idempotency import Idem, Reply, once
from services.orchestration import dispatch, incidents
from services.queries import flow_runs as runs
from services.store.tables import Jurisdiction, Organisation, RoleGrant, User, pk
from services.web import metrics
from services.web.charts import Bar, bar_chart
from services.web.deps import AdminHat, CheckedForm, SignedIn, form_key
from services.web.pages import lang_of, render
from services.web.profile_tables import profile_sections
from services.web.sessions import Signed
from states.machine import PROCEDURES
from states.messages import Reason, label, reason, text
from states.profiles import all_profiles, get_profile
from states.spec import NATIONAL, ROLES

router = APIRouter(include_in_schema=False)

CALENDAR_EXAMPLE = json.dumps({"source": text("example.calendar_source").zh, "days": [
    {"date": "2027-01-01", "kind": "holiday", "name": text("holiday.new_year").zh},
    {"date": "2027-02-07", "kind": "workday", "name": text("holiday.spring_festival_workday").zh}]},
    ensure_ascii=False, indent=1)
NOTICE_BYTES = 256 * 1024  # a year's notice is a few kilobytes
PREFECT_WAIT_SECONDS = 8


# --- dashboard: breaches and cycle times ---------------------------------------------------------


def _charts(series: metrics.Weekly, lang: str) -> tuple[Any, list[tuple[metrics.StageRow, Any]]]:
    def said(key: str, **params: Any) -> str:
        return text(key, **params).said_in(lang)

    weeks = [w.strftime("%m-%d") for w in series.weeks]
    totals = series.breaches
    overview = bar_chart(
        "chart-breaches", said("chart.breaches"), said("chart.breaches_described", weeks=len(weeks), total=sum(totals)),
        [Bar(w, n, str(n), said("chart.breaches_in_week", week=w, count=n)) for w, n in
         zip(weeks, totals, strict=True)], unit=said("chart.breaches_unit"))
    panels = []
    for k, row in enumerate(series.stages):
        stage = label(f"state.{row.stage}")["en" if lang == "en" else "zh"]
        bars = []
        for w, median, done, missed in zip(weeks, row.medians, row.counts, row.breaches, strict=True):
            shown = "" if median is None else f"{median:.1f}"
            tip = (said("chart.stage_median", week=w, median=shown, done=done) if median is not None
                   else said("chart.stage_none", week=w)) + (said("chart.stage_missed", count=missed) if missed else "")
            bars.append(Bar(w, median, shown, tip, f"⚠{missed}" if missed else ""))
        desc = said("chart.stage_described", stage=stage, total=row.total_breaches)
        panels.append((row, bar_chart(f"chart-stage-{k}", stage, desc, bars, unit=said("chart.stage_unit"))))
    return overview, panels


@router.get("/admin")
def dashboard(request: Request, signed: SignedIn, hat_scope: AdminHat,
              status: Literal["open", "closed", "all"] = "open",
              procedure: Annotated[str | None, Query(max_length=40)] = None,
              scope: Literal["hat", "all"] = "hat") -> Response:
    if procedure and procedure not in PROCEDURES:
        raise Invalid([reason("procedure_unknown", field="procedure", name=procedure)])
    # the hat's scope, or widened to every jurisdiction the person administers in any hat
    js = sorted((hat_scope if scope == "hat" else admin_scope(signed.person)).jurisdictions)
    with get_db(request).read() as session:
        breaches = metrics.load_breaches(session, js, status, procedure or None)
        groups = metrics.breach_groups(session, js, status, procedure or None)
        series = metrics.load_weekly(session, js, local_date(clock.now()), procedure or None)
    overview, panels = _charts(series, lang_of(request))
    return render(request, "admin/dashboard.html", section="dashboard", status=status, procedure=procedure or "",
                  scope=scope, scope_js=js, national=NATIONAL, procedures=sorted(PROCEDURES), groups=groups,
                  breaches=breaches, breach_total=sum(groups["kind"].values()), series=series, overview=overview,
                  panels=panels)


# --- flow runs ------------------------------------------------------------------------------------


@router.get("/admin/flows")
async def flow_runs(request: Request, scope: AdminHat) -> Response:
    data, problem = None, None
    tagged = None if scope.national else scope.jurisdictions  # a jurisdiction's hat: the runs tagged with it
    try:  # a Prefect server that doesn't answer must not hold the page (its client retries for long)
        data = await asyncio.wait_for(runs.recent_runs(30, tagged), PREFECT_WAIT_SECONDS)
    except runs.PrefectUnavailable as exc:
        problem = exc.reasons
    except TimeoutError:
        problem = [reason("prefect_timeout", seconds=PREFECT_WAIT_SECONDS)]
    configured = not any(r.code == "prefect_not_configured" for r in problem or [])
    return render(request, "admin/flows.html", section="flows", data=data, problem=problem,
                  configured=configured, ui=runs.ui_url())


# --- outbox ---------------------------------------------------------------------------------------


@router.get("/admin/outbox")
def outbox(request: Request, scope: AdminHat, status: Literal["dead", "pending", "done"] = "dead") -> Response:
    with get_db(request).read() as session:
        rows = dispatch.listing(session, scope, status)
    return render(request, "admin/outbox.html", section="outbox", status=status, rows=rows, national=scope.national)


@router.post("/admin/outbox/{outbox_id}/retry")
async def retry(outbox_id: int, request: Request, signed: SignedIn, scope: AdminHat, form: CheckedForm) -> Response:
    row = await run_in_threadpool(dispatch.retry, get_db(request), outbox_id, signed.person.user_id, scope,
                                  signed.actor.key, form_key(form))
    if row is None:
        raise NotFound.of("outbox_row")
    committed(request, None, "outbox_retry")
    return RedirectResponse("/admin/outbox?status=dead&ok=retried", status_code=303)


# --- incidents -----------------------------------------------------------------------------------


@router.get("/admin/incidents")
def incident_list(request: Request, scope: AdminHat,
                  status: Literal["active", "resolved", "all"] = "active") -> Response:
    with get_db(request).read() as session:
        rows = [incidents.as_dict(i) for i in incidents.listing(session, scope, status)]
    return render(request, "admin/incidents.html", section="incidents", status=status, rows=rows,
                  national=scope.national)


@router.post("/admin/incidents/{incident_id}/{action}")
async def incident_action(incident_id: int, action: Literal["acknowledge", "resolve"], request: Request,
                          signed: SignedIn, scope: AdminHat, form: CheckedForm) -> Response:
    await run_in_threadpool(incidents.act, get_db(request), incident_id, action, signed.person.user_id, scope,
                            signed.actor.key, form_key(form))
    return RedirectResponse(f"/admin/incidents?ok={action}#incident-{incident_id}", status_code=303)


# --- calendar -------------------------------------------------------------------------------------


def _calendar_page(request: Request, scope: AdminScope, load: str, status_code: int = 200, year: str = "",
                   notice: str = "", reasons: list[Reason] | None = None) -> Response:
    with get_db(request).read() as session:
        coverage = workdays.coverage(session, None if scope.national else scope.jurisdictions)
    reasons = reasons or []
    by_field = {name: [r for r in reasons if r.field == name] for name in ("year", "notice")}
    return render(request, "admin/calendar.html", status_code=status_code, section="calendar", coverage=coverage,
                  year=year, notice=notice, errors=by_field, example=CALENDAR_EXAMPLE,
                  next_year=local_date(clock.now()).year + 1, load=load, national=NATIONAL)


def _hat_place(signed: Signed) -> str:
    """Where the admin hat is worn: `CN` for the national hat, else its jurisdiction. It is what the
    calendar form loads (the State Council's notice, or that jurisdiction's own days) and where the
    users page grants by default."""
    assert signed.hat is not None, "AdminHat made sure an admin hat is worn"
    return signed.hat[1]


@router.get("/admin/calendar")
def calendar_page(request: Request, signed: SignedIn, scope: AdminHat) -> Response:
    return _calendar_page(request, scope, _hat_place(signed))


def _read_notice(pasted: str) -> tuple[YearNotice | None, list[Reason]]:
    """The same JSON the CLI `calendar-import` takes, checked by the API's own model; every reason is shown
    beside the notice field, with where in the JSON it is."""
    try:
        data = json.loads(pasted)
    except (json.JSONDecodeError, RecursionError) as exc:
        return None, [reason("json_invalid.line", field="notice", line=getattr(exc, "lineno", "?"))]
    try:
        notice = YearNotice.model_validate(data)
    except ValidationError as exc:
        located = [(r, text("text.located", where=r.field, zh=r.zh, en=r.en)) for r in reasons_from_validation(exc)]
        return None, [Reason(r.code, said.zh, said.en, "notice") for r, said in located]
    return notice, []


@router.post("/admin/calendar")
async def calendar_import(request: Request, signed: SignedIn, scope: AdminHat, form: CheckedForm) -> Response:
    scope_of_load = _hat_place(signed)
    year_text = str(form.get("year") or "").strip()
    pasted, reasons = await _uploaded_or_pasted(form)
    year = int(year_text) if year_text.isdigit() and len(year_text) == 4 else None
    if year is None or not 2000 <= year <= 2100:
        reasons.append(reason("year", field="year"))
    notice = None
    if not any(r.field == "notice" for r in reasons):  # every reason at once: the year's and the notice's
        notice, problems = _read_notice(pasted) if pasted.strip() else (None, [reason("notice_required",
                                                                                       field="notice")])
        reasons += problems
    if notice is not None and year is not None and not reasons:
        try:
            await run_in_threadpool(_load_year, request, signed, form, year, notice, scope_of_load)
        except Invalid as exc:
            reasons = [Reason(r.code, r.zh, r.en, r.field if r.field == "year" else "notice") for r in exc.reasons]
        else:
            return RedirectResponse("/admin/calendar?ok=imported", status_code=303)
    return _calendar_page(request, scope, scope_of_load, 422, year_text, pasted, reasons)


async def _uploaded_or_pasted(form: FormData) -> tuple[str, list[Reason]]:
    """The notice's JSON: an uploaded file's (UTF-8, at most NOTICE_BYTES) over the pasted text."""
    pasted, upload = str(form.get("notice") or ""), form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return pasted, []
    raw = await upload.read(NOTICE_BYTES + 1)
    if len(raw) > NOTICE_BYTES:
        return pasted, [reason("too_large.notice", field="notice")]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return pasted, [reason("encoding", field="notice")]


def _load_year(request: Request, signed: Any, form: FormData, year: int, notice: Any,
               scope_of_load: str) -> None:
    """One command: the year's days loaded for the hat's place, once per form key."""
    days = [DayOverride(d.date, d.kind == "workday", d.name, d.jurisdiction) for d in notice.days]

    def command(session: Session) -> Reply:
        return 200, workdays.import_year(session, year=year, source=notice.source, days=days,
                                         actor_id=signed.person.user_id, actor_role="admin",
                                         jurisdiction=scope_of_load)

    request_ = {"calendar": year, "jurisdiction": scope_of_load, "notice": notice.model_dump(mode="json")}
    once(get_db(request), Idem(signed.actor.key, form_key(form), request_), command)


# --- users and grants -----------------------------------------------------------------------------


def _users(session: Session, scope: AdminScope, q: str) -> list[dict[str, Any]]:
    """Who holds a role in my scope; or, when searching, people by username or name to grant a role to.
    Only grants in my scope are shown: another jurisdiction's are not mine to see. A jurisdiction's
    administrator finds people of other jurisdictions only by their exact username."""
    mine = scope.where(RoleGrant.jurisdiction)
    holders = select(RoleGrant.user_id).where(mine)
    query = select(User).order_by(col(User.username)).limit(200)
    if q:
        like = f"%{q}%"
        named = or_(col(User.username).ilike(like), col(User.display_name).ilike(like))
        query = query.where(named if scope.national else
                            or_(col(User.username) == q, and_(named, col(User.id).in_(holders))))
    else:
        query = query.where(col(User.id).in_(holders))
    users = list(session.exec(query))
    ids = [u.id for u in users]
    grants: dict[int, list[tuple[str, str]]] = {}
    of_users = col(RoleGrant.user_id).in_(ids)
    rows: Iterable[RoleGrant] = session.exec(select(RoleGrant).where(of_users, mine)) if ids else []
    for g in rows:
        grants.setdefault(g.user_id, []).append((g.role, g.jurisdiction))
    orgs = {o.id: o.name for o in session.exec(select(Organisation).where(
        col(Organisation.id).in_({u.org_id for u in users if u.org_id})))}
    return [{"user": u, "org": orgs.get(u.org_id),
             "grants": sorted(grants.get(pk(u), []), key=lambda g: (g[1] != NATIONAL, g[1], g[0]))} for u in users]


def _users_page(request: Request, signed: Signed, scope: AdminScope, q: str = "", status_code: int = 200,
                values: dict[str, str] | None = None, reasons: list[Reason] | None = None) -> Response:
    hat = _hat_place(signed)  # the national hat, or the one jurisdiction its grants are given in
    with get_db(request).read() as session:
        users = _users(session, scope, q)
        place = session.get(Jurisdiction, hat)
    reasons = reasons or []
    by_field = {name: [r for r in reasons if r.field == name] for name in ("username", "role", "jurisdiction")}
    loose = [r for r in reasons if r.field not in by_field]
    # where this hat may grant: a jurisdiction's hat there only; the national hat anywhere, nationally too
    places = [NATIONAL, *sorted(scope.jurisdictions)] if scope.national else [hat]
    return render(request, "admin/users.html", status_code=status_code, section="users", users=users, q=q,
                  roles=ROLES, values=values or {}, errors=by_field, loose=loose, jurisdiction=hat,
                  place=place, places=places, me=signed.person.user_id, national=NATIONAL)


@router.get("/admin/users")
def users_page(request: Request, signed: SignedIn, scope: AdminHat,
               q: Annotated[str, Query(max_length=64)] = "") -> Response:
    return _users_page(request, signed, scope, q.strip())


def _where_to_grant(signed: Signed, form: Any) -> str:
    """The jurisdiction a grant or revocation is for: as posted (the national hat chooses), else the
    hat's own. `identity.grant_role`/`revoke_role` refuse anything outside the hat's scope."""
    hat = _hat_place(signed)
    return str(form.get("jurisdiction") or "")[:8] or (hat if hat != NATIONAL else "")


@router.post("/admin/users/grant")
async def grant(request: Request, signed: SignedIn, scope: AdminHat, form: CheckedForm) -> Response:
    jurisdiction = _where_to_grant(signed, form)
    username = str(form.get("username") or "").strip()[:64]
    role = str(form.get("role") or "")

    def give() -> None:
        reasons = []
        if not username:
            reasons.append(reason("username_required", field="username"))
        if role not in ROLES:
            reasons.append(reason("role_required.choose", field="role"))
        if not jurisdiction:
            reasons.append(reason("jurisdiction_required", field="jurisdiction"))
        if reasons:
            raise Invalid(reasons)
        def command(session: Session) -> Reply:
            user = session.exec(select(User).where(col(User.username) == username)).first()
            if user is None:
                raise Invalid([reason("user_unknown.username", field="username", username=username)])
            identity.grant_role(session, pk(user), role, jurisdiction, signed.actor)
            return 200, {}

        request_ = {"grant": username, "role": role, "jurisdiction": jurisdiction}
        once(get_db(request), Idem(signed.actor.key, form_key(form), request_), command)

    try:
        await run_in_threadpool(give)
    except Invalid as exc:
        return _users_page(request, signed, scope, username, 422,
                           {"username": username, "role": role, "jurisdiction": jurisdiction}, exc.reasons)
    return RedirectResponse(f"/admin/users?ok=granted&q={username}", status_code=303)


@router.post("/admin/users/{user_id}/revoke")
async def revoke(user_id: int, request: Request, signed: SignedIn, scope: AdminHat, form: CheckedForm) -> Response:
    jurisdiction = _where_to_grant(signed, form)
    role = str(form.get("role") or "")
    if user_id == signed.person.user_id and role == "admin":
        raise Forbidden([reason("own_admin")])

    def withdraw() -> None:
        def command(session: Session) -> Reply:
            identity.revoke_role(session, user_id, role, jurisdiction, signed.actor)
            return 200, {}

        request_ = {"revoke": user_id, "role": role, "jurisdiction": jurisdiction}
        once(get_db(request), Idem(signed.actor.key, form_key(form), request_), command)

    await run_in_threadpool(withdraw)
    return RedirectResponse("/admin/users?ok=revoked", status_code=303)


# --- jurisdiction profiles ------------------------------------------------------------------------

@router.get("/admin/profiles")
def profiles(request: Request, signed: SignedIn, scope: AdminHat,
             code: Annotated[str | None, Query(max_length=8)] = None) -> Response:
    """Read-only, every profile for every administrator (they are public rules); the hat's by default."""
    hat = _hat_place(signed)
    code = code or (hat if hat != NATIONAL else next(iter(all_profiles())))
    profile = get_profile(code)
    if profile is None:
        raise NotFound.of("jurisdiction")
    with get_db(request).read() as session:
        loaded = session.get(Jurisdiction, code)
    heading, sections = profile_sections(profile)
    return render(request, "admin/profiles.html", section="profiles", profile=profile, code=code,
                  codes=list(all_profiles()), loaded=loaded, heading=heading, sections=sections)

