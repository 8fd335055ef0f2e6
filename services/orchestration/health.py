"""Is this process fit to serve, and how is the orchestration doing: readiness checks, the heartbeats of
the orchestration loops, and the gauges /metrics publishes (read from the database at scrape time, so
every API process answers the same, whichever worker ran the loops).

A process that cannot reach its database, or finds it behind the migration head, must not start
(`require_ready`): a worker that silently used a fresh SQLite file would fail every run and look healthy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import col, select

from services.engine.clock import clock
from services.store.engine import Database
from services.store.tables import Heartbeat, Incident, Outbox, Timer
from states.messages import Reason, reason

LOOPS = ("sweep", "dispatch", "publish-log", "campaigns")


class NotReady(RuntimeError):
    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(f"{r.code}: {r.en}" for r in reasons))
        self.reasons = reasons


def migration_head() -> str | None:
    from alembic.script import ScriptDirectory

    from services.store.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def database_problems(db: Database) -> list[Reason]:
    """Reachable, and at the one migration head."""
    from alembic.migration import MigrationContext

    try:
        with db.reader.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        return [reason("database_unreachable", error=type(exc).__name__)]
    head = migration_head()
    if current != head:
        return [reason("database_not_migrated", current=current or "-", head=head or "-")]
    return []


def prefect_problems(timeout: float = 3.0) -> list[Reason]:
    """When PREFECT_API_URL is configured: its /health answers."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return []
    try:
        response = httpx.get(f"{url.rstrip('/')}/health", timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return [reason("prefect_unavailable", error=type(exc).__name__)]
    return []


def require_ready(db: Database, *, explicit_url: bool = False) -> None:
    """Refuse to start: `explicit_url` (the scaled-out processes) also refuses the SQLite default."""
    problems = []
    if explicit_url and not os.environ.get("DATABASE_URL"):
        problems.append(reason("database_not_configured"))
    else:
        problems = database_problems(db)
    if problems:
        raise NotReady(problems)


# --- heartbeats -------------------------------------------------------------------------------------


def started(db: Database, name: str, run_id: str | None) -> None:
    _beat(db, name, {"last_started_at": clock.now(), "run_id": run_id})


def finished(db: Database, name: str, run_id: str | None, error: str | None = None) -> None:
    now = clock.now()
    values: dict[str, Any] = ({"last_ok_at": now} if error is None else
                              {"last_error_at": now, "last_error": error[:2000]})
    _beat(db, name, {**values, "run_id": run_id})


def _beat(db: Database, name: str, values: dict[str, Any]) -> None:
    with db.write() as session:
        row = session.get(Heartbeat, name)
        if row is None:
            row = Heartbeat(name=name)
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)


def heartbeats(db: Database) -> dict[str, Heartbeat]:
    with db.read() as session:
        return {h.name: h for h in session.exec(select(Heartbeat))}


# --- what /metrics shows of the database ---------------------------------------------------------------


@dataclass
class Snapshot:
    outbox: dict[str, int] = field(default_factory=dict)  # pending, dead
    oldest_pending_age: float = 0.0
    oldest_due_timer_lag: float = 0.0
    timers_due: int = 0
    last_ok: dict[str, float] = field(default_factory=dict)  # loop -> unix time
    incidents: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, jurisdiction) -> open


def snapshot(db: Database, now: datetime | None = None) -> Snapshot:
    now = now or clock.now()
    out = Snapshot()
    with db.read() as session:
        for status, count in session.exec(select(col(Outbox.status), sa.func.count()).where(
                col(Outbox.status).in_(("pending", "dead"))).group_by(col(Outbox.status))):
            out.outbox[status] = count
        oldest = session.exec(select(sa.func.min(col(Outbox.created_at))).where(col(Outbox.status) == "pending")).one()
        if oldest is not None:
            out.oldest_pending_age = max(0.0, (now - _aware(oldest)).total_seconds())
        due, count = session.exec(select(sa.func.min(col(Timer.fire_at)), sa.func.count()).where(
            col(Timer.status) == "pending", col(Timer.fire_at) <= now)).one()
        if due is not None:
            out.oldest_due_timer_lag, out.timers_due = max(0.0, (now - _aware(due)).total_seconds()), count
        for beat in session.exec(select(Heartbeat)):
            if beat.last_ok_at is not None:
                out.last_ok[beat.name] = beat.last_ok_at.timestamp()
        for kind, jurisdiction, count in session.exec(
                select(col(Incident.kind), col(Incident.jurisdiction), sa.func.count())
                .where(col(Incident.status) != "resolved").group_by(col(Incident.kind), col(Incident.jurisdiction))):
            out.incidents[(kind, jurisdiction or "CN")] = count
    return out


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


class DatabaseCollector(Collector):
    """Gauges read from the database when scraped (the same from every process)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            snap = snapshot(self.db)
        except Exception:
            up = GaugeMetricFamily("carbon_database_up", "Whether the database answered this scrape")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("carbon_database_up", "Whether the database answered this scrape")
        up.add_metric([], 1)
        yield up
        outbox = GaugeMetricFamily("carbon_outbox_rows", "Outbox rows not yet delivered", labels=["status"])
        for status in ("pending", "dead"):
            outbox.add_metric([status], snap.outbox.get(status, 0))
        yield outbox
        yield _gauge("carbon_outbox_oldest_pending_age_seconds", "Age of the oldest pending outbox row",
                     snap.oldest_pending_age)
        yield _gauge("carbon_timer_oldest_due_lag_seconds", "How late the oldest due, unfired timer is",
                     snap.oldest_due_timer_lag)
        yield _gauge("carbon_timers_due", "Timers due and not yet fired", snap.timers_due)
        last = GaugeMetricFamily("carbon_loop_last_success_timestamp_seconds",
                                 "When each orchestration loop last finished well (unix time)", labels=["loop"])
        for loop, value in sorted(snap.last_ok.items()):
            last.add_metric([loop], value)
        yield last
        open_ = GaugeMetricFamily("carbon_incidents_open", "Incidents not yet resolved",
                                  labels=["kind", "jurisdiction"])
        for (kind, jurisdiction), count in sorted(snap.incidents.items()):
            open_.add_metric([kind, jurisdiction], count)
        yield open_


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc)
    gauge.add_metric([], value)
    return gauge


def all_problems(db: Database) -> Iterable[Reason]:
    return [*database_problems(db), *prefect_problems()]
