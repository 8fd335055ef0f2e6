"""Administrators: the audit chain, the calendar years, the timers, the outbox, breaches, flow runs.

Every route names the scope it needs in its signature: `NationalAdminDep` for the State Council's
calendar and system-wide operations, `AdminDep` for what a jurisdiction's administrator sees of their
own jurisdictions (the national administrator's are all of them). `services.accounts.identity.AdminScope` is
the one place a scope is worked out; tests/e2e/test_admin_scope.py walks every admin route.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from services.api.deps import ActorDep, AdminDep, DbDep, IdemKey, NationalAdminDep
from services.api.responses import errors
from services.engine import audit, workdays
from services.engine.actors import Actor
from services.engine.calendar import DayOverride
from services.engine.clock import clock
from services.engine.errors import Forbidden, Invalid
from services.engine.idempotency import Idem, Reply, once, once_across
from services.orchestration import dispatch, incidents
from services.orchestration.timers import run_due_timers
from services.queries import admin
from services.queries import flow_runs as runs
from services.queries.admin import (
    AuditCheck,
    BreachList,
    CoveragePublic,
    IncidentList,
    IncidentRow,
    OutboxList,
    OutboxRetried,
    TimersRun,
    WebhookPublic,
    YearLoaded,
)
from services.queries.schemas import not_found
from services.store.engine import Database
from services.store.tables import WebhookEndpoint
from states.messages import reason
from states.profiles import get_profile
from states.spec import NATIONAL

router = APIRouter(prefix="/api/v1", tags=["admin"])
# every route here asks for an administrator: no token is 401, anyone else 403
ADMIN = (401, 403)


@router.get("/audit/verify", summary="Recompute the hash chains in my scope and (national scope) check the signed "
                                    "transparency log over them; name the first problem", responses=errors(*ADMIN, 422),
            response_model_exclude_unset=True)  # a jurisdiction's administrator gets no `log`: absent, not null
def verify(scope: AdminDep, db: DbDep) -> AuditCheck:
    """National: every chain, the `system` stream and the transparency log (one log for the whole
    system). A jurisdiction's administrator: the chains of their jurisdictions' cases only, and the
    answer says so."""
    with db.read() as session:
        return admin.verify_audit(session, scope)


class DayRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: date
    kind: str = Field(pattern="^(holiday|workday)$", description="holiday, or workday (调休上班)")
    name: str = Field("", max_length=100)
    jurisdiction: str | None = Field(None, max_length=8)


class YearNotice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=300, description="e.g. 国办发明电〔2026〕N号")
    days: list[DayRow] = Field(max_length=400)


def _load(db: Database, actor: Actor, year: int, body: YearNotice, jurisdiction: str, key: str | None
          ) -> dict[str, Any]:
    def command(session: Session) -> Reply:
        return 200, workdays.import_year(
            session, year=year, source=body.source, actor_id=actor.user_id, actor_role="admin",
            days=[DayOverride(d.date, d.kind == "workday", d.name, d.jurisdiction) for d in body.days],
            jurisdiction=jurisdiction)

    request = {"calendar": year, "jurisdiction": jurisdiction, **body.model_dump(mode="json")}
    return once(db, Idem(actor.key, key, request), command)[1]


@router.put("/admin/calendar/years/{year}", summary="Load a year's State Council holiday notice (national)",
            response_model=YearLoaded, responses=errors(*ADMIN, 409, 413, 422))
def load_year(year: Annotated[int, Path(ge=2000, le=2100)], body: YearNotice, actor: ActorDep,
              scope: NationalAdminDep, db: DbDep, idempotency_key: IdemKey = None) -> dict[str, Any]:
    """Replaces the year's national days only: every jurisdiction's own days stay in force."""
    return _load(db, actor, year, body, NATIONAL, idempotency_key)


@router.put("/admin/calendar/years/{year}/jurisdictions/{jurisdiction}",
            summary="Load a jurisdiction's own days of a year (its administrators, or the national one)",
            response_model=YearLoaded, responses=errors(*ADMIN, 409, 413, 422))
def load_local_days(year: Annotated[int, Path(ge=2000, le=2100)], jurisdiction: Annotated[str, Path(max_length=8)],
                    body: YearNotice, actor: ActorDep, scope: AdminDep, db: DbDep, idempotency_key: IdemKey = None
                    ) -> dict[str, Any]:
    """A local holiday or make-up day of one jurisdiction; replaces that jurisdiction's days of the year
    and nothing else. It does not make the year any less provisional: only the national notice does."""
    if get_profile(jurisdiction) is None:  # the national scope's days are the State Council's notice (above)
        raise Invalid([reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction)])
    if not scope.covers(jurisdiction):
        raise Forbidden([reason("admin_scope", code=jurisdiction)])
    return _load(db, actor, year, body, jurisdiction, idempotency_key)


@router.get("/admin/calendar/coverage", summary="Which years are loaded; how many deadlines are provisional",
            responses=errors(*ADMIN, 422))
def coverage(scope: AdminDep, db: DbDep) -> CoveragePublic:
    """The national calendar for every administrator; local loads and provisional deadlines of my scope."""
    with db.read() as session:
        return admin.coverage(session, scope)


@router.post("/admin/timers/run", summary="Fire due timers now, every jurisdiction's (national)",
             response_model=TimersRun, responses=errors(*ADMIN, 409, 422))
def run_timers(actor: ActorDep, scope: NationalAdminDep, db: DbDep, idempotency_key: IdemKey = None
               ) -> dict[str, Any]:
    """Each timer fires once whoever asks; a retry with the same key answers the first run's report."""
    return once_across(db, Idem(actor.key, idempotency_key, {"run_timers": True}),
                       lambda: (200, run_due_timers(db)))[1]


