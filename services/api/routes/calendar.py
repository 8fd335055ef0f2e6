"""Public working-day arithmetic (DESIGN §5): the same answers the deadlines are computed with."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.api.deps import DbDep
from services.engine.errors import Invalid
from services.engine.workdays import calendar
from states.messages import Reason, reason
from states.profiles import get_profile

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])

Days = Annotated[int, Query(ge=1, le=3650, description="working days, N ≥ 1")]


EARLIEST, LATEST = date(1900, 1, 1), date(2099, 12, 31)  # the holiday rules' range (lunar tables)


def _in_range(*days: date) -> None:
    if any(not EARLIEST <= d <= LATEST for d in days):
        raise Invalid([reason("date_range", field="start")])


def _jurisdiction(code: str | None) -> str | None:
    if code is not None and get_profile(code) is None:
        raise Invalid([reason("unknown_jurisdiction", field="jurisdiction", code=code)])
    return code


@router.get("/add-working-days", summary="The Nth working day after start (start itself not counted)")
def add_working_days(start: date, days: Days, db: DbDep, jurisdiction: str | None = None) -> dict[str, Any]:
    j = _jurisdiction(jurisdiction)
    _in_range(start)
    with db.read() as session:
        try:
            answer = calendar(session).add_working_days(start, days, j)
        except (ValueError, OverflowError) as exc:  # the count ran past the supported years
            raise Invalid([reason("date_range", field="days")]) from exc
    return {"start": start.isoformat(), "days": days, "end": answer.end.isoformat(),
            "provisional": answer.provisional}


@router.get("/working-days-between", summary="Working days d with start < d ≤ end")
def working_days_between(start: date, end: date, db: DbDep, jurisdiction: str | None = None) -> dict[str, Any]:
    j = _jurisdiction(jurisdiction)
    if end < start:
        raise Invalid([Reason("date_order", "结束日期早于开始日期", "end is before start", "end")])
    _in_range(start, end)
    if (end - start).days > 3660:
        raise Invalid([Reason("range_too_long", "日期范围不能超过十年", "The range may not exceed ten years", "end")])
    with db.read() as session:
        answer = calendar(session).working_days_between(start, end, j)
    return {"start": start.isoformat(), "end": end.isoformat(), "days": answer.days,
            "provisional": answer.provisional}


@router.get("/publicity", summary="A publicity period of N working days published on a day")
def publicity(published: date, days: Days, db: DbDep, jurisdiction: str | None = None) -> dict[str, Any]:
    j = _jurisdiction(jurisdiction)
    profile = get_profile(j) if j else None
    counts = bool(profile and profile.registration.publication_day_counts)
    _in_range(published)
    with db.read() as session:
        try:
            period = calendar(session).publicity(published, days, publication_day_counts=counts, jurisdiction=j)
        except (ValueError, OverflowError) as exc:
            raise Invalid([reason("date_range", field="days")]) from exc
    return {"published": published.isoformat(), "days": days, "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(), "closes_at": period.closes_at.isoformat(),
            "provisional": period.provisional}
