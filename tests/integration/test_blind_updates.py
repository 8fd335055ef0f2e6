"""A command's blind updates (`services.store.unit_of_work.update`: cancel the case's pending timers, end its
open clock segment) wait for the command's end, go out one statement shape at a time, and run
before the command's new rows are inserted, so they never touch what the same command created."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from services.demo import Driver, application, drive_to
from services.engine.clock import clock
from services.store import unit_of_work
from services.store.engine import Database
from services.store.tables import ClockSegment, Outbox, Timer

pytestmark = pytest.mark.integration


def _timer(case_id: int, kind: str) -> dict:
    return {"case_id": case_id, "jurisdiction": "SD", "kind": kind, "trigger": "publicity_end", "state": "publicity",
            "fire_at": clock.now() + timedelta(days=9), "base_on": None, "days": 5, "provisional": False}


def _two_cases_in_publicity(driver: Driver) -> list[int]:
    ids = []
    for title in ("甲", "乙"):
        cid = driver.open("sd_applicant", "SD", application("SD", title=title))
        assert drive_to(driver, "SD", cid, "publicity") == "publicity"
        ids.append(cid)
    return ids


def test_a_blind_update_spares_the_rows_its_command_inserts(db: Database, driver: Driver, test_clock) -> None:
    a, b = _two_cases_in_publicity(driver)
    with db.write() as session:
        for cid in (a, b):  # two cases, one statement shape: sent as one executemany
            unit_of_work.of(session).update(Timer, {"case_id": cid, "status": "pending"}, {"status": "cancelled"})
            unit_of_work.of(session).add(Timer, _timer(cid, "again"))
        # nothing is sent before the command's end
        assert {t.status for t in session.exec(select(Timer).where(Timer.case_id == a))} == {"pending"}
    with db.read() as session:
        for cid in (a, b):
            statuses = {t.kind: t.status for t in session.exec(select(Timer).where(Timer.case_id == cid))}
            assert statuses == {"publicity_end": "cancelled", "again": "pending"}


def test_a_null_condition_matches_only_the_open_segment(db: Database, driver: Driver, test_clock) -> None:
    a, _ = _two_cases_in_publicity(driver)
    with db.read() as session:
        before = {s.id: s.ended_at for s in session.exec(select(ClockSegment).where(ClockSegment.case_id == a))}
    assert len(before) >= 2 and sum(1 for e in before.values() if e is None) == 1
    test_clock.advance(timedelta(hours=1))
    with db.write() as session:
        unit_of_work.of(session).update(ClockSegment, {"case_id": a, "ended_at": None}, {"ended_at": clock.now()})
    with db.read() as session:
        after = {s.id: s.ended_at for s in session.exec(select(ClockSegment).where(ClockSegment.case_id == a))}
    for sid, ended in before.items():
        assert after[sid] == (ended if ended is not None else clock.now())



@pytest.mark.parametrize("last", [True, False], ids=["failing-row-last", "failing-row-first"])
def test_a_failed_write_at_the_end_is_an_integrity_error_and_leaves_nothing(db: Database, driver: Driver,
                                                                            test_clock, last: bool) -> None:
    """On PostgreSQL the writes that return nothing go out in one pipeline: an error in any of them,
    whether a later statement or the pipeline's end meets it, is SQLAlchemy's IntegrityError, as
    without a pipeline, and the transaction leaves nothing behind."""
    a, _ = _two_cases_in_publicity(driver)
    outbox = {"kind": "notify", "case_id": a, "created_at": clock.now(), "available_at": clock.now(), "payload": {}}
    with db.write() as session:
        session.add(Outbox(key="dup-key", **outbox))
    with pytest.raises(sa.exc.IntegrityError), db.write() as session:
        uow = unit_of_work.of(session)
        uow.update(Timer, {"case_id": a, "status": "pending"}, {"status": "cancelled"})
        if not last:
            uow.add(Outbox, {"key": "dup-key", **outbox})
        uow.add(Timer, _timer(a, "again"))
        if last:
            uow.add(Outbox, {"key": "dup-key", **outbox})
    with db.read() as session:
        statuses = {t.kind: t.status for t in session.exec(select(Timer).where(Timer.case_id == a))}
        assert statuses == {"publicity_end": "pending"}
        assert len(list(session.exec(select(Outbox).where(Outbox.key == "dup-key")))) == 1
