"""Working-day arithmetic as anyone may ask it (DESIGN §5): the same answers the deadlines are computed
with, China's statutory calendar with the loaded notices and a jurisdiction's own days."""

from __future__ import annotations

from datetime import date

from pydantic import Field
from sqlmodel import Session

from services.engine.errors import Invalid
from services.engine.workdays import calendar
from services.queries.schemas import Instant, Public
from states.messages import reason
from states.profiles import get_profile

EARLIEST, LATEST = date(1900, 1, 1), date(2099, 12, 31)  # the holiday rules' range (lunar tables)
PROVISIONAL = ("Counted in a year whose holiday notice is not loaded yet (weekends only): it may move when the "
               "year is loaded")


def in_range(*days: date) -> None:
    if any(not EARLIEST <= d <= LATEST for d in days):
        raise Invalid([reason("date_range", field="start")])


def known_jurisdiction(code: str | None) -> str | None:
    if code is not None and get_profile(code) is None:
        raise Invalid([reason("unknown_jurisdiction", field="jurisdiction", code=code)])
    return code


class WorkingDaysAdded(Public):
    start: date
    days: int
    end: date = Field(description="The Nth working day after start (start itself not counted)")
    provisional: bool = Field(description=PROVISIONAL)


def add_working_days(session: Session, start: date, days: int, jurisdiction: str | None) -> WorkingDaysAdded:
    j = known_jurisdiction(jurisdiction)
    in_range(start)
    try:
        answer = calendar(session).add_working_days(start, days, j)
    except (ValueError, OverflowError) as exc:  # the count ran past the supported years
        raise Invalid([reason("date_range", field="days")]) from exc
    return WorkingDaysAdded(start=start, days=days, end=answer.end, provisional=answer.provisional)


class WorkingDaysBetween(Public):
    start: date
    end: date
    days: int = Field(description="Working days d with start < d ≤ end")
    provisional: bool = Field(description=PROVISIONAL)


def working_days_between(session: Session, start: date, end: date, jurisdiction: str | None) -> WorkingDaysBetween:
    j = known_jurisdiction(jurisdiction)
    if end < start:
        raise Invalid([reason("date_order", field="end")])
    in_range(start, end)
    if (end - start).days > 3660:
        raise Invalid([reason("range_too_long", field="end")])
    answer = calendar(session).working_days_between(start, end, j)
    return WorkingDaysBetween(start=start, end=end, days=answer.days, provisional=answer.provisional)


class PublicityPeriod(Public):
    """A publicity period of N working days: from the first working day after publication (or the day
    itself, where the profile counts it) to the end of the Nth (Civil Code arts. 201–203)."""

    published: date
    days: int
    first_day: date
    last_day: date
    closes_at: Instant = Field(description="24:00 Asia/Shanghai of the last day")
    provisional: bool = Field(description=PROVISIONAL)


def publicity(session: Session, published: date, days: int, jurisdiction: str | None) -> PublicityPeriod:
    j = known_jurisdiction(jurisdiction)
    profile = get_profile(j) if j else None
    counts = bool(profile and profile.registration.publication_day_counts)
    in_range(published)
    try:
        period = calendar(session).publicity(published, days, publication_day_counts=counts, jurisdiction=j)
    except (ValueError, OverflowError) as exc:
        raise Invalid([reason("date_range", field="days")]) from exc
    return PublicityPeriod(published=published, days=days, first_day=period.first_day, last_day=period.last_day,
                           closes_at=period.closes_at, provisional=period.provisional)
