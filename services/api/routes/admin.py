"""Administrators: the audit chain, the calendar years, the timers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from services import audit, dispatch, workdays
from services.api.deps import ActorDep, DbDep
from services.calendar import DayOverride
from services.clock import clock
from services.errors import Forbidden, Invalid, NotFound
from services.identity import Actor
from services.store.tables import Outbox, SlaBreach, WebhookEndpoint
from services.timers import run_due_timers
from services.transparency import verify as transparency
from states.messages import Reason, reason
from states.profiles import get_profile

router = APIRouter(prefix="/api/v1", tags=["admin"])


def _require_admin(actor: Actor) -> None:
    if not any(r == "admin" for r, _ in actor.grants):
        raise Forbidden([reason("role_required", roles_zh="系统管理员", roles_en="admin")])


@router.get("/audit/verify", summary="Recompute every hash chain and check the signed transparency log over "
                                    "them; name the first problem")
def verify(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _require_admin(actor)
    with db.read() as session:
        return transparency.with_log(audit.verify(session), session)


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


@router.put("/admin/calendar/years/{year}", summary="Load a year's State Council holiday notice")
def load_year(year: Annotated[int, Path(ge=2000, le=2100)], body: YearNotice, actor: ActorDep, db: DbDep
              ) -> dict[str, Any]:
    _require_admin(actor)
    unknown = [d.jurisdiction for d in body.days if d.jurisdiction and get_profile(d.jurisdiction) is None]
    if unknown:
        raise Invalid([reason("unknown_jurisdiction", field="days", code=c) for c in sorted(set(unknown))])
    with db.write() as session:
        return workdays.import_year(
            session, year=year, source=body.source, actor_id=actor.user_id, actor_role="admin",
            days=[DayOverride(d.date, d.kind == "workday", d.name, d.jurisdiction) for d in body.days])


@router.get("/admin/calendar/coverage", summary="Which years are loaded; how many deadlines are provisional")
def coverage(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _require_admin(actor)
    with db.read() as session:
        return workdays.coverage(session)


@router.post("/admin/timers/run", summary="Fire due timers now (the sweep does this on schedule)")
def run_timers(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _require_admin(actor)
    return run_due_timers(db)


def _admin_jurisdictions(actor: Actor) -> list[str]:
    _require_admin(actor)
    return sorted(j for r, j in actor.grants if r == "admin")


@router.get("/admin/outbox", summary="The outbox: pending, dead-lettered (with their last error) or done")
def outbox(actor: ActorDep, db: DbDep, status: Annotated[str, Query(pattern="^(pending|dead|done)$")] = "dead",
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    js = _admin_jurisdictions(actor)
    with db.read() as session:
        rows = session.exec(select(Outbox).where(Outbox.status == status).order_by(Outbox.id.desc())  # type: ignore[union-attr]
                            .limit(limit * 4))
        items = [{"id": o.id, "key": o.key, "kind": o.kind, "case_id": o.case_id, "status": o.status,
                  "attempts": o.attempts, "last_error": o.last_error, "created_at": o.created_at.isoformat(),
                  "available_at": o.available_at.isoformat()}
                 for o in rows if o.payload.get("jurisdiction") in js or o.payload.get("jurisdiction") is None]
        return {"items": items[:limit]}


@router.post("/admin/outbox/{outbox_id}/retry", summary="Send a dead-lettered row round again")
def retry_outbox(outbox_id: int, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _admin_jurisdictions(actor)
    row = dispatch.retry(db, outbox_id, actor.user_id)
    if row is None:
        raise NotFound.of("发件箱记录", "Outbox row")
    return {"id": row.id, "status": row.status, "attempts": row.attempts}


@router.get("/admin/sla-breaches", summary="Missed deadlines, grouped by procedure, stage, role and jurisdiction")
def sla_breaches(actor: ActorDep, db: DbDep,
                 status: Annotated[str, Query(pattern="^(open|closed|all)$")] = "open") -> dict[str, Any]:
    js = _admin_jurisdictions(actor)
    with db.read() as session:
        q = select(SlaBreach).where(SlaBreach.jurisdiction.in_(js))  # type: ignore[attr-defined]
        if status == "open":
            q = q.where(SlaBreach.resolved_at.is_(None))  # type: ignore[union-attr]
        elif status == "closed":
            q = q.where(SlaBreach.resolved_at.is_not(None))  # type: ignore[union-attr]
        rows = list(session.exec(q.order_by(SlaBreach.detected_at.desc()).limit(1000)))  # type: ignore[attr-defined]
    groups: dict[str, dict[str, int]] = {"procedure": {}, "stage": {}, "role": {}, "jurisdiction": {}, "kind": {}}
    for b in rows:
        for dim, value in (("procedure", b.procedure), ("stage", b.stage), ("role", b.role or "-"),
                           ("jurisdiction", b.jurisdiction), ("kind", b.kind)):
            groups[dim][value] = groups[dim].get(value, 0) + 1
    return {"groups": groups, "items": [
        {"id": b.id, "kind": b.kind, "case_id": b.case_id, "task_id": b.task_id, "procedure": b.procedure,
         "jurisdiction": b.jurisdiction, "stage": b.stage, "role": b.role,
         "due_at": b.due_at.isoformat() if b.due_at else None, "detected_at": b.detected_at.isoformat(),
         "resolved_at": b.resolved_at.isoformat() if b.resolved_at else None,
         "escalation_task_id": b.escalation_task_id} for b in rows]}


@router.get("/admin/flow-runs", summary="Recent flow runs from the Prefect API, with links into its UI")
async def flow_runs(actor: ActorDep, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    _require_admin(actor)
    from flows.runs import recent_runs

    return await recent_runs(limit)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jurisdiction: str = Field(max_length=8)
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(pattern=r"^https?://", max_length=500)
    secret: str = Field(min_length=16, max_length=200)
    events: list[str] = Field(default_factory=list, max_length=20)


@router.post("/admin/webhooks", status_code=201, summary="Register a jurisdiction's webhook receiver")
def add_webhook(body: WebhookIn, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    if body.jurisdiction not in _admin_jurisdictions(actor):
        raise Forbidden([reason("role_required", roles_zh="该辖区系统管理员", roles_en="admin of that jurisdiction")])
    unknown = [e for e in body.events if e not in dispatch.HANDLERS]
    if unknown:
        raise Invalid([Reason("unknown_event", f"未知事件：{e}", f"Unknown event: {e}", "events") for e in unknown])
    with db.write() as session:
        endpoint = WebhookEndpoint(**body.model_dump())
        session.add(endpoint)
        session.flush()
        audit.append(session, stream="system", at=clock.now(), actor_id=actor.user_id, actor_role="admin",
                     event="webhook_added", payload={"id": endpoint.id, "jurisdiction": endpoint.jurisdiction,
                                                     "url": endpoint.url, "events": endpoint.events})
        return {"id": endpoint.id, "jurisdiction": endpoint.jurisdiction, "name": endpoint.name,
                "url": endpoint.url, "events": endpoint.events}
