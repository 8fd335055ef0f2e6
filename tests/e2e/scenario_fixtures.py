"""Test fixtures for scenario issuance: a registered scenario, and a period's verification report as
scen-verify's `verify_period` leaves it (a `scenario_reports` row whose users Parquet holds
`user_id VARCHAR, reduction_g BIGINT`) together with one records batch row, so the campaign sees data.
These stand in for the intake and verification here; they are not product code."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from sqlmodel import col, select

from services.demo import Driver, application, drive_to
from services.engine.clock import clock
from services.orchestration.timers import run_due_timers
from services.procedures.scenarios.issuance import run_scenario_campaign
from services.store.engine import Database
from services.store.tables import Case, ScenarioAllocation, ScenarioBatch, ScenarioReport
from tests.e2e.http import act, h


def registered_scenario(db: Database, driver: Driver, test_clock, code: str, title: str = "绿色出行场景") -> int:
    cid = driver.open(f"{code.lower()}_applicant", code, application(code, kind="scenario", title=title))
    drive_to(driver, code, cid, "publicity")
    test_clock.advance(timedelta(days=20))
    run_due_timers(db, test_clock.now())
    with db.read() as s:
        case = s.get(Case, cid)
        assert case.state == "registered", case.state
        return case.project_id


def period_report(db: Database, data: Path, code: str, project_id: int, period: str, start: date, end: date,
                  users: dict[str, int]) -> int:
    """A verification report of the period with these per-user reductions (grams)."""
    directory = data / code / str(project_id) / "reports"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{period}-users.parquet"
    names = sorted(users)
    pq.write_table(pa.table({"user_id": pa.array(names, pa.string()),
                             "reduction_g": pa.array([users[u] for u in names], pa.int64())}), path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with db.write() as s:
        s.add(ScenarioBatch(project_id=project_id, kind="records", batch_id=f"b-{period}", business_date=start,
                            format="parquet", declared_count=len(users), sha256="0" * 64, raw_path="-",
                            accepted_path="-", accepted_sha256="0" * 64, rejected_path="-", rows_total=len(users),
                            rows_accepted=len(users), rows_rejected=0, rejections={}, received_at=clock.now()))
        report = ScenarioReport(project_id=project_id, jurisdiction=code, period=period, period_start=start,
                                period_end=end, engine="duckdb", digest=hashlib.sha256(sha.encode()).hexdigest(),
                                figures={"records_accepted": len(users), "reduction_g": sum(users.values()),
                                         "participants": len(users)},
                                users_path=str(path), users_sha256=sha, created_at=clock.now())
        s.add(report)
        s.flush()
        return int(report.id)


def rfc9162_root(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2 written out here, apart from the system's code: the root the path leads to."""
    fn, sn, r = index, size - 1, hashlib.sha256(b"\x00" + leaf).digest()
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def issue_period(client: TestClient, db: Database, code: str, pid: int) -> tuple[int, dict]:
    low = code.lower()
    assert run_scenario_campaign(db, code)["opened"] == 1
    assert run_scenario_campaign(db, code)["opened"] == 0  # idempotent
    with db.read() as s:
        cid = s.exec(select(Case.id).where(col(Case.procedure) == "scenario_issuance",
                                           col(Case.project_id) == pid)).one()
    case = client.get(f"/api/v1/cases/{cid}", headers=h(f"{low}_review_centre")).json()
    if case["state"]["name"] == "commissioning":  # Shanghai art. 15: a technical service agency verifies
        vid = client.get("/api/v1/public/verifiers", params={"jurisdiction": code}).json()["items"][0]["id"]
        bad = act(client, f"{low}_case_officer", cid, "commission_verifier", {"verifier_id": 99999}, expect=422)
        assert bad["error"]["reasons"][0]["code"] == "verifier_unknown"
        act(client, f"{low}_case_officer", cid, "commission_verifier", {"verifier_id": vid})
        act(client, f"{low}_verifier", cid, "verify_report", {"opinion": "数据完整，核证通过"})
    else:  # Ordos art. 15: verified digitally, the report stands in for the verifier
        assert case["state"]["name"] == "technical_review"
    act(client, f"{low}_review_centre", cid, "pass_review", {"opinion": "数字化核证报告审核通过"})
    case = act(client, f"{low}_approver", cid, "approve", {})
    assert case["state"]["name"] == "issued"
    with db.read() as s:
        allocation = s.exec(select(ScenarioAllocation).where(col(ScenarioAllocation.case_id) == cid)).one()
        return cid, allocation.model_dump()


def token_for(client: TestClient, code: str, pid: int, user: str) -> str:
    r = client.post(f"/api/v1/scenarios/{pid}/lookup-tokens", json={"user_id": user},
                    headers=h(f"{code.lower()}_applicant"))
    assert r.status_code == 201, r.text
    return r.json()["token"]


