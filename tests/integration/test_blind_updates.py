"""A command's blind updates (`services.store.unit_of_work.update`: cancel the case's pending timers, end its
open clock segment) wait for the command's end, go out one statement shape at a time, and run
before the command's new rows are inserted, so they never touch what the same command created."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from services.demo import Driver, application, drive_to
from services.engine.clock import clock
from services.store import unit_of_work
from services.store.engine import Database
from services.store.tables import ClockSegment, Timer

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

