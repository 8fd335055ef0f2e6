"""The Prefect flows themselves (one `prefect_test_harness` per session), the embedded scheduler
inside the app, and the administrators' views of runs, breaches and the outbox."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from flows.common import use_database
from services.api import create_app
from services.demo import Driver, application, commitments, drive_to
from services.store.engine import Database
from services.store.tables import AuditEvent, Case, Notification, Outbox

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def flows_db(db: Database, prefect_harness: None) -> Iterator[Database]:
    use_database(db)
    yield db
    use_database(None)


def run_flow(coro):
    """Run a flow on a fresh event loop in a thread of its own, carrying this context (Prefect's test
    settings live in context variables): another test in the same worker (Playwright's sync API, in
    tests/browser) may keep an event loop running on this thread, where asyncio.run would refuse."""
    context = contextvars.copy_context()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(context.run, asyncio.run, coro).result()


def h(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{user}"}


def test_dispatch_flow_drains_the_outbox(flows_db: Database, driver: Driver) -> None:
    from flows.dispatch import dispatch_flow

    cid = driver.open("sd_applicant", "SD", application("SD"))
    driver.act("sd_applicant", cid, "submit", commitments("SD"))
    result = run_flow(dispatch_flow(reason="test"))
    # the queue notice and the assignment, then (next batch) the notice to the officer assigned
    assert result["batches"] == 2 and result["done"] == 3 and result["dead"] == 0
    with flows_db.read() as s:
        assert {o.status for o in s.exec(select(Outbox))} == {"done"}
    assert run_flow(dispatch_flow(reason="test"))["batches"] == 0


def test_sweep_flow_fires_due_timers(flows_db: Database, driver: Driver, test_clock) -> None:
    from flows.sweep import sweep_flow

    cid = driver.open("sd_applicant", "SD", application("SD"))
    drive_to(driver, "SD", cid, "publicity")
    test_clock.advance(timedelta(days=20))
    result = run_flow(sweep_flow(reason="test"))
    assert result["timers_fired"] == 1 and result["fired"][0]["case_id"] == cid
    with flows_db.read() as s:
        assert s.get(Case, cid).state == "registered"


def test_admin_sees_flow_runs_with_links(flows_db: Database) -> None:
    from prefect import tags

    from flows.dispatch import dispatch_flow

    with tags("project_registration", "SD", "case:1"):
        run_flow(dispatch_flow(reason="tagged"))
    client = TestClient(create_app(flows_db))
    runs = client.get("/api/v1/admin/flow-runs", headers=h("demo_admin")).json()["items"]
    tagged = next(r for r in runs if r["name"] == "dispatch (tagged)")
    assert tagged["flow"] == "dispatch" and tagged["state"] == "COMPLETED"
    assert {"project_registration", "SD", "case:1"} <= set(tagged["tags"])
    assert tagged["link"].endswith(f"/runs/flow-run/{tagged['id']}")
    assert client.get("/api/v1/admin/flow-runs", headers=h("sd_case_officer")).status_code == 403
    # Prefect filters by tag: Shandong's administrator sees the run tagged SD, Beijing's does not, and
    # neither sees an untagged (system-wide) run
    run_flow(dispatch_flow(reason="untagged"))
    names = {user: [r["name"] for r in client.get("/api/v1/admin/flow-runs", headers=h(user)).json()["items"]]
             for user in ("demo_admin", "sd_admin", "bj_admin")}
    assert {"dispatch (tagged)", "dispatch (untagged)"} <= set(names["demo_admin"])
    assert "dispatch (tagged)" in names["sd_admin"] and "dispatch (untagged)" not in names["sd_admin"]
    assert "dispatch (tagged)" not in names["bj_admin"] and "dispatch (untagged)" not in names["bj_admin"]


def test_the_embedded_scheduler_dispatches_right_after_a_command(flows_db: Database, driver: Driver) -> None:
    cid = driver.open("sd_applicant", "SD", application("SD"))
    with TestClient(create_app(flows_db, orchestrate=True)) as client:
        r = client.post(f"/api/v1/cases/{cid}/actions/submit", json=commitments("SD"), headers=h("sd_applicant"))
        assert r.status_code == 200
        deadline = time.monotonic() + 60
        delivered = []
        while time.monotonic() < deadline and not delivered:
            with flows_db.read() as s:
                delivered = list(s.exec(select(Notification).where(Notification.case_id == cid)))
            time.sleep(0.5)
    assert delivered, "the outbox was not dispatched after the command"


def test_admin_outbox_and_breaches(db: Database, driver: Driver, test_clock) -> None:
    from services.engine.clock import clock
    from services.orchestration.sweep import record_breaches

    client = TestClient(create_app(db))
    with db.write() as s:
        s.add(Outbox(key="bad-row", kind="notify", payload={"jurisdiction": "SD"}, created_at=clock.now(),
                     available_at=clock.now()))
    from services.orchestration.dispatch import Channels, drain

    drain(db, Channels(smtp_host=None))
    dead = client.get("/api/v1/admin/outbox", params={"status": "dead"}, headers=h("demo_admin")).json()["items"]
    row = next(r for r in dead if r["key"] == "bad-row")
    assert "malformed" in row["last_error"]
    retried = client.post(f"/api/v1/admin/outbox/{row['id']}/retry", headers=h("demo_admin")).json()
    assert retried == {"id": row["id"], "status": "pending", "attempts": 0}
    assert client.post("/api/v1/admin/outbox/999999/retry", headers=h("demo_admin")).status_code == 404
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    test_clock.advance(timedelta(days=14))
    record_breaches(db, test_clock.now())
    body = client.get("/api/v1/admin/sla-breaches", headers=h("demo_admin")).json()
    assert body["groups"]["stage"] == {"submitted": 1} and body["groups"]["role"] == {"case_officer": 1}
    assert body["items"][0]["escalation_task_id"]
    queue = client.get("/api/v1/tasks", params={"view": "team"}, headers=h("sh_approver")).json()["items"]
    escalation = next(t for t in queue if t["kind"] == "sla_escalation")
    done = client.post(f"/api/v1/tasks/{escalation['id']}/complete", json={}, headers=h("sh_approver"))
    assert done.status_code == 200
    assert [e["event"] for e in client.get(f"/api/v1/cases/{escalation['case_id']}/events",
                                            headers=h("sh_approver")).json()["items"]][-1] == "acknowledge_escalation"
    queue = client.get("/api/v1/tasks", params={"view": "team"}, headers=h("sh_approver")).json()["items"]
    assert escalation["id"] not in [t["id"] for t in queue]
    assert client.get("/api/v1/admin/sla-breaches", params={"status": "bogus"},
                      headers=h("demo_admin")).status_code == 422


def test_webhook_registration_validates(db: Database) -> None:
    client = TestClient(create_app(db))
    ok = client.post("/api/v1/admin/webhooks", json={"jurisdiction": "SD", "name": "政务网", "url": "https://gov.example/h",
                                                     "secret": "x" * 20, "events": ["notify"]},
                     headers=h("demo_admin"))
    assert ok.status_code == 201
    bad = client.post("/api/v1/admin/webhooks", json={"jurisdiction": "SD", "name": "x", "url": "ftp://x",
                                                      "secret": "short", "events": ["nope"]}, headers=h("demo_admin"))
    assert bad.status_code == 422 and len(bad.json()["error"]["reasons"]) >= 2


def test_the_campaign_flow_opens_cases_once(flows_db: Database, driver: Driver, test_clock) -> None:
    from flows.campaign import campaigns_flow
    from services.orchestration.sweep import send_reminders

    cid = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", cid, "publicity")
    test_clock.advance(timedelta(days=20))
    from services.orchestration.timers import run_due_timers

    run_due_timers(flows_db, test_clock.now())
    test_clock.set(__import__("tests.conftest", fromlist=["at"]).at("2027-01-04 09:00"))  # first working day
    first = run_flow(campaigns_flow(reason="test"))
    sh = next(r for r in first if r["jurisdiction"] == "SH")
    assert sh["vintage"] == 2026 and sh["opened"] == 1
    again = run_flow(campaigns_flow(reason="test"))
    assert next(r for r in again if r["jurisdiction"] == "SH")["opened"] == 0
    with flows_db.read() as s:
        case = s.exec(select(Case).where(Case.procedure == "issuance")).one()
        assert (case.state, case.vintage) == ("open", 2026)
    # two working days before the window closes (2027-12-31), the owner is reminded
    test_clock.set(__import__("tests.conftest", fromlist=["at"]).at("2027-12-29 09:00"))
    assert send_reminders(flows_db, test_clock.now()) >= 1
    test_clock.set(__import__("tests.conftest", fromlist=["at"]).at("2028-01-02 09:00"))
    run_due_timers(flows_db, test_clock.now())
    with flows_db.read() as s:
        assert s.get(Case, case.id).state == "expired"


def test_publish_log_flow_sequences_and_signs(flows_db: Database, driver: Driver, log_key: str) -> None:
    from flows.transparency import publish_log
    from services.transparency import keys
    from services.transparency import verify as log_verify

    cid = driver.open("sd_applicant", "SD", application("SD"))
    driver.act("sd_applicant", cid, "submit", commitments("SD"))
    with flows_db.read() as s:
        rows = s.exec(select(sa.func.count()).select_from(AuditEvent)).one()  # the seeded people's and the case's
    result = run_flow(publish_log(reason="test", batch_size=10, max_batches=100))
    # a task and a signed head a batch of 10; the run ends at the first batch not full
    assert result["appended"] == result["tree_size"] == rows and result["batches"] == rows // 10 + 1
    assert result["heads_signed"] == result["batches"] - (rows % 10 == 0)
    assert keys.read_witness().split("\n")[1] == str(rows)
    assert run_flow(publish_log(reason="test"))["appended"] == 0
    with flows_db.read() as s:
        assert log_verify.verify(s)["ok"]


def test_publish_log_flow_without_a_key_signs_nothing(flows_db: Database) -> None:
    from flows.transparency import publish_log

    assert run_flow(publish_log(reason="test")) == {"skipped": "no signing key"}


def test_flow_run_list_shows_finished_and_failed_runs_first(flows_db: Database) -> None:
    """Runs scheduled ahead (one per schedule tick) no longer push the finished and failed runs off the list."""
    from datetime import UTC, datetime, timedelta

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    @flow(name="doomed", flow_run_name="doomed run")
    def doomed() -> None:
        raise RuntimeError("boom")

    doomed(return_state=True)
    run_flow(dispatch_flow_named("after the failure"))

    async def schedule_ahead() -> None:
        async with get_client() as client:
            for _ in range(5):
                await client.create_flow_run(doomed, name="later", state=Scheduled(
                    scheduled_time=datetime.now(UTC) + timedelta(hours=1)))

    run_flow(schedule_ahead())
    client = TestClient(create_app(flows_db))
    items = client.get("/api/v1/admin/flow-runs", params={"limit": 3}, headers=h("demo_admin")).json()["items"]
    assert "later" not in [r["name"] for r in items]
    assert all(r["state"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for r in items)
    assert [r["state"] for r in items if r["name"] == "doomed run"] == ["FAILED"]


def dispatch_flow_named(reason: str):
    from flows.dispatch import dispatch_flow

    return dispatch_flow(reason=reason)


def test_the_handoff_loop_dispatches_when_woken_and_sweeps_when_a_timer_falls_due(flows_db: Database,
                                                                                   driver: Driver) -> None:
    """flows/handoff.py on this database (SQLite: woken by hand, as NOTIFY would on PostgreSQL)."""
    from flows import handoff as handoffs
    from services.engine.clock import clock
    from services.orchestration import lease
    from services.store.tables import Timer

    loop = handoffs.Handoff(flows_db)
    context = contextvars.copy_context()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(context.run, asyncio.run, loop.run())

        def until(check, timeout: float = 60.0) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not running.done():
                if check():
                    return True
                time.sleep(0.2)
            return False

        try:
            assert until(lambda: loop.held)
            cid = driver.open("sd_applicant", "SD", application("SD"))
            driver.act("sd_applicant", cid, "submit", commitments("SD"))
            loop.wake("outbox")
            with flows_db.read() as s:
                written = len(s.exec(select(Outbox)).all())
            assert written and until(lambda: _statuses(flows_db, Outbox) == {"done"})
            with flows_db.write() as s:  # due now: the command is refused (wrong state), so it is cancelled
                s.add(Timer(case_id=cid, jurisdiction="SD", kind="test", trigger="lapse", state="supplement",
                            fire_at=clock.now()))
            loop.wake("timers")
            assert until(lambda: _statuses(flows_db, Timer, Timer.kind == "test") == {"cancelled"})
        finally:
            loop.stop()
            running.result(timeout=60)
    with flows_db.read() as s:  # the lease went back when the loop stopped
        assert s.exec(select(lease.SchedulerLease).where(lease.SchedulerLease.name == handoffs.LEASE)).first() is None
    # its runs name the worker process that ran them (how bench/recovery.py finds a lost worker's runs)
    runs = TestClient(create_app(flows_db)).get("/api/v1/admin/flow-runs", headers=h("demo_admin")).json()["items"]
    mine = {r["name"] for r in runs if f"handoff:{loop.holder}" in r["tags"]}
    assert {"dispatch (hand-off)", "sweep (hand-off)"} <= mine


def _statuses(db: Database, table, *where) -> set[str]:
    with db.read() as s:
        return {row.status for row in s.exec(select(table).where(*where))}
