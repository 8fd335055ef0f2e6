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

from services.demo import Driver, application, drive_to
from services.engine.clock import clock
from services.orchestration.timers import run_due_timers
from services.store.engine import Database
from services.store.tables import Case, ScenarioBatch, ScenarioReport


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
