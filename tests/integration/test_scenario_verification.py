"""Digital verification of a scenario's period (services/procedures/scenarios/verification.py; Ordos art. 15,
Shanghai arts. 13, 15, 22): consent, caps, parameters in force on the activity date, late and back-dated
records, PII counts from intake, anomalies, the per-user file issuance reads, reproducibility and versions."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlmodel import delete, select

from services.engine.errors import Invalid
from services.procedures.scenarios import verification
from services.store.engine import Database
from services.store.tables import ScenarioBatch, ScenarioReport
from tests.scenario_data import february, make_scenario, scenario_files  # noqa: F401 - pytest fixtures
from tests.scenario_data import send_direct as send

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("scenario_files")]



def _users(report: ScenarioReport) -> dict[str, int]:
    table = pq.read_table(report.users_path)
    assert table.schema.names == ["user_id", "reduction_g"]
    assert [str(t) for t in table.schema.types] == ["string", "int64"]
    return dict(zip(table.column("user_id").to_pylist(), table.column("reduction_g").to_pylist(), strict=True))


def test_a_period_is_verified_by_its_rules(db: Database) -> None:
    pid = february(db)
    report = verification.run(db, pid, "2026-02")
    f = report.figures
    # u1: 10 km × (0.18 − 0.04) + 200 km (capped from 250) × 0.14 + 10 km bike × 0.18 + 5 km × 0.14, in grams
    assert _users(report) == {"u1": 1400 + 28000 + 1800 + 700, "u2": 2800}
    assert f["totals"]["reduction_g"] == 34700 and f["participants"] == 2
    # late (more than 3 days before their batch, yet by the cut-off): r5, r9, r10 — only r10 had consent
    assert f["records"] == {"in_period": 9, "counted": 6, "late": 3, "excluded": 4}
    assert f["exclusions"] == {"back_dated": 1, "no_consent": 3, "no_parameter": 0, "formula_undefined": 0}
    # the report's reconciliation: the period's records are counted or left out for a reason of the period;
    # back-dated records belong to earlier periods (not among them)
    assert f["records"]["in_period"] == f["records"]["counted"] + sum(
        n for code, n in f["exclusions"].items() if code != "back_dated")
    assert f["capped_user_days"] == 1
    assert f["received_by_activity"] == {"bike_trip": {"unit": "km", "records": 2, "quantity": "15.5"},
                                         "metro_trip": {"unit": "km", "records": 7, "quantity": "310.000"}}
    assert f["batches"]["count"] == 2 and f["pii"] == {"pii_phone": 1, "pii_id_card": 0, "pii_email": 0}
    assert f["rejections"] == {"pii_phone": 1}
    assert [d["day"] for d in f["anomalies"]] == ["2026-02-04"]  # 28 kg against a median of 3 kg
    assert len(f["days"]) == 28
    assert f["days"][3] == {"day": "2026-02-04", "records": 2, "users": 1, "reduction_g": 28000}
    # the parameter in force on each day (the car factor as registered from 2024 and from 2026-02-01)
    assert f["parameters"]["metro_trip"]["car"] == [{"from": "2026-02-01", "to": "2026-02-28", "name": "燃油车排放因子",
                                                     "value": 0.18}]
    assert {i["batch_id"] for i in f["inputs"] if i["role"] == "records"} == {"d0205", "d0220", "d0302"}
    january = verification.run(db, pid, "2026-01")
    assert _users(january) == {"u1": 1600}  # 10 km × (0.20 − 0.04): January's factor; r8 came too late


def test_the_same_inputs_give_the_same_report_and_new_inputs_a_new_version(db: Database) -> None:
    pid = february(db)
    first = verification.run(db, pid, "2026-02")
    again = verification.run(db, pid, "2026-02")
    assert again.id == first.id  # idempotent
    with db.write() as session:  # a fresh system recomputing from the same files
        session.exec(delete(ScenarioReport))
    recomputed = verification.run(db, pid, "2026-02")
    assert (recomputed.digest, recomputed.figures, recomputed.users_sha256) == (first.digest, first.figures,
                                                                                first.users_sha256)
    send(db, pid, "records", "d0303", date(2026, 3, 3), [("r14", "u2", "metro_trip", "10", "2026-02-14")])
    newer = verification.run(db, pid, "2026-02")
    assert newer.id != recomputed.id and newer.digest != recomputed.digest
    assert newer.figures["totals"]["reduction_g"] == 34700 + 1400
    with db.read() as session:
        assert [r.id for r in verification.reports(session, pid, "2026-02")] == [newer.id, recomputed.id]


def test_unknown_period_and_no_quantification_are_refused_with_every_reason(db: Database) -> None:
    pid = make_scenario(db, "ORD", quantification=None, title="无量化")
    with pytest.raises(Invalid) as caught:
        verification.run(db, pid, "2026-13")
    assert [r.code for r in caught.value.reasons] == ["scenario_period_unknown", "scenario_no_quantification"]
    sh = make_scenario(db, "SH")
    with pytest.raises(Invalid) as caught:
        verification.run(db, sh, "2026-02")  # Shanghai issues annually (art. 15)
    assert [r.code for r in caught.value.reasons] == ["scenario_period_unknown"]


def test_a_file_altered_after_intake_is_refused(db: Database) -> None:
    pid = february(db)
    batch = send(db, pid, "records", "d0301", date(2026, 3, 1), [("r20", "u1", "metro_trip", "1", "2026-02-28")])
    with open(batch.accepted_path, "ab") as f:
        f.write(b"x")
    with pytest.raises(Invalid) as caught:
        verification.run(db, pid, "2026-02")
    assert [r.code for r in caught.value.reasons] == ["scenario_input_altered"]


def test_dask_gives_the_same_report_as_duckdb(db: Database) -> None:
    """Issue 17 "Engines": the scale-out engine computes the same figures and per-user file, so the digest
    (which does not name the engine) is the same."""
    pid = february(db)
    embedded = verification.run(db, pid, "2026-02", engine="duckdb")
    with db.write() as session:
        session.exec(delete(ScenarioReport))
    scaled = verification.run(db, pid, "2026-02", engine="dask")
    assert scaled.engine == "dask"
    assert (scaled.digest, scaled.figures, scaled.users_sha256) == (embedded.digest, embedded.figures,
                                                                    embedded.users_sha256)


def test_a_record_id_twice_among_the_inputs_refuses_the_period(db: Database) -> None:
    """Intake refuses duplicates; files it did not write (here a copy registered as another batch) are not
    verified rather than counted twice (Shanghai art. 22)."""
    pid = february(db)
    with db.write() as session:
        original = session.exec(select(ScenarioBatch).where(ScenarioBatch.batch_id == "d0205")).one()
        copy = Path(original.accepted_path).with_name("copy.parquet")
        shutil.copy(original.accepted_path, copy)
        session.add(ScenarioBatch(**{**original.model_dump(exclude={"id"}), "batch_id": "copy",
                                     "business_date": date(2026, 2, 6), "accepted_path": str(copy)}))
    with pytest.raises(Invalid) as caught:
        verification.run(db, pid, "2026-02")
    # the five February rows of d0205, twice
    assert [(r.code, r.params["count"]) for r in caught.value.reasons] == [("scenario_duplicate_records", 5)]
