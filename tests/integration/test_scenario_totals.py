"""Per-user, per-day reductions (services/procedures/scenarios/totals.py; issue 17 "Engines"): DuckDB and
Dask, the latter on a local two-worker cluster, give the same rows and the same figures from the same
accepted records; caps, parameters in force by date, consent (Ordos art. 13) and undefined formulas
are applied the same way, and the grams equal `states.scenarios.grams` of the formula evaluated by hand."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.procedures.scenarios.totals import user_day_totals
from states.scenarios import FLOAT_OPS, Activity, formula_eval, grams, parse_formula

pytestmark = pytest.mark.integration
ACTIVITIES = {
    "metro_trip": Activity("metro_trip", "km", 3, "quantity * (base - metro)", {"base": "b", "metro": "m"},
                           Decimal("200")),
    "bike_trip": Activity("bike_trip", "km", 2, "quantity * base / share", {"base": "b", "share": "s"},
                          Decimal("60")),
}
REGISTERED = [  # b changes on 2026-03-10 (the value in force on the activity date counts); s is 0 from 03-12
    {"name": "b", "value": "0.1087", "source_date": "2026-01-01"},
    {"name": "b", "value": "0.1123", "source_date": "2026-03-10"},
    {"name": "m", "value": "0.0342", "source_date": "2026-01-01"},
    {"name": "s", "value": "1.5", "source_date": "2026-03-03"},
    {"name": "s", "value": "0", "source_date": "2026-03-12"},
]
START, END = date(2026, 3, 1), date(2026, 3, 14)


def _records(tmp: Path) -> list[Path]:
    rnd = random.Random(17)
    files = []
    for batch in range(3):
        rows = []
        for i in range(4000):
            kind = "metro_trip" if rnd.random() < 0.7 else "bike_trip"
            scale = 1000 if kind == "metro_trip" else 100
            steps = rnd.randint(0, 30 * scale) if rnd.random() > 0.01 else 250 * scale  # some over the cap
            rows.append({"record_id": f"b{batch}-{i}", "user_id": f"u{rnd.randint(0, 150)}", "activity_type": kind,
                         "quantity_steps": steps,
                         "activity_date": START + timedelta(days=rnd.randint(-2, 16)),  # some outside the window
                         "business_date": START, "late": False})
        path = tmp / f"accepted-{batch}.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=1500)
        files.append(path)
    return files


def _consents(tmp: Path) -> Path:
    rows = [{"user_id": f"u{i}", "status": "granted", "effective_date": date(2026, 2, 1)} for i in range(0, 140)]
    rows += [{"user_id": "u5", "status": "withdrawn", "effective_date": date(2026, 3, 7)},
             {"user_id": "u6", "status": "withdrawn", "effective_date": date(2026, 3, 5)},
             {"user_id": "u6", "status": "granted", "effective_date": date(2026, 3, 9)},
             {"user_id": "u7", "status": "granted", "effective_date": date(2026, 3, 4)},
             {"user_id": "u7", "status": "withdrawn", "effective_date": date(2026, 3, 4)}]  # same day: withdrawn
    path = tmp / "consents.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _expected(files: list[Path], consents: Path) -> dict[tuple[str, date], int]:
    """The figures by hand: Python over the rows, the formula through `formula_eval` on floats."""
    events: dict[str, list[tuple[date, bool]]] = {}
    for e in pq.read_table(consents).to_pylist():
        events.setdefault(e["user_id"], []).append((e["effective_date"], e["status"] == "withdrawn"))

    def consented(user: str, day: date) -> bool:
        before = [e for e in events.get(user, []) if e[0] <= day]
        if not before:
            return False
        latest = max(d for d, _ in before)
        return not any(w for d, w in before if d == latest)

    sums: dict[tuple[str, date, str], int] = {}
    for path in files:
        for r in pq.read_table(path).to_pylist():
            if START <= r["activity_date"] <= END and consented(r["user_id"], r["activity_date"]):
                key = (r["user_id"], r["activity_date"], r["activity_type"])
                sums[key] = sums.get(key, 0) + r["quantity_steps"]
    out: dict[tuple[str, date], int] = {}
    for (user, day, kind), steps in sums.items():
        a = ACTIVITIES[kind]
        values = {"quantity": min(steps, a.cap_steps) / a.scale, "base": 0.1087 if day < date(2026, 3, 10) else 0.1123,
                  "metro": 0.0342}
        if kind == "bike_trip":
            if day < date(2026, 3, 3):
                continue  # s not in force yet: no_parameter
            values["share"] = 1.5 if day < date(2026, 3, 12) else 0.0
        g = grams(float(formula_eval(parse_formula(a.formula), values, FLOAT_OPS)))
        if g is None:
            continue  # division by zero: formula_undefined
        out[(user, day)] = out.get((user, day), 0) + g
    return out


def test_duckdb_and_dask_on_a_two_worker_cluster_agree_with_the_figures_by_hand(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster, get_task_stream

    files, consents = _records(tmp_path), _consents(tmp_path)
    common = {"activities": ACTIVITIES, "registered": REGISTERED, "start": START, "end": END, "consents": [consents]}
    embedded = user_day_totals(files, out=tmp_path / "duck.parquet", engine="duckdb", **common)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        with get_task_stream(client) as stream:
            scaled = user_day_totals(files, out=tmp_path / "dask.parquet", engine="dask", client=client,
                                     **common)
    # the final combine is split by user hash: one quantifying task per bucket, not one for the whole window
    assert sum(1 for t in stream.data if t["key"].startswith("_grams")) >= 2
    types = {"user_id": pa.string(), "activity_date": pa.date32(), "grams": pa.int64(), "records": pa.int64()}
    for name in ("duck", "dask"):  # the same columns and types from both engines
        schema = pq.read_schema(tmp_path / f"{name}.parquet")
        assert {f.name: f.type for f in schema} == types
    duck = pq.read_table(tmp_path / "duck.parquet").to_pylist()
    dask_rows = pq.read_table(tmp_path / "dask.parquet").to_pylist()
    assert duck == dask_rows and len(duck) > 1000
    assert embedded == scaled
    assert {(r["user_id"], r["activity_date"]): r["grams"] for r in duck} == _expected(files, consents)
    # every record read is used or excluded with its reason, and each reason occurred in this data
    assert embedded.records == embedded.used + sum(embedded.excluded.values())
    assert all(embedded.excluded[k] > 0 for k in ("no_consent", "no_parameter", "formula_undefined"))
    assert embedded.capped > 0 and embedded.total_g == sum(embedded.per_day.values()) == sum(r["grams"] for r in duck)
    assert set(embedded.per_day) <= {START + timedelta(days=i) for i in range(14)}


def test_without_a_consent_filter_and_without_records(tmp_path: Path) -> None:
    files = _records(tmp_path)
    common = {"activities": ACTIVITIES, "registered": REGISTERED, "start": START, "end": END}
    a = user_day_totals(files, out=tmp_path / "a.parquet", **common)
    b = user_day_totals(files, out=tmp_path / "b.parquet", engine="dask", **common)
    assert a == b and a.excluded["no_consent"] == 0 and a.used > 0
    empty = user_day_totals([], out=tmp_path / "e.parquet", engine="dask", **common)
    assert empty == user_day_totals([], out=tmp_path / "f.parquet", **common)
    assert empty.records == 0 and empty.users == 0 and pq.read_table(tmp_path / "e.parquet").num_rows == 0
    # no consent received at all: nothing counts
    none = user_day_totals(files, out=tmp_path / "n.parquet", consents=[], **common)
    assert none.used == 0 and none.excluded["no_consent"] == none.records > 0


def test_the_prefect_flow_runs_it_on_a_dask_cluster_with_the_same_figures(tmp_path: Path) -> None:
    """prefect-dask's DaskTaskRunner (a local two-worker cluster) drives the Dask engine from a flow."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.scenario_totals import scenario_totals_flow
    from tests.e2e.test_flows import run_flow

    files, consents = _records(tmp_path), _consents(tmp_path)
    quantification = {"activities": [{"type": a.type, "unit": a.unit, "decimals": a.decimals, "formula": a.formula,
                                      "bind": dict(a.bind), "cap_per_user_day": str(a.cap_per_user_day)}
                                     for a in ACTIVITIES.values()]}
    embedded = user_day_totals(files, activities=ACTIVITIES, registered=REGISTERED, start=START, end=END,
                               out=tmp_path / "duck.parquet", consents=[consents])
    with prefect_test_harness(server_startup_timeout=120):
        # on a thread of its own: a browser test in the same worker may keep an event loop running here
        figures = run_flow(scenario_totals_flow([str(p) for p in files], quantification, REGISTERED, START, END,
                                                str(tmp_path / "flow.parquet"), [str(consents)]))
    assert figures["total_g"] == embedded.total_g > 0 and figures["users"] == embedded.users
    assert figures["excluded"] == embedded.excluded and figures["capped"] == embedded.capped
    assert figures["per_day"] == {d.isoformat(): g for d, g in embedded.per_day.items()}
    flow_rows, duck_rows = pq.read_table(tmp_path / "flow.parquet"), pq.read_table(tmp_path / "duck.parquet")
    assert flow_rows.to_pylist() == duck_rows.to_pylist()


def test_a_window_in_runs_of_days_bounded_by_rows_gives_the_same_rows(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The DuckDB engine groups a run of days at a time, each run reading at most ROWS_PER_PASS rows by the
    files' row-group statistics (a run is at least one day): a tight bound cuts the window into many runs
    and the rows and figures are those of one pass."""
    from services.procedures.scenarios import totals

    files, consents = _records(tmp_path), _consents(tmp_path)
    common = {"activities": ACTIVITIES, "registered": REGISTERED, "start": START, "end": END, "consents": [consents]}
    assert totals._passes(files, START, END) == [(START, END)]  # 12,000 rows: one run
    whole = user_day_totals(files, out=tmp_path / "one.parquet", **common)
    monkeypatch.setattr(totals, "ROWS_PER_PASS", 3000)
    runs = totals._passes(files, START, END)
    assert len(runs) > 2 and runs[0][0] == START and runs[-1][1] == END
    assert all((b - a).days == 1 for (_, a), (b, _) in zip(runs, runs[1:], strict=False))  # contiguous
    assert user_day_totals(files, out=tmp_path / "runs.parquet", **common) == whole
    assert pq.read_table(tmp_path / "runs.parquet").to_pylist() == pq.read_table(tmp_path / "one.parquet").to_pylist()
