"""Operators' probes: /livez, /readyz (database reachable and migrated; Prefect when configured), /metrics
(request counters by route template, commands, the database's gauges), and the request id carried from a
request into the outbox rows its command wrote and into the JSON log lines."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from services.api import create_app
from services.demo import Driver, application, commitments
from services.engine import telemetry
from services.engine.clock import clock
from services.orchestration import dispatch, health
from services.store import correlation
from services.store.engine import Database
from services.store.tables import Outbox, Timer

pytestmark = pytest.mark.e2e
APPLICANT = {"Authorization": "Bearer demo-sh_applicant"}


@pytest.fixture
def api(db: Database) -> TestClient:
    return TestClient(create_app(db))


def test_livez_and_readyz_when_all_is_well(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert api.get("/livez").json() == {"status": "ok"}
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").json() == {"status": "ready"}


def test_readyz_names_an_unmigrated_database_and_an_unreachable_prefect(
        db: Database, api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens on the discard port
    with db.writer.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0007'"))
    r = api.get("/readyz")
    assert r.status_code == 503
    codes = [x["code"] for x in r.json()["reasons"]]
    assert codes == ["database_not_migrated", "prefect_unavailable"]
    assert all(x["zh"] and x["en"] for x in r.json()["reasons"])
    assert "0007" in r.json()["reasons"][0]["en"]


def test_readyz_names_an_unreachable_database(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    broken = Database("postgresql://nobody@127.0.0.1:9/none")
    r = TestClient(create_app(broken)).get("/readyz")
    assert r.status_code == 503 and r.json()["reasons"][0]["code"] == "database_unreachable"


def test_a_process_refuses_to_start_on_a_database_it_cannot_use(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")  # exists, never migrated
    monkeypatch.setenv("SCHEDULER", "off")
    with pytest.raises(health.NotReady, match="database_not_migrated"), TestClient(create_app()):
        pass
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("SCHEDULER", "prefect")  # scaled out: the SQLite default is no database at all
    with pytest.raises(health.NotReady, match="database_not_configured"), TestClient(create_app()):
        pass


def test_metrics_count_requests_by_route_template_and_commands(db: Database, driver: Driver, api: TestClient,
                                                                test_clock) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    before = telemetry.COMMANDS.labels("project_registration", "submit", "ok")._value.get()
    api.get(f"/api/v1/cases/{cid}", headers=APPLICANT)
    api.get(f"/api/v1/cases/{cid + 1000}", headers=APPLICANT)
    r = api.post(f"/api/v1/cases/{cid}/actions/submit", headers={**APPLICANT, "Idempotency-Key": "m1"},
                 json=commitments("SH"))
    assert r.status_code == 200, r.text
    assert telemetry.COMMANDS.labels("project_registration", "submit", "ok")._value.get() == before + 1
    refused = telemetry.COMMANDS.labels("project_registration", "submit", "conflict")._value.get()
    api.post(f"/api/v1/cases/{cid}/actions/submit", headers={**APPLICANT, "Idempotency-Key": "m2"},
             json=commitments("SH"))  # submitted already: an illegal trigger now
    assert telemetry.COMMANDS.labels("project_registration", "submit", "conflict")._value.get() == refused + 1
    with db.write() as s:
        s.add(Outbox(key="dead:1", kind="notify", status="dead", payload={}, created_at=clock.now(),
                     available_at=clock.now()))
        s.add(Timer(case_id=cid, jurisdiction="SH", kind="publicity", trigger="publicity_ended", state="publicity",
                    status="pending", fire_at=clock.now() - timedelta(seconds=90)))
    text = api.get("/metrics").text
    assert 'carbon_http_requests_total{method="GET",route="/api/v1/cases/{case_id}",status="200"}' in text
    assert 'route="/api/v1/cases/{case_id}",status="404"' in text
    assert "carbon_commands_total{" in text
    assert 'carbon_outbox_rows{status="dead"} 1.0' in text
    assert "carbon_http_request_duration_seconds_bucket{" in text
    lag = next(line for line in text.splitlines() if line.startswith("carbon_timer_oldest_due_lag_seconds "))
    assert float(lag.split()[1]) == pytest.approx(90, abs=1)


def test_a_request_id_goes_into_its_outbox_rows_and_the_log(db: Database, driver: Driver, api: TestClient,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    with caplog.at_level(logging.INFO, logger="carbon.http"):
        r = api.post(f"/api/v1/cases/{cid}/actions/submit", json=commitments("SH"),
                     headers={**APPLICANT, "Idempotency-Key": "rid-1", "X-Request-ID": "req-abc-123"})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "req-abc-123"
    with db.read() as s:
        rows = s.exec(select(Outbox).where(Outbox.case_id == cid)).all()
    assert rows and {row.request_id for row in rows} == {"req-abc-123"}
    action = "/api/v1/cases/{case_id}/actions/{trigger}"
    line = json.loads(telemetry.JsonFormatter().format(
        next(rec for rec in caplog.records if getattr(rec, "route", None) == action)))
    assert line["request_id"] == "req-abc-123" and line["status"] == 200
    # the dispatcher delivers each row under the id of the request that wrote it
    with caplog.at_level(logging.INFO, logger="carbon.dispatch"):
        dispatch.drain(db, dispatch.Channels(smtp_host=None))
    delivered = [rec for rec in caplog.records if getattr(rec, "outbox_id", None) in {row.id for row in rows}]
    assert delivered and all(json.loads(telemetry.JsonFormatter().format(rec))["request_id"] == "req-abc-123"
                             for rec in delivered)
    # a made-up id is not trusted into logs and rows
    assert api.get("/livez", headers={"X-Request-ID": "bad id\nx"}).headers["x-request-id"] != "bad id\nx"
    assert correlation.current() is None
