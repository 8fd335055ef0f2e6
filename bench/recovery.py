"""Failure injection in the scaled-out mode (bench/topology.py, real processes): prints what recovered and when.

1. Two workers (compose `--scale worker=2`); timers fall due on many cases; the worker holding the hand-off
   lease is killed with SIGKILL (process group: its flow runs too) while its sweep runs. Measured: when the
   timers resume firing on the other worker, when all are handled, when Prefect marks the lost run
   CRASHED (the zombie automation), and when the sweep records the incident.
2. The Prefect server stopped for 30 s: /readyz says so (503 prefect_unavailable), commands still commit,
   and their outbox rows are delivered once it is back.
3. A worker started without DATABASE_URL, and on a database that is not migrated: refused (exit 2).

  PYTHONPATH=. .venv/bin/python bench/recovery.py      (exit 1 when something did not recover)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.handoff import submit_one
from bench.topology import ROOT, Topology

TIMERS = 400


def wait(check: Callable[[], Any], timeout: float, step: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(step)
    return None


def lease_holder_pid(conn: psycopg.Connection[Any]) -> int | None:
    row = conn.execute("SELECT holder FROM scheduler_leases WHERE name = 'handoff' AND expires_at > now()").fetchone()
    return int(row[0].split("-")[0]) if row else None


def kill_mid_sweep(topo: Topology, conn: psycopg.Connection[Any], cases: list[int]) -> dict[str, float | None]:
    conn.execute("INSERT INTO timers (case_id, jurisdiction, kind, trigger, state, fire_at, provisional, status) "
                 "SELECT c, 'SH', 'bench', 'lapse', 'supplement', now() + interval '5 seconds', false, 'pending' "
                 "FROM unnest(%s::int[]) AS c, generate_series(1, %s)", (cases, TIMERS // len(cases)))
    holder = wait(lambda: lease_holder_pid(conn), 60)
    victim = next(name for name, p in topo.procs.items() if p.pid == holder)
    running = wait(lambda: conn.execute(
        "SELECT 1 FROM timers WHERE kind = 'bench' AND status <> 'pending' LIMIT 1").fetchone(), 60, 0.05)
    assert running, "the sweep did not start on the bench timers"
    killed_at = time.time()
    topo.kill(victim)
    left = conn.execute("SELECT count(*) FROM timers WHERE kind = 'bench' AND status = 'pending'").fetchone()[0]
    print(f"killed {victim} (pid {holder}) mid-sweep: {left} of {TIMERS} timers still pending")
    resumed = wait(lambda: conn.execute(
        "SELECT extract(epoch FROM min(fired_at)) FROM timers WHERE kind = 'bench' AND fired_at > to_timestamp(%s) "
        "+ interval '1 second'", (killed_at,)).fetchone()[0], 120)
    done = wait(lambda: conn.execute("SELECT count(*) = 0 FROM timers WHERE kind = 'bench' AND status = 'pending'")
                .fetchone()[0], 180)
    all_at = time.time() if done else None
    crashed = wait(lambda: _crashed_sweep(topo), 180, 2.0)
    crashed_at = time.time() if crashed else None
    incident = wait(lambda: conn.execute(
        "SELECT extract(epoch FROM first_seen) FROM incidents WHERE kind = 'flow_run_failed' AND key LIKE "
        "'flow_run_failed:%%' AND first_seen > to_timestamp(%s)", (killed_at,)).fetchone(), 180, 2.0)
    return {"timers resumed after": None if resumed is None else float(resumed) - killed_at,
            "all timers handled after": None if all_at is None else all_at - killed_at,
            "lost run marked CRASHED after": None if crashed_at is None else crashed_at - killed_at,
            "incident recorded after": None if incident is None else float(incident[0]) - killed_at}


def _crashed_sweep(topo: Topology) -> bool:
    body = {"flow_runs": {"state": {"type": {"any_": ["CRASHED"]}}}, "limit": 20}
    runs = httpx.post(f"{topo.prefect_api}/flow_runs/filter", json=body, timeout=10).json()
    return bool(runs)


def prefect_outage(topo: Topology, conn: psycopg.Connection[Any]) -> dict[str, float | None]:
    topo.stop("prefect-server")
    down_at = time.time()
    ready = httpx.get(f"{topo.api}/readyz", timeout=30)
    codes = [r["code"] for r in ready.json().get("reasons", [])]
    print(f"Prefect stopped: /readyz {ready.status_code} {codes}")
    with httpx.Client(base_url=topo.api, timeout=60) as client:
        cid, _ = submit_one(client)
    print(f"a command committed while Prefect was down (case {cid})")
    time.sleep(max(0.0, 30 - (time.time() - down_at)))
    topo.start_prefect()
    back_at = time.time()
    delivered = wait(lambda: conn.execute("SELECT count(*) > 0 AND bool_and(status = 'done') FROM outbox "
                                          "WHERE case_id = %s", (cid,)).fetchone()[0], 180)
    return {"/readyz said prefect_unavailable": 1.0 if "prefect_unavailable" in codes else None,
            "outbox delivered after Prefect was back": (time.time() - back_at) if delivered else None}


def refused_workers(topo: Topology) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    env = topo.env()
    env.pop("DATABASE_URL")
    for name, e in (("without DATABASE_URL", env), ("on an unmigrated database",
                                                    topo.env(DATABASE_URL=topo.database_url + "_empty"))):
        if "empty" in name or "unmigrated" in name:
            with psycopg.connect(topo.database_url, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{topo.name}_empty"')
                c.execute(f'CREATE DATABASE "{topo.name}_empty"')
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "services.cli", "worker"], cwd=ROOT, env=e,
                              capture_output=True, text=True, timeout=300)
        said = [line for line in proc.stderr.splitlines() + proc.stdout.splitlines() if "refuses" in line]
        print(f"worker {name}: exit {proc.returncode} in {time.monotonic() - started:.0f} s: {said[:2]}")
        out[f"worker refused {name}"] = 1.0 if proc.returncode == 2 and said else None
    with psycopg.connect(topo.database_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{topo.name}_empty"')
    return out


def main() -> int:
    topo = Topology()
    results: dict[str, float | None] = {}
    try:
        topo.up()
        topo.start_worker("worker-2")
        with httpx.Client(base_url=topo.api, timeout=60) as client:
            cases = [submit_one(client)[0] for _ in range(8)]
        with psycopg.connect(topo.database_url, autocommit=True) as conn:
            results |= kill_mid_sweep(topo, conn, cases)
            results |= prefect_outage(topo, conn)
        results |= refused_workers(topo)
    finally:
        for name in [n for n in topo.procs if n.startswith("worker-")]:
            topo.stop(name)
        topo.down()
    failed = False
    for name, value in results.items():
        print(f"{name:<45} {'FAILED' if value is None else f'{value:.1f} s' if 'after' in name else 'yes'}")
        failed |= value is None
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    raise SystemExit(main())
