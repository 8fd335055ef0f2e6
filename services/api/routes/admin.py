"""Administrators: the audit chain, the calendar years, the timers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from services import audit, workdays
from services.api.deps import ActorDep, DbDep
from services.calendar import DayOverride
from services.errors import Forbidden
from services.identity import Actor
from services.timers import run_due_timers
from states.messages import reason
from states.profiles import get_profile

router = APIRouter(prefix="/api/v1", tags=["admin"])


def _require_admin(actor: Actor) -> None:
    if not any(r == "admin" for r, _ in actor.grants):
        raise Forbidden([reason("role_required", roles_zh="系统管理员", roles_en="admin")])


@router.get("/audit/verify", summary="Recompute every hash chain; name the first broken link")
def verify(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _require_admin(actor)
    with db.read() as session:
        return audit.verify(session)


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
    from services.errors import Invalid

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
