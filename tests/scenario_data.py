"""Scenario data for tests: a registered scenario whose methodology declares its quantification, and
batches taken in by the intake functions (the raw file, the accepted and rejected Parquet, the batch's
row) exactly as the intake does."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import select

from services.engine.clock import clock
from services.procedures.scenarios.files import path_for, sha256_file
from services.procedures.scenarios.intake import connect, ingest_consents, ingest_records
from services.store.engine import Database
from services.store.tables import MethodologyVersion, Organisation, Project, ScenarioBatch, User
from states.profiles import get_profile
from states.scenarios import CONSENT_COLUMNS, RECORD_COLUMNS, activities_of
from tests.scenarios_setup import as_csv

# A metro scenario: kgCO2e = km × (car factor − metro factor); 200 km a user a day at most. The car factor
# changes on 2026-02-01 (a parameter registered again with a later source date).
PARAMETERS = [
    {"name": "燃油车排放因子", "value": "0.20", "unit": "kgCO2/km", "source": "a", "source_date": "2024-01-01"},
    {"name": "燃油车排放因子", "value": "0.18", "unit": "kgCO2/km", "source": "b", "source_date": "2026-02-01"},
    {"name": "地铁排放因子", "value": "0.04", "unit": "kgCO2/km", "source": "c", "source_date": "2024-01-01"},
]
QUANTIFICATION = {"activities": [
    {"type": "metro_trip", "unit": "km", "decimals": 3, "formula": "quantity * (car - metro)",
     "bind": {"car": "燃油车排放因子", "metro": "地铁排放因子"}, "cap_per_user_day": "200"},
    {"type": "bike_trip", "unit": "km", "decimals": 1, "formula": "quantity * car",
     "bind": {"car": "燃油车排放因子"}, "cap_per_user_day": "50"},
]}


def make_scenario(db: Database, jurisdiction: str, *, quantification: dict | None = QUANTIFICATION,
                  title: str = "地铁出行", owner: str | None = None) -> int:
    """`owner`: a demo user whose organisation runs the scenario (default: an organisation of its own)."""
    with db.write() as session:
        version = MethodologyVersion(jurisdiction=jurisdiction, code=f"{jurisdiction}-M-METRO-{title}", version="1.0",
                                     title=f"{title}碳普惠方法学", kind="scenario", status="filed",
                                     filed_on=date(2025, 1, 1), parameters=PARAMETERS, quantification=quantification)
        session.add(version)
        uscc = "91" + hashlib.sha256(title.encode() + jurisdiction.encode()).hexdigest()[:16].upper()
        org = session.exec(select(Organisation).where(Organisation.uscc == uscc)).first()
        if owner is not None:
            org = session.get(Organisation, session.exec(select(User.org_id).where(User.username == owner)).one())
        if org is None:
            org = Organisation(uscc=uscc, name=f"{title}运营公司", created_at=clock.now())
            session.add(org)
        session.flush()
        project = Project(jurisdiction=jurisdiction, kind="scenario", title=title, owner_org_id=org.id,
                          methodology_version_id=version.id, status="registered", created_at=clock.now())
        session.add(project)
        session.flush()
        assert project.id is not None
        return project.id


def send_direct(db: Database, project_id: int, kind: str, batch_id: str, business_date: date,
                rows: list[tuple[str, ...]]) -> ScenarioBatch:
    """One batch (`records` or `consents`) through the intake functions into the scenario's files."""
    with db.write() as session:
        project = session.get(Project, project_id)
        assert project is not None
        version = session.get(MethodologyVersion, project.methodology_version_id)
        assert version is not None
        jur = project.jurisdiction
        raw = path_for(jur, project_id, "raw", f"{kind}-{batch_id}.csv")
        raw.write_bytes(as_csv(RECORD_COLUMNS if kind == "records" else CONSENT_COLUMNS, rows))
        accepted = path_for(jur, project_id, "accepted", f"{kind}-{batch_id}.parquet")
        rejected = path_for(jur, project_id, "rejected", f"{kind}-{batch_id}.parquet")
        if kind == "records":
            earlier = [Path(b.accepted_path) for b in session.exec(
                select(ScenarioBatch).where(ScenarioBatch.project_id == project_id, ScenarioBatch.kind == kind))]
            result = ingest_records(connect(), raw=raw, fmt="csv", business_date=business_date,
                                    activities=activities_of(version.quantification or {}), earlier=earlier,
                                    late_days=get_profile(jur).scenarios.late_days,
                                    accepted=accepted, rejected=rejected)
        else:
            result = ingest_consents(connect(), raw=raw, fmt="csv", business_date=business_date,
                                     accepted=accepted, rejected=rejected)
        batch = ScenarioBatch(project_id=project_id, kind=kind, batch_id=batch_id, business_date=business_date,
                              format="csv", declared_count=len(rows), sha256=sha256_file(raw), raw_path=str(raw),
                              accepted_path=str(accepted), accepted_sha256=sha256_file(accepted),
                              rejected_path=str(rejected), rows_total=result.rows_total,
                              rows_accepted=result.rows_accepted, rows_rejected=result.rows_rejected, late=result.late,
                              rejections=result.rejections, received_at=clock.now())
        session.add(batch)
        return batch