@router.get("/admin/outbox", summary="The outbox in my scope: pending, dead-lettered (with their last error) or done",
            responses=errors(*ADMIN, 422))
def outbox(scope: AdminDep, db: DbDep, status: Annotated[str, Query(pattern="^(pending|dead|done)$")] = "dead",
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> OutboxList:
    with db.read() as session:
        return admin.outbox(session, scope, status, limit)


@router.post("/admin/outbox/{outbox_id}/retry", summary="Send a dead-lettered row in my scope round again",
             response_model=OutboxRetried, responses=errors(*ADMIN, 404, 409, 422))
def retry_outbox(outbox_id: int, actor: ActorDep, scope: AdminDep, db: DbDep, idempotency_key: IdemKey = None
                 ) -> dict[str, Any]:
    row = dispatch.retry(db, outbox_id, actor.user_id, scope, actor.key, idempotency_key)
    if row is None:
        raise not_found("outbox_row")
    return row


@router.get("/admin/sla-breaches",
            summary="Missed deadlines in my scope, grouped by procedure, stage, role and jurisdiction",
            responses=errors(*ADMIN, 422))
def sla_breaches(scope: AdminDep, db: DbDep,
                 status: Annotated[str, Query(pattern="^(open|closed|all)$")] = "open") -> BreachList:
    with db.read() as session:
        return admin.sla_breaches(session, scope, status)


@router.get("/admin/incidents", summary="Incidents in my scope: failed runs, dead letters, late loops, stale "
            "outbox rows, overdue timers (active: open and acknowledged)", responses=errors(*ADMIN, 422))
def incident_list(scope: AdminDep, db: DbDep,
                  status: Annotated[str, Query(pattern="^(active|open|acknowledged|resolved|all)$")] = "active",
                  limit: Annotated[int, Query(ge=1, le=500)] = 200) -> IncidentList:
    with db.read() as session:
        return admin.incident_list(session, scope, status, limit)


@router.post("/admin/incidents/{incident_id}/{action}", summary="Acknowledge (someone is on it) or resolve an "
             "incident in my scope", response_model=IncidentRow, responses=errors(*ADMIN, 404, 409, 422))
def incident_action(incident_id: int, action: Literal["acknowledge", "resolve"], actor: ActorDep, scope: AdminDep,
                    db: DbDep, idempotency_key: IdemKey = None) -> dict[str, Any]:
    done = incidents.act(db, incident_id, action, actor.user_id, scope, actor.key, idempotency_key)
    return {k: v for k, v in done.items() if k != "key"}


@router.get("/admin/flow-runs", summary="Recent flow runs in my scope from the Prefect API, with links into its UI",
            response_model=runs.FlowRunList, responses=errors(*ADMIN, 422, 503))
async def flow_runs(scope: AdminDep, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> runs.FlowRunList:
    return await runs.recent_runs(limit, None if scope.national else scope.jurisdictions)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jurisdiction: str = Field(max_length=8)
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(pattern=r"^https?://", max_length=500)
    secret: str = Field(min_length=16, max_length=200)
    events: list[str] = Field(default_factory=list, max_length=20)


@router.post("/admin/webhooks", status_code=201, summary="Register a jurisdiction's webhook receiver",
             response_model=WebhookPublic, responses=errors(*ADMIN, 409, 413, 422))
def add_webhook(body: WebhookIn, actor: ActorDep, scope: AdminDep, db: DbDep, idempotency_key: IdemKey = None
                ) -> dict[str, Any]:
    problems = [reason("unknown_event", field="events", event=e) for e in body.events if e not in dispatch.HANDLERS]
    if get_profile(body.jurisdiction) is None:  # the national scope has no events of its own to send
        problems.insert(0, reason("unknown_jurisdiction", field="jurisdiction", code=body.jurisdiction))
    elif not scope.covers(body.jurisdiction):
        raise Forbidden([reason("admin_scope", code=body.jurisdiction)])
    if problems:
        raise Invalid(problems)

    def command(session: Session) -> Reply:
        endpoint = WebhookEndpoint(**body.model_dump())
        session.add(endpoint)
        session.flush()
        audit.append(session, stream="system", at=clock.now(), actor_id=actor.user_id, actor_role="admin",
                     event="webhook_added", payload={"id": endpoint.id, "jurisdiction": endpoint.jurisdiction,
                                                     "url": endpoint.url, "events": endpoint.events})
        return 201, {"id": endpoint.id, "jurisdiction": endpoint.jurisdiction, "name": endpoint.name,
                     "url": endpoint.url, "events": endpoint.events}

    return once(db, Idem(actor.key, idempotency_key, {"webhook": body.model_dump(mode="json")}), command)[1]
