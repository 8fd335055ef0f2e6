"""Due timers fire in batches, one transaction a batch, with the effects each would have alone; a
failure anywhere in a batch rolls it back and its timers fire one at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from services.demo import Driver, application, drive_to
from services.engine import audit, effects
from services.engine.context import Ctx
from services.orchestration import timers
from services.store.engine import Database
from services.store.tables import AuditEvent, Case, Notice, Outbox, Project, Timer
from states.effects import RegisterSubject

pytestmark = pytest.mark.integration


def _in_publicity(driver: Driver, n: int) -> list[int]:
    ids = []
    for i in range(n):
        cid = driver.open("sd_applicant", "SD", application("SD", title=f"批量{i}"))
        drive_to(driver, "SD", cid, "publicity")
        ids.append(cid)
    return ids


def test_a_batch_fires_every_due_timer_in_one_transaction(db: Database, driver: Driver, test_clock,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _in_publicity(driver, 4)
    test_clock.advance(timedelta(days=30))

    def alone(*_args: object) -> None:
        raise AssertionError("the batch should not have fallen back to one timer a transaction")

    monkeypatch.setattr(timers, "_fire_alone", alone)
    result = timers.run_due_timers(db, test_clock.now(), batch=10)
    assert sorted(f["case_id"] for f in result["fired"]) == sorted(ids)
    assert {f["state"] for f in result["fired"]} == {"registered"}
    with db.read() as s:
        numbers = sorted(s.get(Project, s.get(Case, cid).project_id).registration_number for cid in ids)
        assert len(set(numbers)) == 4 and numbers[0].startswith("SD-2026-P")
        assert {n.status for n in s.exec(select(Notice).where(Notice.case_id.in_(ids)))} == {"closed"}
        assert {t.status for t in s.exec(select(Timer).where(Timer.case_id.in_(ids)))} == {"fired"}
        ends = list(s.exec(select(AuditEvent).where(AuditEvent.event == "publicity_end")))
        assert sorted(e.case_id for e in ends) == sorted(ids)
        assert s.exec(select(Outbox).where(Outbox.kind == "publish_registration")).all()
        assert audit.verify(s)["ok"]
    assert timers.run_due_timers(db, test_clock.now(), batch=10)["fired"] == []


def test_a_failing_timer_rolls_its_batch_back_and_the_others_fire_alone(db: Database, driver: Driver,
                                                                        test_clock,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _in_publicity(driver, 4)
    bad = ids[1]
    register = effects._HANDLERS[RegisterSubject]

    def flaky(ctx: Ctx, effect: RegisterSubject) -> None:
        if ctx.case.id == bad:
            raise RuntimeError("registry unavailable")
        register(ctx, effect)

    monkeypatch.setitem(effects._HANDLERS, RegisterSubject, flaky)
    test_clock.advance(timedelta(days=30))
    result = timers.run_due_timers(db, test_clock.now(), batch=10)
    assert sorted(f["case_id"] for f in result["fired"]) == sorted(c for c in ids if c != bad)
    assert [f["error"] for f in result["failed"]] == ["RuntimeError: registry unavailable"]
    with db.read() as s:
        assert s.get(Case, bad).state == "publicity"  # nothing of it was kept
        assert s.exec(select(Timer).where(Timer.case_id == bad)).one().status == "pending"
        assert audit.verify(s)["ok"]
    # the failure stays pending and fires once the cause is gone
    monkeypatch.setitem(effects._HANDLERS, RegisterSubject, register)
    again = timers.run_due_timers(db, test_clock.now(), batch=10)
    assert [f["case_id"] for f in again["fired"]] == [bad]
    with db.read() as s:
        assert audit.verify(s)["ok"]


def _publicity_end_timer(db: Database, case_id: int, fire_at: datetime) -> int:
    """One more publicity-end timer on a case, due at `fire_at`."""
    with db.write() as s:
        timer = Timer(case_id=case_id, jurisdiction="SD", kind="publicity_end", trigger="publicity_end",
                      state="publicity", fire_at=fire_at)
        s.add(timer)
        s.flush()
        return timer.id


def test_a_refused_timer_in_a_batch_is_cancelled_and_the_others_fire(db: Database, driver: Driver,
                                                                     test_clock) -> None:
    ids = _in_publicity(driver, 2)
    draft = driver.open("sd_applicant", "SD", application("SD", title="草稿"))
    stale_id = _publicity_end_timer(db, draft, test_clock.now())  # its case's state does not allow it
    test_clock.advance(timedelta(days=30))
    result = timers.run_due_timers(db, test_clock.now(), batch=10)
    assert sorted(f["case_id"] for f in result["fired"]) == sorted(ids)
    assert [c["timer_id"] for c in result["cancelled"]] == [stale_id]
    with db.read() as s:
        assert s.get(Timer, stale_id).status == "cancelled"
        assert s.get(Case, draft).state == "draft"
        assert audit.verify(s)["ok"]


def test_two_due_timers_of_one_case_in_a_batch_act_as_in_sequence(db: Database, driver: Driver,
                                                                  test_clock) -> None:
    (cid,) = _in_publicity(driver, 1)
    # a second timer on the same case, due first: firing it leaves the state and cancels
    twin_id = _publicity_end_timer(db, cid, test_clock.now())
    test_clock.advance(timedelta(days=30))
    result = timers.run_due_timers(db, test_clock.now(), batch=10)
    assert [(f["case_id"], f["state"]) for f in result["fired"]] == [(cid, "registered")]
    assert result["cancelled"] == [] and result["failed"] == []
    with db.read() as s:
        statuses = {t.id: t.status for t in s.exec(select(Timer).where(Timer.case_id == cid))}
        assert statuses.pop(twin_id) == "fired" and list(statuses.values()) == ["cancelled"]
        assert len(list(s.exec(select(AuditEvent).where(AuditEvent.case_id == cid,
                                                        AuditEvent.event == "publicity_end")))) == 1
        assert audit.verify(s)["ok"]
