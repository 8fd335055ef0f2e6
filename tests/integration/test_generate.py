"""The benchmark data generator writes data the system itself would accept: states its procedures
declare, tasks and timers only where the state has them, audit chains and a ledger that verify."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bench.generate import generate, shape, state_timers
from services.engine import audit
from services.procedures import ledger
from services.store.engine import Database
from services.store.tables import Case, SerialBlock, Task, Timer

pytestmark = pytest.mark.integration

N = 600


@pytest.fixture
def generated(db: Database, test_clock) -> tuple[Database, dict]:
    return db, generate(db, N, seed=3)


def test_every_case_stands_in_a_state_its_procedure_declares(generated: tuple[Database, dict]) -> None:
    db, stats = generated
    with db.read() as session:
        cases = list(session.exec(select(Case)))  # the seeded people come without cases
    assert len(cases) == N == stats["rows"]["cases"]
    for c in cases:
        spec = shape(c.procedure, c.jurisdiction).spec
        assert (spec.state(c.state).terminal) == (c.closed_at is not None)
    procedures = Counter(c.procedure for c in cases)
    assert len(procedures) >= 5 and procedures.most_common(1)[0][0] in ("project_registration", "issuance")
    assert 0.05 < sum(c.closed_at is None for c in cases) / N < 0.3


def test_open_tasks_and_pending_timers_belong_to_open_cases_in_states_that_have_them(
        generated: tuple[Database, dict]) -> None:
    db, _ = generated
    with db.read() as session:
        cases = {c.id: c for c in session.exec(select(Case))}
        tasks = list(session.exec(select(Task).where(Task.status == "open")))
        timers = list(session.exec(select(Timer).where(Timer.status == "pending")))
    assert tasks and timers
    for t in tasks:
        c = cases[t.case_id]
        state = shape(c.procedure, c.jurisdiction).spec.state(c.state)
        assert c.closed_at is None and t.state == c.state
        assert (t.kind, t.role) in {(s.kind, s.role) for s in state.tasks}
    for tm in timers:
        c = cases[tm.case_id]
        sh = shape(c.procedure, c.jurisdiction)
        assert c.closed_at is None and tm.state == c.state
        assert (tm.kind, tm.trigger) in {(k, trig) for k, trig, _ in state_timers(sh.spec.state(c.state), sh.profile)}


def test_audit_chains_and_the_ledger_verify(generated: tuple[Database, dict]) -> None:
    db, stats = generated
    with db.read() as session:
        checked = audit.verify(session)
        books = ledger.verify(session)
        blocks = session.exec(select(sa.func.count()).select_from(SerialBlock)).one()
    assert checked["ok"], checked
    assert checked["events_checked"] >= stats["rows"]["audit_events"]
    assert books["ok"], books
    assert blocks and books["issued"] > 0 and books["retired"] > 0


def test_timers_open_and_due_are_exact_and_the_same_seed_gives_the_same_data(db: Database, test_clock) -> None:
    from services.engine.clock import clock

    now = clock.now()
    stats = generate(db, 300, seed=5, timers_open=120, timers_due=7, now=now)
    with db.read() as session:
        pending = session.exec(select(sa.func.count()).select_from(Timer).where(Timer.status == "pending")).one()
        due = session.exec(select(sa.func.count()).select_from(Timer).where(
            Timer.status == "pending", Timer.fire_at <= now)).one()
        first = [tuple(r) for r in session.exec(select(Case.procedure, Case.jurisdiction, Case.state, Case.audit_hash)
                                                .order_by(Case.id))]
    assert (pending, due, stats["rows"]["timers"]) == (120, 7, 120)
    # a second run with the same seed continues the ids, yet draws the same cases in the same order
    generate(db, 300, seed=5, timers_open=120, timers_due=7, now=now)
    with db.read() as session:
        again = [tuple(r) for r in session.exec(select(Case.procedure, Case.jurisdiction, Case.state)
                                                .order_by(Case.id).offset(len(first)))]
    assert [r[:3] for r in first[-300:]] == again[-300:]


def test_the_team_queue_pages_through_generated_tasks_in_due_order_undated_last(
        generated: tuple[Database, dict]) -> None:
    from services.accounts.identity import authenticate
    from services.queries import queues

    db, _ = generated
    with db.write() as session:  # some tasks without a deadline, so pages cross into the undated ones
        session.execute(sa.update(Task).where(Task.status == "open", Task.id % 3 == 0).values(due_at=None))
    walked = undated = 0
    for user in ("sh_case_officer", "sh_review_centre", "bj_case_officer", "sh_approver"):
        with db.read() as session:
            actor = authenticate(session, f"demo-{user}")
            team = [t for t in session.exec(select(Task).where(Task.status == "open"))
                    if actor.holds(t.role, t.jurisdiction) and t.candidate_user_id in (None, actor.user_id)
                    and t.candidate_org_id in (None, actor.org_id)]
        expected = [t.id for t in sorted(team, key=lambda t: (t.due_at is None, t.due_at or 0, t.id))]
        seen, cursor = [], None
        while True:
            with db.read() as session:
                page = queues.list_tasks(session, actor, view="team", limit=7, cursor=cursor)
            seen += [item.id for item in page.items]
            if not (cursor := page.next_cursor):
                break
        assert seen == expected, user
        walked, undated = walked + len(seen), undated + sum(t.due_at is None for t in team)
    assert walked > 14 and undated  # several pages, across the boundary into the undated tasks


def test_the_due_timers_fire_through_the_command_path(db: Database, test_clock) -> None:
    from services.engine.clock import clock
    from services.orchestration.timers import run_due_timers

    generate(db, 800, seed=11, timers_open=300, timers_due=60)
    result = run_due_timers(db, clock.now())
    assert (len(result["fired"]), result["cancelled"], result["failed"]) == (60, [], [])
    with db.read() as session:
        assert audit.verify(session)["ok"] and ledger.verify(session)["ok"]
