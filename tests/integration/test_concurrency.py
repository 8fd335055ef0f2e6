"""Concurrent requests on PostgreSQL (and SQLite, where writers queue): retries with one key get the
first reply and open one case; transfers from one account succeed exactly as often as the balance
allows (trust issue: 7×500 and false "only 0 t held" refusals before)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import func, select

from forms.issuance import Transfer
from services.accounts.identity import load_actor
from services.api.routes.ledger import transfer
from services.demo import application
from services.engine import opening
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import CommandError
from services.procedures import ledger
from services.store.engine import Database
from services.store.tables import Case, Organisation, Project, User

pytestmark = pytest.mark.integration
CLIENTS = 20


def _actor(db: Database, username: str) -> Actor:
    with db.read() as s:
        return load_actor(s, s.exec(select(User).where(User.username == username)).one())


def _together(work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in CLIENTS threads released at once; each result or the error it raised."""
    start = threading.Barrier(CLIENTS)
    results: list[Any] = [None] * CLIENTS

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_creates_with_one_key_open_one_case_and_all_get_its_reply(db: Database) -> None:
    actor = _actor(db, "sh_applicant")
    with db.read() as s:
        before = s.exec(select(func.count()).select_from(Case)).one()
    results = _together(lambda i: opening.create(
        db, actor=actor, procedure_name="project_registration", jurisdiction="SH", application=application("SH"),
        respond=lambda s, o: (201, {"id": o.case.id}), idempotency_key="same-key"))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert {tuple(r[1].items()) for r in results} == {tuple(results[0][1].items())}
    assert all(r[0] == 201 for r in results)
    with db.read() as s:
        assert s.exec(select(func.count()).select_from(Case)).one() == before + 1


def test_concurrent_transfers_succeed_exactly_as_often_as_the_balance_allows(db: Database) -> None:
    operator = _actor(db, "sh_operator")
    now = clock.now()
    with db.write() as s:
        seller = s.exec(select(User.org_id).where(User.username == "sh_applicant")).one()
        buyer = s.exec(select(User.org_id).where(User.username == "sh_applicant2")).one()
        project = Project(jurisdiction="SH", kind="project", title="光伏", owner_org_id=seller, status="registered",
                          registration_number="SH-2026-P09999", created_at=now)
        s.add(project)
        s.flush()
        ledger.mint(s, project=project, vintage=2025, amount=1100, owner_org_id=seller, case_id=None,
                    actor_id=None, now=now)
        source = ledger.account_for(s, "SH", seller, now).id
        target = ledger.account_for(s, "SH", buyer, now).id
        assert s.get(Organisation, buyer) is not None

    def send(i: int) -> dict[str, Any]:
        body = Transfer(from_account_id=source, to_account_id=target, amount_tco2e=100, reference=f"EX-{i}")
        return transfer("SH", body, operator, db)

    results = _together(send)
    done = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, CommandError)]
    assert len(done) == 11, [str(r) for r in results if isinstance(r, Exception)]
    assert len(refused) == CLIENTS - 11 and all(r.reasons[0].code == "not_enough_held" for r in refused)
    with db.read() as s:
        assert ledger.balance(s, source) == 0 and ledger.balance(s, target) == 1100
        # the journal replays into exactly these blocks; only the test's own mint has no issuing case
        problems = ledger.verify(s)["problems"]
        assert problems and all("not backed" in p for p in problems), problems


def test_concurrent_wrong_passwords_at_a_limit_are_not_all_processed(db: Database) -> None:
    """Twenty guesses at one account from twenty addresses at once: the account's limit (5) holds; the
    others are refused unprocessed, and the block is recorded once."""
    from services.engine.throttle import Throttled
    from services.store.tables import AuditEvent
    from services.web import sessions

    def guess(i: int) -> object:
        with db.write() as s:
            return sessions.sign_in(s, "sh_case_officer", "wrong", client=f"10.0.0.{i}")

    results = _together(guess)
    assert all(r is None or isinstance(r, Throttled) for r in results), results
    with db.read() as s:
        def count(event: str) -> int:
            return s.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == event)).one()

        assert count("sign_in_failed") == sessions.ACCOUNT.failures
        assert count("sign_in_throttled") == 1
    assert sum(isinstance(r, Throttled) for r in results) == CLIENTS - sessions.ACCOUNT.failures
