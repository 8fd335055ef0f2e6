"""Digital verification of a scenario period (services/procedures/scenarios/verification.py) against DuckDB's
bare scan-and-aggregate of the same Parquet files, measured in the same run.

`--days` accepted-record files of `--records` each (bench/scenarios.py's seeded generator, ids unique
across days, about 5 % a day late), a consent feed granting 98 % of the users, registered in a fresh
SQLite database; then the month is verified: every input file's SHA-256 checked, the records per
activity, late, back-dated and repeated ids counted, the per-user, per-day totals (consent, caps,
parameters in force), the history window, the per-user file and the digest. Prints records/s, the ratio
to the bare scan (measured before and after) and the process's peak RSS.

    .venv/bin/python -m bench.scenario_verify [--records 1000000] [--days 30] [--users 200000] [--engine duckdb]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.scenarios import bare, generate_accepted, load, peak_mib
from services.bootstrap import setup
from services.engine.clock import clock
from services.procedures.scenarios import verification
from services.procedures.scenarios.files import path_for, sha256_file
from services.store.engine import Database
from services.store.tables import MethodologyVersion, Organisation, Project, ScenarioBatch

START = date(2026, 3, 1)
QUANTIFICATION = {"activities": [
    {"type": "metro_trip", "unit": "km", "decimals": 3, "formula": "quantity * (b - m)", "bind": {"b": "b", "m": "m"},
     "cap_per_user_day": "200"},
    {"type": "bike_trip", "unit": "km", "decimals": 3, "formula": "quantity * b", "bind": {"b": "b"},
     "cap_per_user_day": "60"}]}
PARAMETERS = [{"name": "b", "value": "0.1087", "unit": "kgCO2/km", "source": "bench", "source_date": "2025-01-01"},
              {"name": "m", "value": "0.0342", "unit": "kgCO2/km", "source": "bench", "source_date": "2025-01-01"}]


def scenario(db: Database) -> int:
    with db.write() as session:
        version = MethodologyVersion(jurisdiction="ORD", code="BENCH-METRO", version="1.0", title="bench",
                                     kind="scenario", status="filed", parameters=PARAMETERS,
                                     quantification=QUANTIFICATION)
        org = Organisation(uscc="91150000BENCH0001X", name="bench", created_at=clock.now())
        session.add(version)
        session.add(org)
        session.flush()
        project = Project(jurisdiction="ORD", kind="scenario", title="bench", owner_org_id=org.id or 0,
                          methodology_version_id=version.id, status="registered", created_at=clock.now())
        session.add(project)
        session.flush()
        return project.id or 0


def batch(pid: int, kind: str, name: str, day: date, path: Path, rows: int) -> ScenarioBatch:
    digest = sha256_file(path)
    return ScenarioBatch(project_id=pid, kind=kind, batch_id=name, business_date=day, format="parquet",
                         declared_count=rows, sha256=digest, raw_path=str(path), accepted_path=str(path),
                         accepted_sha256=digest, rejected_path=str(path), rows_total=rows, rows_accepted=rows,
                         rows_rejected=0, late=0, rejections={}, received_at=clock.now())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000, help="records a day")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--engine", default="duckdb", choices=verification.ENGINES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        os.environ["SCENARIO_DATA_DIR"] = str(work / "scenarios")
        db = Database(f"sqlite:///{work / 'bench.sqlite3'}")
        setup(db)
        pid = scenario(db)
        started = time.perf_counter()
        files = []
        with db.write() as session:
            for i in range(args.days):
                day = START + timedelta(days=i)
                path = path_for("ORD", pid, "accepted", f"records-{day}.parquet")
                generate_accepted(path, args.records, args.users, day, seed=0.3 + i / 1000, first_id=i * args.records)
                files.append(path)
                session.add(batch(pid, "records", f"d{day}", day, path, args.records))
            consent = path_for("ORD", pid, "accepted", "consents.parquet")
            granted = args.users * 98 // 100  # the last 2 % of users never consented (Ordos art. 13)
            pq.write_table(pa.table({"user_id": [f"u{i}" for i in range(granted)],
                                     "status": ["granted"] * granted,
                                     "effective_date": pa.array([date(2026, 1, 1)] * granted, pa.date32())}),
                           consent)
            session.add(batch(pid, "consents", "c1", date(2026, 1, 1), consent, granted))
        records = args.records * args.days
        print(f"generated {args.days} x {args.records:,} records in {time.perf_counter() - started:.1f} s; "
              f"load average {load()}")
        before = bare(files, "quantity_steps")[0]
        started = time.perf_counter()
        report = verification.run(db, pid, f"{START:%Y-%m}", engine=args.engine)
        took = time.perf_counter() - started
        after = bare(files, "quantity_steps")[0]
        reference = (before + after) / 2
        f = report.figures
        print(f"bare scan-and-aggregate {before:.2f} s / {after:.2f} s ({records / reference:,.0f} records/s)")
        print(f"verification ({args.engine}) {took:.2f} s ({records / took:,.0f} records/s, "
              f"{reference / took:.2f}x the bare scan); counted {f['records']['counted']:,}, "
              f"participants {f['participants']:,}, {f['totals']['reduction_g'] / 1e6:,.1f} t; "
              f"peak RSS {peak_mib():,.0f} MiB; load average {load()}")
        db.dispose()


if __name__ == "__main__":
    main()
