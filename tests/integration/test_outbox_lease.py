"""A dispatcher's claim on outbox rows is short (a lost dispatcher's rows go back within `LEASE`), and a
drain renews the rows it still holds while a slow receiver keeps it busy (so no other dispatcher takes them)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from services.engine.clock import clock
from services.orchestration import dispatch
from services.store.engine import Database
from services.store.tables import Outbox

pytestmark = pytest.mark.integration


def _rows(db: Database, n: int, tag: str) -> list[int]:
    with db.write() as s:
        now = clock.now()
        rows = [Outbox(key=f"lease:{tag}:{k}", kind="slow", payload={}, created_at=now, available_at=now)
                for k in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def _locked_until(db: Database, row_id: int) -> Any:
    with db.read() as s:
        row = s.get(Outbox, row_id)
        assert row is not None
        return row.locked_until


def test_a_slow_drain_renews_what_it_holds_and_a_lost_one_lets_go(db: Database, test_clock: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The renewal beats on a thread of its own, so it keeps the rows while one handler is still busy (a
    scenario period minted to a million users takes about a minute, longer than the lease)."""
    monkeypatch.setattr(dispatch, "RENEW", timedelta(seconds=0.05))
    ids = _rows(db, 3, 'slow')
    renewed_while_busy: list[bool] = []

    def slow(db_: Database, row: Outbox, channels: Any) -> None:
        moved = test_clock.advance(timedelta(seconds=20))  # a receiver taking 20 s
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _locked_until(db_, ids[-1]) != moved + dispatch.LEASE:
            time.sleep(0.02)
        renewed_while_busy.append(_locked_until(db_, ids[-1]) == moved + dispatch.LEASE)

    monkeypatch.setitem(dispatch.HANDLERS, "slow", slow)
    start = clock.now()
    assert dispatch.drain(db, dispatch.Channels(smtp_host=None), batch=10, max_batches=1)["done"] == 3
    assert renewed_while_busy == [True, True, True]  # held through each handler, the last row included
    assert clock.now() == start + timedelta(seconds=60)
    time.sleep(0.2)  # the beat has stopped: settled rows keep no lock
    assert [_locked_until(db, i) for i in ids] == [None, None, None]

    # a dispatcher that died holding rows: another takes them once the 45 s lease has lapsed, not 5 minutes
    more = _rows(db, 2, 'lost')
    assert [r.id for r in dispatch.claim(db, 10)] == more
    assert dispatch.claim(db, 10) == []
    test_clock.advance(dispatch.LEASE + timedelta(seconds=1))
    assert [r.id for r in dispatch.claim(db, 10)] == more
    with db.read() as s:
        assert {o.status for o in s.exec(select(Outbox).where(Outbox.id.in_(more)))} == {"pending"}
