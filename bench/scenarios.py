"""Scenario data throughput (issue 17), with ratios to DuckDB's own bare scan-and-aggregate of the same
Parquet measured in the same run.

    .venv/bin/python -m bench.scenarios --records 10000000     # a day (target <= 30 s and >= 0.3x bare)
    .venv/bin/python -m bench.scenarios --scale 0.1            # a tenth of it, quick
    .venv/bin/python -m bench.scenarios --month --days 30      # a month into per-user totals (peak <= 2 GiB)

A day: every row checked (duplicates within and across batches, PII refused, accepted and refused rows
written to Parquet) and then verified into per-user, per-day grams (services/procedures/scenarios/totals.py),
on a first and a second day (the second checked against the first). The bare reference is measured right
before and right after each run and the run is compared with their mean, so that a machine shared with
other jobs (the load average is printed) affects both sides alike.

The month: `--days` accepted-record files of `--records` each (the format intake writes), computed into
per-user, per-day totals by DuckDB with a memory limit and spilling to disk; peak RSS of the process.

The generator is seeded: users, activity types, dates, and injected duplicates (0.5 %), over-cap
quantities (0.2 %), phone numbers as user ids (0.1 %) and unknown activity types (0.1 %).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from services.procedures.scenarios.intake import IntakeResult, connect, ingest_records
from services.procedures.scenarios.totals import Totals, user_day_totals
from states.scenarios import Activity

DAY = date(2026, 3, 1)
ACTIVITIES = {
    "metro_trip": Activity("metro_trip", "km", 3, "quantity * (base - metro)", {"base": "b", "metro": "m"},
                           Decimal("200")),
    "bike_trip": Activity("bike_trip", "km", 3, "quantity * base", {"base": "b"}, Decimal("60")),
}
REGISTERED = [{"name": "b", "value": "0.1087", "source_date": "2025-01-01"},
              {"name": "m", "value": "0.0342", "source_date": "2025-01-01"}]
MEMORY = "1GB"  # DuckDB's share; the rest of the process stays well under 2 GiB
THREADS = 2


def generate(path: Path, records: int, users: int, seed: float = 0.42, first_id: int = 0) -> None:
    """One day's batch as Parquet, made by DuckDB from a seed (the same seed, the same file)."""
    con = connect(memory_limit=MEMORY)
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


def generate_accepted(path: Path, records: int, users: int, day: date, seed: float, first_id: int = 0) -> None:
    """One day's accepted records, as intake writes them (typed), for the month; record ids from `first_id`
    (days given disjoint ranges have ids unique across the month, as intake guarantees)."""
    con = connect(memory_limit=MEMORY)
    con.execute(f"SELECT setseed({seed})")
    con.execute(f"""
        COPY (
          SELECT 'r' || CAST(i AS VARCHAR) AS record_id,
                 'u' || CAST(CAST(floor(random() * {users}) AS BIGINT) AS VARCHAR) AS user_id,
                 CASE WHEN random() < 0.7 THEN 'metro_trip' ELSE 'bike_trip' END AS activity_type,
                 CAST(floor(random() * 30000) AS BIGINT) AS quantity_steps,
                 DATE '{day}' - CAST(floor(random() * 1.05) AS INTEGER) AS activity_date,
                 DATE '{day}' AS business_date, false AS late
          FROM range({first_id}, {first_id + records}) t(i)
        ) TO '{path}' (FORMAT parquet)""")
    con.close()


