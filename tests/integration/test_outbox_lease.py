"""A dispatcher's claim on outbox rows is short (a lost dispatcher's rows go back within `LEASE`), and a
drain renews the rows it still holds while a slow receiver keeps it busy (so no other dispatcher takes them)."""

from __future__ import annotations

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


def test_a_slow_drain_renews_what_it_holds_and_a_lost_one_lets_go(db: Database, test_clock: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _rows(db, 3, 'slow')
    seen: list[tuple[int, Any]] = []

    def slow(db_: Database, row: Outbox, channels: Any) -> None:
        with db_.read() as s:  # the last row, as this drain holds it when each row is handled
            seen.append((row.id, s.get(Outbox, ids[-1]).locked_until))
        test_clock.advance(timedelta(seconds=20))  # a receiver taking 20 s

    monkeypatch.setitem(dispatch.HANDLERS, "slow", slow)
    start = clock.now()
    assert dispatch.drain(db, dispatch.Channels(smtp_host=None), batch=10, max_batches=1)["done"] == 3
    assert seen[0][1] == start + dispatch.LEASE  # claimed for 45 s
    assert seen[-1][1] == start + timedelta(seconds=40) + dispatch.LEASE  # renewed as the drain went on

    # a dispatcher that died holding rows: another takes them once the 45 s lease has lapsed, not 5 minutes
    more = _rows(db, 2, 'lost')
    assert [r.id for r in dispatch.claim(db, 10)] == more
    assert dispatch.claim(db, 10) == []
    test_clock.advance(dispatch.LEASE + timedelta(seconds=1))
    assert [r.id for r in dispatch.claim(db, 10)] == more
    with db.read() as s:
        assert {o.status for o in s.exec(select(Outbox).where(Outbox.id.in_(more)))} == {"pending"}
