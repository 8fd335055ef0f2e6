"""Firing due timers: publicity ends, supplement deadlines. The orchestration sweep will call
`run_due_timers`; until then the CLI's `tick` does.

Each timer fires in its own transaction through the same command path as people (`cases.fire`,
actor `system`). On PostgreSQL the batch is claimed with `FOR UPDATE SKIP LOCKED`, so several
sweeps may run at once and each timer still fires once. A timer whose case has moved on (the
trigger is no longer legal) is cancelled, not retried forever.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from services.cases import Command, Outcome, fire_locked, lock_case
from services.clock import clock
from services.errors import CommandError
from services.identity import SYSTEM_ACTOR
from services.store.engine import Database
from services.store.tables import Timer

log = logging.getLogger("carbon.timers")


def _due_ids(db: Database, now: datetime, limit: int) -> list[int]:
    with db.read() as session:
        return list(session.exec(select(Timer.id).where(Timer.status == "pending", Timer.fire_at <= now)
                                 .order_by(Timer.fire_at, Timer.id).limit(limit)))


def _claim(session: Session, timer_id: int, db: Database) -> Timer | None:
    q = select(Timer).where(Timer.id == timer_id, Timer.status == "pending")
    if not db.is_sqlite:
        q = q.with_for_update(skip_locked=True)
    return session.exec(q).first()


def run_due_timers(db: Database, now: datetime | None = None, limit: int = 1000) -> dict[str, Any]:
    now = now or clock.now()
    fired, cancelled, failed = [], [], []
    for timer_id in _due_ids(db, now, limit):
        try:
            with db.write() as session:
                timer = _claim(session, timer_id, db)
                if timer is None:
                    continue  # another sweep has it, or it fired meanwhile
                case = lock_case(session, timer.case_id)
                outcome: Outcome = fire_locked(session, case, Command(case.id, timer.trigger, SYSTEM_ACTOR))
                timer.status, timer.fired_at = "fired", now
                session.add(timer)
                fired.append({"timer_id": timer_id, "case_id": case.id, "trigger": timer.trigger,
                              "state": outcome.case.state})
        except CommandError as exc:
            with db.write() as session:
                timer = _claim(session, timer_id, db)
                if timer is not None:
                    timer.status, timer.fired_at = "cancelled", now
                    session.add(timer)
            cancelled.append({"timer_id": timer_id, "reason": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one timer's failure must not stop the sweep
            # rolled back and still pending: the next sweep tries it again
            log.exception("timer %s failed; it stays pending", timer_id)
            failed.append({"timer_id": timer_id, "error": f"{type(exc).__name__}: {exc}"})
    return {"fired": fired, "cancelled": cancelled, "failed": failed}