def cpu() -> float:
    """CPU seconds of this process, DuckDB's threads included: steadier than wall time when other jobs share
    the machine (they slow both sides, but not alike over runs of different lengths)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bare(paths: list[Path], quantity: str = "try_cast(quantity AS DOUBLE)") -> tuple[float, float]:
    """DuckDB alone: scan the files and aggregate quantities per user and activity (wall s, CPU s);
    `quantity`: the column as sent (text), or `quantity_steps` in accepted files."""
    con = connect(memory_limit=MEMORY, threads=THREADS, temp=paths[0].parent / "bare.spill")
    files = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
    started, used = time.perf_counter(), cpu()
    con.execute(f"SELECT user_id, activity_type, sum({quantity}), count(*) "
                f"FROM read_parquet({files}) GROUP BY ALL").fetchall()
    took, used = time.perf_counter() - started, cpu() - used
    con.close()
    return took, used


def day_run(path: Path, out: Path, earlier: list[Path], name: str
            ) -> tuple[float, float, float, float, IntakeResult, Totals]:
    """Intake, then verification of the day into per-user, per-day grams: (intake s, total s, intake CPU s,
    total CPU s, results)."""
    con = connect(memory_limit=MEMORY, threads=THREADS, temp=out / f"{name}.spill")
    started, used = time.perf_counter(), cpu()
    result = ingest_records(con, raw=path, fmt="parquet", business_date=DAY, activities=ACTIVITIES, earlier=earlier,
                            late_days=3, accepted=out / f"{name}-accepted.parquet",
                            rejected=out / f"{name}-rejected.parquet")
    con.close()
    intake_s, intake_cpu = time.perf_counter() - started, cpu() - used
    totals = user_day_totals([out / f"{name}-accepted.parquet"], activities=ACTIVITIES, registered=REGISTERED,
                             start=DAY - timedelta(days=1), end=DAY, out=out / f"{name}-users.parquet",
                             memory_limit=MEMORY, threads=THREADS)
    return intake_s, time.perf_counter() - started, intake_cpu, cpu() - used, result, totals


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def days(records: int, users: int, work: Path) -> None:
    day1, day2 = work / "day1.parquet", work / "day2.parquet"
    started = time.perf_counter()
    generate(day1, records, users)
    generate(day2, records, users, seed=0.43, first_id=records - 500)  # 500 ids sent again
    print(f"generated 2 x {records:,} records in {time.perf_counter() - started:.1f} s; load average {load()}")
    earlier: list[Path] = []
    for name, path in (("day1", day1), ("day2", day2)):  # the second day is checked against the first
        before, cpu_before = bare([path])
        intake_s, total_s, intake_cpu, total_cpu, result, totals = day_run(path, work, earlier, name)
        after, cpu_after = bare([path])
        reference, reference_cpu = (before + after) / 2, (cpu_before + cpu_after) / 2
        earlier.append(work / f"{name}-accepted.parquet")
        print(f"{name}: bare scan-and-aggregate {before:.2f} s / {after:.2f} s ({records / reference:,.0f} records/s); "
              f"intake {intake_s:.2f} s ({records / intake_s:,.0f}/s, {reference / intake_s:.2f}x); "
              f"intake + verification {total_s:.2f} s ({records / total_s:,.0f}/s, {reference / total_s:.2f}x); "
              f"load average {load()}")
        print(f"      CPU: bare {cpu_before:.2f} s / {cpu_after:.2f} s; intake {intake_cpu:.2f} s "
              f"({reference_cpu / intake_cpu:.2f}x); verification {total_cpu - intake_cpu:.2f} s; intake + "
              f"verification {total_cpu:.2f} s ({reference_cpu / total_cpu:.2f}x)")
        print(f"      {result}")
        print(f"      users {totals.users:,}, {totals.total_g / 1e6:,.3f} t, used {totals.used:,} of "
              f"{totals.records:,}, capped {totals.capped:,}")
    print(f"peak RSS: {peak_mib():,.0f} MiB")


def month(records: int, users: int, n_days: int, work: Path) -> None:
    started = time.perf_counter()
    paths = []
    for i in range(n_days):
        path = work / f"accepted-{i:02d}.parquet"
        generate_accepted(path, records, users, DAY + timedelta(days=i), seed=0.01 * (i + 1))
        paths.append(path)
    print(f"generated {n_days} x {records:,} accepted records in {time.perf_counter() - started:.1f} s; "
          f"load average {load()}; peak RSS so far {peak_mib():,.0f} MiB")
    started = time.perf_counter()
    totals = user_day_totals(paths, activities=ACTIVITIES, registered=REGISTERED, start=DAY,
                             end=DAY + timedelta(days=n_days - 1), out=work / "month-users.parquet",
                             memory_limit=MEMORY, threads=THREADS)
    took = time.perf_counter() - started
    total = records * n_days
    print(f"month: {total:,} records into per-user, per-day totals in {took:.1f} s ({total / took:,.0f} records/s); "
          f"users {totals.users:,}, {totals.total_g / 1e6:,.3f} t, capped {totals.capped:,}; load average {load()}")
    print(f"peak RSS: {peak_mib():,.0f} MiB (DuckDB memory_limit {MEMORY}, spilling to {work})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000_000, help="records a day")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies --records")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--month", action="store_true", help="the month into per-user totals")
    parser.add_argument("--days", type=int, default=30, help="days of the month run")
    args = parser.parse_args()
    records = int(args.records * args.scale)
    with tempfile.TemporaryDirectory(dir="var" if Path("var").is_dir() else None) as tmp:
        if args.month:
            month(records, args.users, args.days, Path(tmp))
        else:
            days(records, args.users, Path(tmp))


if __name__ == "__main__":
    main()
