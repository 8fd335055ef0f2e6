"""Firing due timers: publicity ends, supplement deadlines. The sweep (`services.orchestration.sweep`) and the
CLI's `tick` call `run_due_timers`.

Every timer fires through the same command path as people (`cases.fire_locked`, actor `system`),
with the same effects as if it fired alone. Due timers fire in batches, one transaction a batch:
the batch's cases are locked together (in id order, as concurrent sweeps then queue rather than
deadlock), their open tasks and subjects are read in one query each, the commands' outbox rows and
audit events are inserted together, and the batch shares one commit. If anything in a batch fails,
the batch is rolled back and its timers fire one transaction each, as before: a bad timer cannot
block the good ones, a timer whose command is refused (its case moved on) is cancelled, and one
that fails stays pending for the next sweep. On PostgreSQL timers are claimed with `FOR UPDATE SKIP
LOCKED`, so several sweeps may run at once and each timer still fires once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine import preload
from services.engine.actors import SYSTEM_ACTOR
from services.engine.clock import clock
from services.engine.command import Command, Outcome, fire_locked, lock_case
from services.engine.errors import CommandError
from services.store import records, unit_of_work
from services.store.engine import Database
from services.store.tables import Project, Timer, id_column

log = logging.getLogger("carbon.timers")

BATCH = 100  # timers a transaction: long enough to share round trips, short enough to hold few locks


def _due_ids(db: Database, now: datetime, limit: int) -> list[int]:
    with db.read() as session:
        return list(session.exec(select(id_column(Timer))
                                 .where(col(Timer.status) == "pending", col(Timer.fire_at) <= now)
                                 .order_by(col(Timer.fire_at), col(Timer.id)).limit(limit)))


def _claim(session: Session, timer_id: int, db: Database) -> Timer | None:
    q = select(Timer).where(col(Timer.id) == timer_id, col(Timer.status) == "pending")
    if not db.is_sqlite:
        q = q.with_for_update(skip_locked=True)
    return session.exec(q).first()


def _fired(timer: Timer, outcome: Outcome) -> dict[str, Any]:
    return {"timer_id": timer.id, "case_id": timer.case_id, "trigger": timer.trigger, "state": outcome.case.state}


def _fire_batch(db: Database, ids: list[int], now: datetime) -> list[dict[str, Any]]:
    """Fire these timers in one transaction; any exception rolls all of them back."""
    fired: list[dict[str, Any]] = []
    with db.write() as session:
        # Cases first, then timers: the order a command takes them (it locks its case, then cancels
        # its timers), so a sweep and a command wait for each other instead of deadlocking.
        case_ids = sorted(set(session.exec(select(col(Timer.case_id)).where(col(Timer.id).in_(ids),
                                                                       col(Timer.status) == "pending"))))
        if not case_ids:
            return fired
        cases = records.lock_cases(session, case_ids)
        q = select(Timer).where(col(Timer.id).in_(ids), col(Timer.status) == "pending")
        if not db.is_sqlite:
            q = q.with_for_update(skip_locked=True)  # another sweep may hold some: it fires them
        timers = sorted(session.exec(q), key=lambda t: (t.fire_at, t.id))
        tasks = records.open_tasks(session, case_ids)
        # the subjects' rows, held here (the session keeps only weak references) so that the commands'
        # look-ups by key find them without a round trip
        project_ids = [c.project_id for c in cases.values() if c.project_id]
        subjects = list(session.exec(select(Project).where(col(Project.id).in_(project_ids)))
                        ) if project_ids else []
        preload.load(session, case_ids)
        unflushed: set[int] = set()  # cases whose commands' new rows wait for the batch's insert
        for timer in timers:
            if timer.case_id in unflushed:
                # a command reads its case's rows: the earlier command's writes must be in, and this
                # timer may be among those it cancelled (a blind update: the object did not see it)
                unit_of_work.of(session).flush()
                unflushed.clear()
                session.refresh(timer, ["status"])
            if timer.status != "pending":
                continue  # cancelled by an earlier command of this batch on the same case (it left the state)
            # the list is the case's open tasks, kept current by the commands (two timers, one case)
            outcome = fire_locked(session, cases[timer.case_id], Command(timer.case_id, timer.trigger, SYSTEM_ACTOR),
                                  open_tasks=tasks[timer.case_id], insert_rows=False)
            unflushed.add(timer.case_id)
            preload.forget(session, timer.case_id)
            fired.append(_fired(timer, outcome))
        del subjects  # held until here
        # one statement marks the batch's timers fired (a command that leaves its state cancels the case's
        # pending timers, its own among them; fired wins, as when a timer fires alone)
        session.execute(sa.update(Timer).where(col(Timer.id).in_([f["timer_id"] for f in fired]))
                        .values(status="fired", fired_at=now), execution_options={"synchronize_session": False})
    return fired


def _fire_alone(db: Database, timer_id: int, now: datetime, result: dict[str, list[dict[str, Any]]]) -> None:
    """One timer in its own transaction: fired, cancelled when refused, or left pending on failure."""
    try:
        with db.write() as session:
            timer = _claim(session, timer_id, db)
            if timer is None:
                return  # another sweep has it, or it fired meanwhile
            case = lock_case(session, timer.case_id)
            outcome = fire_locked(session, case, Command(case.id, timer.trigger, SYSTEM_ACTOR))
            timer.status, timer.fired_at = "fired", now
            session.add(timer)
            result["fired"].append(_fired(timer, outcome))
    except CommandError as exc:
        with db.write() as session:
            timer = _claim(session, timer_id, db)
            if timer is not None:
                timer.status, timer.fired_at = "cancelled", now
                session.add(timer)
        result["cancelled"].append({"timer_id": timer_id, "reason": str(exc)})
    except Exception as exc:
        # rolled back and still pending: the next sweep tries it again
        log.exception("timer %s failed; it stays pending", timer_id)
        result["failed"].append({"timer_id": timer_id, "error": f"{type(exc).__name__}: {exc}"})


def run_due_timers(db: Database, now: datetime | None = None, limit: int = 1000, batch: int = BATCH
                   ) -> dict[str, Any]:
    now = now or clock.now()
    result: dict[str, list[dict[str, Any]]] = {"fired": [], "cancelled": [], "failed": []}
    ids = _due_ids(db, now, limit)
    for start in range(0, len(ids), max(batch, 1)):
        chunk = ids[start:start + max(batch, 1)]
        if len(chunk) > 1:
            try:
                result["fired"] += _fire_batch(db, chunk, now)
                continue
            except Exception:
                log.info("a batch of %d timers failed; firing them one at a time", len(chunk), exc_info=True)
        for timer_id in chunk:
            _fire_alone(db, timer_id, now, result)
    return result