Send = Callable[[int, str, str, date, list[tuple[str, ...]]], object]


def february(db: Database, jurisdiction: str = "ORD", via: Send | None = None) -> int:
    """A month of an Ordos-like scenario (monthly, 3 late days): consent, caps, late and back-dated records, PII.
    `via(project_id, kind, batch_id, business_date, rows)` sends each batch (default: the intake functions)."""
    pid = make_scenario(db, jurisdiction)
    send: Send = via or partial(send_direct, db)
    send(pid, "consents", "c1", date(2026, 1, 2), [
        ("u1", "granted", "2026-01-01"), ("u2", "granted", "2026-01-01"),
        ("u4", "granted", "2026-02-01"), ("u4", "withdrawn", "2026-02-01")])  # the same day: withdrawal wins
    send(pid, "consents", "c2", date(2026, 2, 15), [("u2", "withdrawn", "2026-02-15")])
    send(pid, "records", "d0115", date(2026, 1, 15), [("r0", "u1", "metro_trip", "10", "2026-01-15")])
    send(pid, "records", "d0205", date(2026, 2, 5), [
        ("r1", "u1", "metro_trip", "10", "2026-02-05"),
        ("r2", "u1", "metro_trip", "150", "2026-02-04"),  # with r3: 250 km that day, capped at 200
        ("r3", "u1", "metro_trip", "100", "2026-02-04"),
        ("r4", "u2", "metro_trip", "20", "2026-02-05"),
        ("r6", "u3", "bike_trip", "5.5", "2026-02-05"),  # u3 never consented (Ordos art. 13)
        ("r7", "13800138000", "metro_trip", "1", "2026-02-05"),  # refused at intake (Shanghai art. 22)
        ("r8", "u1", "bike_trip", "10", "2026-01-31")])  # January's cut-off was 02-03: back-dated
    send(pid, "records", "d0220", date(2026, 2, 20), [
        ("r5", "u2", "metro_trip", "20", "2026-02-16"),  # after u2 withdrew
        ("r9", "u4", "metro_trip", "5", "2026-02-10"),
        ("r10", "u1", "bike_trip", "10", "2026-02-10")])  # late (10 days) but by the cut-off: counts
    send(pid, "records", "d0302", date(2026, 3, 2), [
        ("r11", "u1", "metro_trip", "5", "2026-02-28"),  # within the 3 late days after February
        ("r12", "u1", "metro_trip", "5", "2026-03-01")])  # March's
    send(pid, "records", "d0310", date(2026, 3, 10), [("r13", "u1", "metro_trip", "5", "2026-02-27")])
    return pid


@pytest.fixture
def scenario_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Scenario files under the test's own directory (`SCENARIO_DATA_DIR`), never a developer's var/."""
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))
    return tmp_path / "scenarios"
