"""Read models for the administrators' dashboard: how long cases stay in each stage, and where deadlines
are missed, week by week.

Pure functions over rows (no I/O), so they are tested on hand-made rows; `load_*` and `breach_groups` query
the database. A stage's cycle time is the time between the audit event that entered a state and the
one that left it; events that stay in a state (an expert's opinion, a panel composed) are not a leave.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine.calendar import SHANGHAI
from services.store.tables import AuditEvent, Case, SlaBreach

WEEKS = 12
CHUNK = 2000  # case ids per IN list (SQLite's bound-parameter limit)


@dataclass(frozen=True)
class Stay:
    case_id: int
    stage: str
    entered: datetime
    left: datetime

    @property
    def days(self) -> float:
        return (self.left - self.entered).total_seconds() / 86400


def stays(transitions: Iterable[tuple[int, datetime, str | None, str | None]]) -> list[Stay]:
    """Finished stays from (case id, at, from state, to state) rows in chain order per case."""
    current: dict[int, tuple[str, datetime]] = {}
    out: list[Stay] = []
    for case_id, at, from_state, to_state in transitions:
        if to_state is None or from_state == to_state:
            continue
        held = current.get(case_id)
        if held is not None and held[0] == from_state:
            out.append(Stay(case_id, held[0], held[1], at))
        current[case_id] = (to_state, at)
    return out


def week_starts(today: date, weeks: int = WEEKS) -> list[date]:
    """The Mondays of the last `weeks` weeks, oldest first, this week last."""
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


@dataclass
class StageRow:
    stage: str
    medians: list[float | None]
    breaches: list[int]
    counts: list[int]

    @property
    def total_breaches(self) -> int:
        return sum(self.breaches)


@dataclass
class Weekly:
    weeks: list[date]
    stages: list[StageRow] = field(default_factory=list)

    @property
    def breaches(self) -> list[int]:
        return [sum(s.breaches[i] for s in self.stages) for i in range(len(self.weeks))]


def weekly(finished: Iterable[Stay], breaches: Iterable[tuple[str, datetime]], today: date,
           weeks: int = WEEKS) -> Weekly:
    """Per stage and week (Beijing time): the median stay of those that ended that week, how many ended,
    and how many deadlines were found missed. Stages with nothing in the window are left out."""
    starts = week_starts(today, weeks)
    # each week's first instant (midnight in Beijing), and the end of the last
    edges = [datetime.combine(d, datetime.min.time(), SHANGHAI) for d in (*starts, starts[-1] + timedelta(weeks=1))]

    def slot(moment: datetime) -> int | None:
        i = bisect.bisect_right(edges, moment) - 1
        return i if 0 <= i < weeks else None

    durations: dict[str, list[list[float]]] = {}
    missed: dict[str, list[int]] = {}
    for s in finished:
        i = slot(s.left)
        if i is not None:
            if s.stage not in durations:
                durations[s.stage] = [[] for _ in starts]
            durations[s.stage][i].append(s.days)
    for stage, detected in breaches:
        i = slot(detected)
        if i is not None:
            missed.setdefault(stage, [0] * weeks)[i] += 1
    rows = []
    for stage in set(durations) | set(missed):
        per_week = durations.get(stage, [[] for _ in starts])
        rows.append(StageRow(stage, [statistics.median(d) if d else None for d in per_week],
                             missed.get(stage, [0] * weeks), [len(d) for d in per_week]))
    # the stages that miss most deadlines first, then the busiest
    rows.sort(key=lambda r: (-r.total_breaches, -sum(r.counts), r.stage))
    return Weekly(starts, rows)


def load_weekly(session: Session, jurisdictions: list[str], today: date, procedure: str | None = None,
                weeks: int = WEEKS) -> Weekly:
    """The queries behind `weekly`: the transitions of the cases touched in the window (their whole chain,
    so a stay entered before the window is measured whole), and the breaches found in it."""
    since = datetime.combine(week_starts(today, weeks)[0], datetime.min.time(), SHANGHAI)
    scope = [col(Case.jurisdiction).in_(jurisdictions), col(Case.updated_at) >= since]
    if procedure:
        scope.append(col(Case.procedure) == procedure)
    # every command stamps updated_at: the cases table is scanned instead of the (larger) audit trail
    moved = sorted(i for i in session.exec(select(col(Case.id)).where(*scope)) if i is not None)
    rows: list[tuple[int, datetime, str | None, str | None]] = []
    for i in range(0, len(moved), CHUNK):
        of_chunk = col(AuditEvent.case_id).in_(moved[i:i + CHUNK])
        chain = session.exec(select(col(AuditEvent.case_id), col(AuditEvent.at),
                                    col(AuditEvent.from_state), col(AuditEvent.to_state))
                             .where(of_chunk, col(AuditEvent.to_state).is_not(None))
                             .order_by(col(AuditEvent.case_id), col(AuditEvent.seq)))
        rows += [(case_id, at, left, entered) for case_id, at, left, entered in chain if case_id is not None]
    q = select(col(SlaBreach.stage), col(SlaBreach.detected_at)).where(
        col(SlaBreach.jurisdiction).in_(jurisdictions), col(SlaBreach.detected_at) >= since)
    if procedure:
        q = q.where(col(SlaBreach.procedure) == procedure)
    return weekly(stays(rows), list(session.exec(q)), today, weeks)


def _breach_filter(jurisdictions: list[str], status: str, procedure: str | None) -> list[Any]:
    where: list[Any] = [col(SlaBreach.jurisdiction).in_(jurisdictions)]
    if status == "open":
        where.append(col(SlaBreach.resolved_at).is_(None))
    elif status == "closed":
        where.append(col(SlaBreach.resolved_at).is_not(None))
    if procedure:
        where.append(col(SlaBreach.procedure) == procedure)
    return where


def load_breaches(session: Session, jurisdictions: list[str], status: str, procedure: str | None = None,
                  limit: int = 100) -> list[SlaBreach]:
    """The latest breaches, newest first."""
    q = select(SlaBreach).where(*_breach_filter(jurisdictions, status, procedure))
    return list(session.exec(q.order_by(sa.desc(col(SlaBreach.detected_at)), sa.desc(col(SlaBreach.id))).limit(limit)))


DIMENSIONS = ("procedure", "stage", "role", "jurisdiction", "kind")


def breach_groups(session: Session, jurisdictions: list[str], status: str,
                  procedure: str | None = None) -> dict[str, dict[str, int]]:
    """Breaches counted by procedure, stage, role, jurisdiction and kind (all of them, not a page), largest
    first; a breach of the statutory clock has no role ("-")."""
    where = _breach_filter(jurisdictions, status, procedure)
    out: dict[str, dict[str, int]] = {}
    for dim in DIMENSIONS:
        column = getattr(SlaBreach, dim)
        rows = session.exec(select(column, sa.func.count()).where(*where).group_by(column))
        counts = {(value or "-"): n for value, n in rows}
        out[dim] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out
