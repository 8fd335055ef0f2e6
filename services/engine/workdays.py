"""The calendar in force: the package's data plus the overrides administrators loaded (DESIGN §5).

Built from the database and cached per process; the cache is keyed by a cheap fingerprint of the
override tables, so a year loaded through another process is seen on the next command.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine import audit
from services.engine.calendar import DayOverride, WorkingCalendar, end_of_day_utc, local_date
from services.engine.clock import clock
from services.engine.errors import Invalid
from services.store import unit_of_work
from services.store.records import FINGERPRINT_KEY
from services.store.tables import CalendarOverride, CalendarYear, Notice, Task, Timer
from states.messages import Reason, label, reason
from states.profiles import get_profile
from states.spec import NATIONAL

_lock = threading.Lock()
CALENDAR_KEY = "carbon.calendar"  # the unit of work's memo: the calendar a transaction uses
_cached: tuple[tuple[Any, ...], WorkingCalendar] | None = None


# Every load bumps its year's revision, so (years, sum of revisions) changes with any load. Built once:
# every command asks.
_FINGERPRINT = select(sa.func.count(), sa.func.coalesce(sa.func.sum(CalendarYear.revision), 0)).select_from(
    CalendarYear)


def _fingerprint(session: Session) -> tuple[Any, ...]:
    """Read once a transaction: a command reads it with its case (services.store.records)."""
    known = session.info.get(FINGERPRINT_KEY)
    if known is None:
        known = session.info[FINGERPRINT_KEY] = tuple(session.exec(_FINGERPRINT).one())
    return tuple(known)


def calendar(session: Session) -> WorkingCalendar:
    global _cached
    key = _fingerprint(session)
    with _lock:
        if _cached and _cached[0] == key:
            return _cached[1]
    overrides = [DayOverride(o.day, o.workday, o.name, o.jurisdiction)
                 for o in session.exec(select(CalendarOverride))]
    # only the State Council's notice makes a year no longer provisional; a jurisdiction's own days do not
    years = [y.year for y in session.exec(select(CalendarYear).where(CalendarYear.jurisdiction == NATIONAL))]
    built = WorkingCalendar(overrides, years)
    with _lock:
        _cached = (key, built)
    return built


def forget_calendar(session: Session) -> None:
    """After a load in this transaction: the fingerprint and calendar it read before no longer hold."""
    session.info.pop(FINGERPRINT_KEY, None)
    uow = session.info.get(unit_of_work.KEY)
    if uow is not None:
        uow.memo.pop(CALENDAR_KEY, None)


def due_after(cal: WorkingCalendar, opened: datetime, days: int, jurisdiction: str) -> tuple[date, datetime, bool]:
    """A deadline of `days` working days from the moment something opened: the end of that day."""
    answer = cal.add_working_days(local_date(opened), days, jurisdiction)
    return answer.end, end_of_day_utc(answer.end), answer.provisional


def _problems(year: int, days: list[DayOverride], jurisdiction: str) -> list[Reason]:
    """Every reason a load cannot be taken. A load holds the days of its own year and scope: the State
    Council's notice national days only; a jurisdiction's load its own (a day naming no jurisdiction is
    the load's)."""
    problems = []
    if jurisdiction != NATIONAL and get_profile(jurisdiction) is None:
        problems.append(reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction))
    if any(d.day.year != year for d in days):
        problems.append(reason("calendar_year", field="days", year=year))
    for d in days:
        if jurisdiction == NATIONAL and d.jurisdiction is not None:
            problems.append(reason("calendar_local_day", field="days", day=d.day.isoformat(), code=d.jurisdiction))
        elif d.jurisdiction not in (None, jurisdiction):
            problems.append(reason("calendar_other_jurisdiction", field="days", day=d.day.isoformat(),
                                   code=d.jurisdiction, load=jurisdiction))
    seen: set[date] = set()
    for d in days:
        if d.day in seen:
            where = label(f"jurisdiction.{NATIONAL}") if jurisdiction == NATIONAL else None
            problems.append(reason("calendar_duplicate", field="days", day=d.day.isoformat(),
                                   jurisdiction_zh=where["zh"] if where else jurisdiction,
                                   jurisdiction_en=where["en"] if where else jurisdiction))
        seen.add(d.day)
    return problems


