"""Work and deadlines a state declares: the tasks it opens for people, the timers it arms, and when each
is due. Every task's due date and every timer's moment comes from one of these `Due` values, worked
out by the engine in one place (`services.engine.deadlines`); no effect patches a due date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from states.profiles import Profile


class WorkingCalendar(Protocol):
    """The statutory calendar (services.engine.calendar.WorkingCalendar): pure arithmetic, given."""

    def add_working_days(self, start: date, days: int, jurisdiction: str | None = None) -> Any: ...


@dataclass(frozen=True)
class DueInput:
    """What a deadline may depend on: the case's application, its vintage, today, the profile."""

    jurisdiction: str
    application: Mapping[str, Any]
    vintage: int | None
    today: date
    profile: Profile
    calendar: WorkingCalendar


@dataclass(frozen=True)
class DueDate:
    """The last day (the deadline runs to its end, Asia/Shanghai); `days` when counted in working days from
    `today` (kept, so that loading a new year's calendar recomputes a provisional deadline)."""

    on: date
    days: int | None = None
    provisional: bool = False


class Due(Protocol):
    def __call__(self, inp: DueInput) -> DueDate | None: ...


def _counted(inp: DueInput, days: int) -> DueDate:
    answer = inp.calendar.add_working_days(inp.today, days, inp.jurisdiction)
    return DueDate(answer.end, days, answer.provisional)


@dataclass(frozen=True)
class WorkingDays:
    """The profile's SLA `sla`, in working days from today."""

    sla: str

    def __call__(self, inp: DueInput) -> DueDate:
        return _counted(inp, inp.profile.sla_days(self.sla))


@dataclass(frozen=True)
class WorkingDaysAfter:
    """The profile's SLA `sla`, counted after the work it follows (`after`, SLAs of tasks opened with it):
    working days from today, their days and its own. The panel's chair concludes on the members'
    opinions, so the conclusion is due after the opinions are, never before them (issue 15)."""

    sla: str
    after: tuple[str, ...]

    def __call__(self, inp: DueInput) -> DueDate:
        return _counted(inp, sum(inp.profile.sla_days(s) for s in (*self.after, self.sla)))


@dataclass(frozen=True)
class AnnualDate:
    """A day of the year after the vintage, from the profile (`MM-DD`), or no deadline where the profile
    sets none (e.g. an issuance window only where issuance is annual)."""

    setting: Callable[[Profile], str | None]

    def __call__(self, inp: DueInput) -> DueDate | None:
        day = self.setting(inp.profile)
        if day is None or inp.vintage is None:
            return None
        month, dom = map(int, day.split("-"))
        return DueDate(date(inp.vintage + 1, month, dom))


@dataclass(frozen=True)
class LatestNoticeDays:
    """Working days from today set by the latest notice kept in the application (`notices[-1][field]`),
    else the profile's default."""

    field: str
    default: Callable[[Profile], int]

    def __call__(self, inp: DueInput) -> DueDate:
        notices = inp.application.get("notices") or [{}]
        return _counted(inp, notices[-1].get(self.field) or self.default(inp.profile))


@dataclass(frozen=True)
class RequestedDays:
    """Working days from today where the application asks for them (`application[field]`: an officer's
    request, or a report filed late on the owner's own motion), else `otherwise`."""

    field: str
    otherwise: Due

    def __call__(self, inp: DueInput) -> DueDate | None:
        days = inp.application.get(self.field)
        return _counted(inp, int(days)) if days else self.otherwise(inp)


@dataclass(frozen=True)
class FirstOf:
    """The first of these that sets a deadline."""

    dues: tuple[Due, ...]

    def __call__(self, inp: DueInput) -> DueDate | None:
        return next((d for d in (due(inp) for due in self.dues) if d is not None), None)


def sla_names(due: Due | None) -> set[str]:
    """The profile SLAs a deadline reads (checked against each profile when profiles load)."""
    if isinstance(due, WorkingDays):
        return {due.sla}
    if isinstance(due, WorkingDaysAfter):
        return {due.sla, *due.after}
    if isinstance(due, FirstOf):
        return {n for d in due.dues for n in sla_names(d)}
    return set()


@dataclass(frozen=True)
class Joint:
    """An AND-join (Shanghai art. 13: the centre reviews a scenario together with the exchange): completing
    a joint task with `moves_on` moves the case only once it is the last joint task of its kind open;
    completing it with any other of its triggers (a failed review) moves the case at once."""

    moves_on: str


@dataclass(frozen=True)
class TaskSpec:
    """A piece of work opened when a case enters a state (or takes an arrow that `opens` it).

    `triggers` complete it; `sla` names the profile's working-day limit (its due date, unless `due`
    says otherwise). `when` opens it only for some cases (e.g. scenarios only)."""

    kind: str
    role: str
    triggers: tuple[str, ...]
    sla: str | None = None
    due: Due | None = None
    joint: Joint | None = None
    when: Callable[[Any, Profile], bool] | None = None  # (CaseView, Profile) -> bool

    @property
    def deadline(self) -> Due | None:
        return self.due if self.due is not None else (WorkingDays(self.sla) if self.sla else None)


@dataclass(frozen=True)
class TimerSpec:
    """A timer armed on entry: fires `trigger` as the system actor when its deadline has passed (at the end
    of its last day); none where the deadline is None."""

    kind: str
    trigger: str
    due: Due


# The approver's queue gets a task when a deadline is missed (services.orchestration.sweep); every
# procedure takes its acknowledgement in every open state (ProcedureSpec adds the arrow).
ESCALATION = TaskSpec("sla_escalation", "approver", ("acknowledge_escalation",))
