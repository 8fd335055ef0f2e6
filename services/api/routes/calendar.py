"""Public working-day arithmetic (DESIGN §5): the same answers the deadlines are computed with."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import DbDep
from services.api.responses import errors
from services.queries import calendar
from services.queries.calendar import PublicityPeriod, WorkingDaysAdded, WorkingDaysBetween

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"], responses=errors(422))

Days = Annotated[int, Query(ge=1, le=3650, description="working days, N ≥ 1")]


@router.get("/add-working-days", summary="The Nth working day after start (start itself not counted)")
def add_working_days(start: date, days: Days, db: DbDep, jurisdiction: str | None = None) -> WorkingDaysAdded:
    with db.read() as session:
        return calendar.add_working_days(session, start, days, jurisdiction)


@router.get("/working-days-between", summary="Working days d with start < d ≤ end")
def working_days_between(start: date, end: date, db: DbDep, jurisdiction: str | None = None) -> WorkingDaysBetween:
    with db.read() as session:
        return calendar.working_days_between(session, start, end, jurisdiction)


@router.get("/publicity", summary="A publicity period of N working days published on a day")
def publicity(published: date, days: Days, db: DbDep, jurisdiction: str | None = None) -> PublicityPeriod:
    with db.read() as session:
        return calendar.publicity(session, published, days, jurisdiction)
