"""Scenario intake throughput (issue 17): one day of records ingested (every row checked, duplicates within
and across batches, PII refused, accepted and refused rows written to Parquet) against DuckDB's own bare
scan-and-aggregate of the same Parquet file, in the same run.

    .venv/bin/python -m bench.scenarios --records 10000000     # the issue's day (target <= 30 s, >= 0.3x)
    .venv/bin/python -m bench.scenarios --scale 0.1            # a tenth of it, quick

The generator is seeded: users, activity types, dates, and injected duplicates (0.5 %), over-cap
quantities (0.2 %), phone numbers as user ids (0.1 %) and unknown activity types (0.1 %).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from services.procedures.scenarios.intake import connect, ingest_records
from states.scenarios import Activity

DAY = date(2026, 3, 1)
ACTIVITIES = {
    "metro_trip": Activity("metro_trip", "km", 3, "quantity * (base - metro)", {"base": "b", "metro": "m"},
                           Decimal("200")),
    "bike_trip": Activity("bike_trip", "km", 3, "quantity * base", {"base": "b"}, Decimal("60")),
}


def generate(path: Path, records: int, users: int, seed: float = 0.42, first_id: int = 0) -> None:
    """One day's batch as Parquet, made by DuckDB from a seed (the same seed, the same file)."""
    con = connect()
    con.execute(f"SELECT setseed({seed})")
    con.execute(f"""
        COPY (
          SELECT
            CASE WHEN random() < 0.005 THEN 'r' || CAST(greatest(i - 1000, 0) AS VARCHAR)   -- duplicates
                 ELSE 'r' || CAST(i AS VARCHAR) END AS record_id,
            CASE WHEN random() < 0.001 THEN '138' || lpad(CAST(i % 100000000 AS VARCHAR), 8, '0')  -- PII
                 ELSE 'u' || CAST(CAST(floor(random() * {users}) AS BIGINT) AS VARCHAR) END AS user_id,
            CASE WHEN random() < 0.001 THEN 'taxi'
                 WHEN random() < 0.7 THEN 'metro_trip' ELSE 'bike_trip' END AS activity_type,
            CASE WHEN random() < 0.002 THEN '950.5'                                          -- over a cap
                 ELSE CAST(round(random() * 30, 3) AS VARCHAR) END AS quantity,
            CAST(DATE '{DAY}' - CAST(floor(random() * 2) AS INTEGER) AS VARCHAR) AS activity_date
          FROM range({first_id}, {first_id + records}) t(i)
        ) TO '{path}' (FORMAT parquet)""")
    con.close()


def bare(path: Path) -> float:
    """DuckDB alone: scan the file and aggregate quantities per user and activity (seconds)."""
    con = connect()
    started = time.perf_counter()
    con.execute(f"SELECT user_id, activity_type, sum(try_cast(quantity AS DOUBLE)), count(*) "
                f"FROM read_parquet('{path}') GROUP BY ALL").fetchall()
    took = time.perf_counter() - started
    con.close()
    return took


def ingest(path: Path, out: Path, earlier: list[Path], name: str) -> tuple[float, object]:
    con = connect()
    started = time.perf_counter()
    result = ingest_records(con, raw=path, fmt="parquet", business_date=DAY, activities=ACTIVITIES, earlier=earlier,
                            late_days=3, accepted=out / f"{name}-accepted.parquet",
                            rejected=out / f"{name}-rejected.parquet")
    took = time.perf_counter() - started
    con.close()
    return took, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies --records")
    parser.add_argument("--users", type=int, default=1_000_000)
    args = parser.parse_args()
    records = int(args.records * args.scale)
    with tempfile.TemporaryDirectory(dir="var" if Path("var").is_dir() else None) as tmp:
        work = Path(tmp)
        day1, day2 = work / "day1.parquet", work / "day2.parquet"
        started = time.perf_counter()
        generate(day1, records, args.users)
        generate(day2, records, args.users, seed=0.43, first_id=records - 500)  # 500 ids sent again
        print(f"generated 2 x {records:,} records in {time.perf_counter() - started:.1f} s")
        bare_s = bare(day1)
        first_s, first = ingest(day1, work, [], "day1")
        # the second day is checked against the first day's accepted records (duplicates across batches)
        second_s, second = ingest(day2, work, [work / "day1-accepted.parquet"], "day2")
        bare_rate, rate1, rate2 = records / bare_s, records / first_s, records / second_s
        print(f"bare scan-and-aggregate: {bare_s:.2f} s, {bare_rate:,.0f} records/s")
        print(f"intake, first day:       {first_s:.2f} s, {rate1:,.0f} records/s, ratio {rate1 / bare_rate:.2f}x  "
              f"{first}")
        print(f"intake, second day:      {second_s:.2f} s, {rate2:,.0f} records/s, ratio {rate2 / bare_rate:.2f}x  "
              f"{second}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
