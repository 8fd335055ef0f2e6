"""Hand-off latency in the scaled-out mode, on this machine: PostgreSQL, a real Prefect server, the pool, the
deployments, the worker (with its hand-off loop, flows/handoff.py) and `serve --workers 2` (bench/topology.py).

- command → outbox row delivered: applicants submit registrations over HTTP (one at a time, then 4 at
  once); for each outbox row those commands wrote, `done_at - created_at` (both from the database's rows).
- timer lag: timers set to fall due 3 to 20 s ahead on submitted cases; `fired_at - fire_at` (the sweep's
  command on them is refused, as the case is not in that state, so each is cancelled at the moment it is
  handled: the same path up to the command).
- reference measured in the same run: the submit command's own HTTP round trip (p50), and the ratio.

  PYTHONPATH=. .venv/bin/python bench/handoff.py [--commands 30] [--burst 40] [--timers 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.topology import Topology
from services.demo import application, commitments
from tests.e2e.http import attach_required


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def h(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{user}"}


def submit_one(client: httpx.Client) -> tuple[int, float]:
    """A registration opened, its documents attached and submitted: (case id, the submit's round trip)."""
    created = client.post("/api/v1/cases", headers=h("sh_applicant"), json={
        "procedure": "project_registration", "jurisdiction": "SH", "application": application("SH")})
    created.raise_for_status()
    cid = created.json()["id"]
    attach_required(client, "sh_applicant", cid)
    started = time.perf_counter()
    r = client.post(f"/api/v1/cases/{cid}/actions/submit", headers=h("sh_applicant"), json=commitments("SH"))
    took = time.perf_counter() - started
    r.raise_for_status()
    return cid, took


def delivered(db_url: str, cases: list[int], timeout: float = 120) -> list[float]:
    """Seconds from each of these cases' outbox rows being written to being delivered (waits for all)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT status, EXTRACT(EPOCH FROM done_at - created_at) FROM outbox "
                                "WHERE case_id = ANY(%s)", (cases,)).fetchall()
            if rows and all(s != "pending" for s, _ in rows):
                return [float(x) for s, x in rows if s == "done"]
            time.sleep(0.5)
    raise TimeoutError(f"outbox rows of {len(cases)} cases not all delivered in {timeout:.0f} s")


def timer_lags(db_url: str, cases: list[int], count: int) -> list[float]:
    now = datetime.now(UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = []
        for k in range(count):
            fire_at = now + timedelta(seconds=3 + 17 * k / max(1, count - 1))
            ids.append(conn.execute(
                "INSERT INTO timers (case_id, jurisdiction, kind, trigger, state, fire_at, provisional, status) "
                "VALUES (%s, 'SH', 'bench', 'lapse', 'supplement', %s, false, 'pending') RETURNING id",
                (cases[k % len(cases)], fire_at)).fetchone()[0])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT status, EXTRACT(EPOCH FROM fired_at - fire_at) FROM timers WHERE id = ANY(%s)",
                                (ids,)).fetchall()
            if all(s != "pending" for s, _ in rows):
                return [float(x) for _, x in rows]
            time.sleep(0.5)
    raise TimeoutError("timers not handled in 120 s")


def show(name: str, values: list[float]) -> None:
    print(f"{name:<38} n={len(values):<4} p50={pct(values, 50):6.2f} s  p95={pct(values, 95):6.2f} s  "
          f"max={max(values):6.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=30)
    parser.add_argument("--burst", type=int, default=40)
    parser.add_argument("--timers", type=int, default=20)
    args = parser.parse_args()
    topo = Topology()
    try:
        started = time.monotonic()
        topo.up()
        print(f"topology up in {time.monotonic() - started:.0f} s (api {topo.api}, prefect {topo.prefect_api})")
        db_url = topo.database_url
        with httpx.Client(base_url=topo.api, timeout=60) as client:
            submit_one(client)  # warm-up
            time.sleep(3)
            cases, trips = [], []
            for _ in range(args.commands):
                cid, took = submit_one(client)
                cases.append(cid)
                trips.append(took)
                time.sleep(0.5)
            sequential = delivered(db_url, cases)
        with ThreadPoolExecutor(4) as pool:
            def one(_: int) -> int:
                with httpx.Client(base_url=topo.api, timeout=60) as c:
                    return submit_one(c)[0]
            burst_cases = list(pool.map(one, range(args.burst)))
        burst = delivered(db_url, burst_cases)
        lags = timer_lags(db_url, cases, args.timers)
        print(f"on this machine ({Path('/proc/loadavg').read_text().split()[0]} load), Prefect 3.8, PostgreSQL")
        show("submit HTTP round trip (reference)", trips)
        show("command -> outbox delivered, 1 at a time", sequential)
        show("command -> outbox delivered, 4 at once", burst)
        show("timer due -> fired", lags)
        ref = pct(trips, 50)
        print(f"ratio hand-off p50 / command p50: {pct(sequential, 50) / ref:.1f}x (1 at a time), "
              f"{pct(burst, 50) / ref:.1f}x (4 at once)")
        died = topo.log("api").count("Child process died")
        print(f"api log: 'Child process died' {died} times")
    finally:
        topo.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
