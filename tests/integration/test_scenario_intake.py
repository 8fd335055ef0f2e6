"""Intake of one batch with DuckDB (services/procedures/scenarios/intake.py; issue 17): every row accepted or
refused with every reason, duplicates within and across batches, personal identifiers refused, the same
result from Parquet, CSV and JSON Lines, and files that cannot be taken refused whole."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.procedures.scenarios.intake import BatchUnreadable, connect, ingest_consents, ingest_records
from states.scenarios import RECORD_COLUMNS, Activity

pytestmark = pytest.mark.integration
ACTIVITIES = {"metro_trip": Activity("metro_trip", "km", 3, "quantity * (base - metro)",
                                     {"base": "b", "metro": "m"}, Decimal("200"))}
ROWS = [  # record_id, user_id, activity_type, quantity, activity_date -> the reasons expected
    (("r1", "u1", "metro_trip", "12.5", "2026-02-27"), ""),
    (("r2", "13800138000", "metro_trip", "3", "2026-02-27"), "pii_phone"),
    (("r3", "u2", "metro_trip", "-1", "2026-02-27"), "negative_quantity"),
    (("r1", "u1", "metro_trip", "1", "2026-02-27"), "duplicate_in_batch"),
    (("r4", "u3", "bus", "1", "2026-02-27"), "unknown_activity"),
    (("r5", "u3", "metro_trip", "1.2345", "2026-02-20"), "too_precise"),
    (("r6", "u4", "metro_trip", "abc", "2026-13-01"), "bad_quantity;bad_date"),
    (("r7", "", "metro_trip", "1", "2026-02-27"), "missing_field"),
    (("r8", "u5", "metro_trip", "1", "2026-03-05"), "future_date"),
    (("11010519491231002X", "u6", "metro_trip", "1", "2026-02-27"), "pii_id_card"),
    (("r10", "u6", "metro_trip", "2", "2026-02-20"), ""),  # late: more than 3 days before the batch
]


def _write(path: Path, fmt: str, rows: list[tuple[str, ...]]) -> Path:
    if fmt == "csv":
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(RECORD_COLUMNS)
            w.writerows(rows)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(dict(zip(RECORD_COLUMNS, r, strict=True))) + "\n" for r in rows))
    else:
        pq.write_table(pa.table({c: [r[i] for r in rows] for i, c in enumerate(RECORD_COLUMNS)}), path)
    return path


def _ingest(tmp: Path, fmt: str, name: str, rows: list[tuple[str, ...]], earlier: list[Path]) -> tuple:
    con = connect()
    raw = _write(tmp / f"{name}.{fmt}", fmt, rows)
    result = ingest_records(con, raw=raw, fmt=fmt, business_date=date(2026, 3, 1), activities=ACTIVITIES,
                            earlier=earlier, late_days=3, accepted=tmp / f"{name}-ok.parquet",
                            rejected=tmp / f"{name}-no.parquet")
    return result, pq.read_table(tmp / f"{name}-ok.parquet").to_pylist(), pq.read_table(
        tmp / f"{name}-no.parquet").to_pylist()


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_every_row_is_accepted_or_refused_with_its_reasons(tmp_path: Path, fmt: str) -> None:
    result, accepted, rejected = _ingest(tmp_path, fmt, "b1", [r for r, _ in ROWS], [])
    assert (result.rows_total, result.rows_accepted, result.rows_rejected) == (11, 2, 9)  # nothing lost
    assert [(a["record_id"], a["quantity_steps"], a["late"]) for a in accepted] == [("r1", 12500, False),
                                                                                    ("r10", 2000, True)]
    assert result.late == 1
    assert [(r["row_no"], r["reasons"]) for r in rejected] == [(i + 1, why) for i, (_, why) in enumerate(ROWS) if why]
    assert rejected[0]["user_id"] == "13800138000"  # kept as sent, for the enterprise to download and fix
    assert result.rejections["bad_date"] == 1 and sum(result.rejections.values()) == 10


def test_a_record_id_accepted_in_an_earlier_batch_is_a_duplicate(tmp_path: Path) -> None:
    _ingest(tmp_path, "csv", "b1", [ROWS[0][0]], [])
    result, accepted, rejected = _ingest(tmp_path, "csv", "b2", [ROWS[0][0], ("r11", "u1", "metro_trip", "1",
                                                                              "2026-02-28")],
                                         [tmp_path / "b1-ok.parquet"])
    assert [a["record_id"] for a in accepted] == ["r11"]
    assert [r["reasons"] for r in rejected] == ["duplicate_across_batches"]


def test_a_file_with_the_wrong_columns_or_unreadable_is_refused_whole(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("record_id,user_id,phone,quantity,activity_date\nr1,u1,13800138000,1,2026-02-27\n")
    with pytest.raises(BatchUnreadable) as caught:
        ingest_records(connect(), raw=bad, fmt="csv", business_date=date(2026, 3, 1), activities=ACTIVITIES,
                       earlier=[], late_days=3, accepted=tmp_path / "a.parquet", rejected=tmp_path / "r.parquet")
    assert [code for code, _ in caught.value.problems] == ["scenario_columns_missing", "scenario_columns_unexpected"]
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(BatchUnreadable):
        ingest_records(connect(), raw=junk, fmt="parquet", business_date=date(2026, 3, 1), activities=ACTIVITIES,
                       earlier=[], late_days=3, accepted=tmp_path / "a.parquet", rejected=tmp_path / "r.parquet")


def test_a_consent_feed(tmp_path: Path) -> None:
    raw = tmp_path / "c.csv"
    raw.write_text("user_id,status,effective_date\nu1,granted,2026-01-01\nu2,maybe,2026-01-01\n"
                   "13800138000,granted,2026-01-01\nu3,withdrawn,2026-02-01\n")
    result = ingest_consents(connect(), raw=raw, fmt="csv", business_date=date(2026, 3, 1),
                             accepted=tmp_path / "ok.parquet", rejected=tmp_path / "no.parquet")
    assert (result.rows_accepted, result.rejections) == (2, {"bad_status": 1, "pii_phone": 1})
    assert [r["user_id"] for r in pq.read_table(tmp_path / "ok.parquet").to_pylist()] == ["u1", "u3"]