def import_year(session: Session, *, year: int, days: list[DayOverride], source: str,
                actor_id: int | None, actor_role: str, jurisdiction: str = NATIONAL) -> dict[str, Any]:
    """Load a year's days for one scope: the State Council's notice (national: its holidays and make-up
    workdays) or a jurisdiction's own days. Replaces that scope's previous load of the year and nothing
    else: the national notice leaves every jurisdiction's own days in force, and the other way round."""
    problems = _problems(year, days, jurisdiction)
    if problems:
        raise Invalid(problems, dates=[d.day.isoformat() for d in days if d.day.year != year])
    local = None if jurisdiction == NATIONAL else jurisdiction
    days = [DayOverride(d.day, d.workday, d.name, local) for d in days]
    in_scope = (col(CalendarOverride.jurisdiction).is_(None) if local is None
                else col(CalendarOverride.jurisdiction) == local)
    replaced = sa.delete(CalendarOverride).where(col(CalendarOverride.year) == year, in_scope)
    session.exec(replaced)
    for d in days:
        session.add(CalendarOverride(day=d.day, year=year, workday=d.workday, name=d.name,
                                     jurisdiction=d.jurisdiction))
    existing = session.get(CalendarYear, (year, jurisdiction))
    now = clock.now()
    if existing:
        existing.source, existing.loaded_at, existing.revision = source, now, existing.revision + 1
        session.add(existing)
    else:
        session.add(CalendarYear(year=year, jurisdiction=jurisdiction, source=source, loaded_at=now))
    session.flush()
    forget_calendar(session)
    recomputed = recompute_provisional(session)
    audit.append(session, stream="system", at=now, actor_id=actor_id, actor_role=actor_role,
                 event="calendar_year_loaded",
                 payload={"year": year, "jurisdiction": jurisdiction, "days": len(days), "source": source,
                          **recomputed})
    return {"year": year, "jurisdiction": jurisdiction, "days": len(days), **recomputed}


def recompute_provisional(session: Session) -> dict[str, int]:
    """Open deadlines computed provisionally are computed again with the calendar now in force."""
    cal = calendar(session)
    tasks = timers = 0
    for t in session.exec(select(Task).where(col(Task.status) == "open", col(Task.due_provisional).is_(True))):
        if t.sla_days:
            t.due_on, t.due_at, t.due_provisional = due_after(cal, t.opened_at, t.sla_days, t.jurisdiction)
            session.add(t)
            tasks += 1
    for tm in session.exec(select(Timer).where(col(Timer.status) == "pending", col(Timer.provisional).is_(True))):
        if tm.base_on and tm.days:
            notice_kind = {"publicity_end": "publicity", "comment_period_end": "consultation"}.get(tm.kind)
            if notice_kind:
                notice = session.exec(select(Notice).where(Notice.case_id == tm.case_id, Notice.kind == notice_kind,
                                                           Notice.status == "open")).first()
                if notice is None:
                    continue
                profile = get_profile(notice.jurisdiction)
                counts = bool(profile and profile.registration.publication_day_counts)  # same in every procedure
                period = cal.publicity(notice.published_on, tm.days, publication_day_counts=counts,
                                       jurisdiction=notice.jurisdiction)
                notice.first_day, notice.last_day = period.first_day, period.last_day
                notice.closes_at, notice.provisional = period.closes_at, period.provisional
                session.add(notice)
                tm.fire_at, tm.provisional = period.closes_at, period.provisional
            else:
                answer = cal.add_working_days(tm.base_on, tm.days, tm.jurisdiction)
                tm.fire_at, tm.provisional = end_of_day_utc(answer.end), answer.provisional
            session.add(tm)
            timers += 1
    return {"tasks_recomputed": tasks, "timers_recomputed": timers}


def coverage(session: Session, jurisdictions: Iterable[str] | None = None) -> dict[str, Any]:
    """The calendar in force (national, the same for everyone) and, with `jurisdictions`, only their own
    loads and their provisional deadlines (a jurisdiction administrator's view)."""
    cal = calendar(session)
    this_year = local_date(clock.now()).year
    js = None if jurisdictions is None else sorted(jurisdictions)

    def provisional(table: Any, *where: Any) -> int:
        q = select(sa.func.count()).select_from(table).where(*where)
        return int(session.exec(q if js is None else q.where(table.jurisdiction.in_(js))).one())

    years = session.exec(select(CalendarYear).order_by(col(CalendarYear.year), col(CalendarYear.jurisdiction)))
    loaded = [{"year": y.year, "jurisdiction": y.jurisdiction, "source": y.source, "loaded_at": y.loaded_at.isoformat()}
              for y in years]
    return {
        "covered_years": sorted(y for y in cal.covered_years() if y >= this_year - 3),
        "loaded_years": [y for y in loaded if y["jurisdiction"] == NATIONAL],
        "local_loads": [y for y in loaded if y["jurisdiction"] != NATIONAL and (js is None or y["jurisdiction"] in js)],
        "provisional_years_ahead": [y for y in (this_year, this_year + 1, this_year + 2)
                                    if cal.is_provisional_year(y)],
        "provisional_open_tasks": provisional(Task, col(Task.status) == "open", col(Task.due_provisional).is_(True)),
        "provisional_pending_timers": provisional(Timer, col(Timer.status) == "pending",
                                                  col(Timer.provisional).is_(True)),
    }
