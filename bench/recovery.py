"""Failure injection in the scaled-out mode (bench/topology.py, real processes): `make failure-injection`,
run by .ci/run under CI=true. Every check is asserted; the first that fails ends it with exit 1 and says
what it expected and what it saw; measured times are printed.

1. A lost worker. Two workers (compose `--scale worker=2`); about `--timers` timers fall due on six
   submitted cases (refused, as the cases are not in that state: each is cancelled when handled, one
   transaction each). The worker holding the hand-off lease is killed with SIGKILL (its process tree: the
   hand-off loop, `prefect worker start`, their flow runs) once its sweep has handled one; then a `lapse`
   timer falls due on each of four cases in `supplement_requested` (they really fire). The killed
   worker's flow runs are identified just before the kill: the running ones tagged `handoff:<lease
   holder>` and any whose infrastructure pid is in the killed tree (less any that ended before the kill).
   Asserted: each is set CRASHED by Prefect (the zombie automation) within CRASH_BOUND; an incident
   `flow_run_failed` counts it and links to a run of the killed worker in the Prefect UI (the
   administrators' API); timers fire again within RESUME_BOUND of the kill, every timer is handled, each
   `supplement_requested` case lapses exactly once (one fired timer, one `lapse` audit event) and no
   timer is left pending.
2. The Prefect server stopped for OUTAGE seconds: /readyz answers 503 naming `prefect_unavailable`, a
   command still commits, and its outbox rows are delivered within DELIVERY_BOUND of the server being back.
3. A worker started without DATABASE_URL, and one on a database that is not migrated: each exits 2 and
   names the problem (`database_not_configured`, `database_not_migrated`).

  PYTHONPATH=. .venv/bin/python bench/recovery.py [--timers 200]   (exit 1 when a check failed)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.handoff import h, submit_one
from bench.topology import ROOT, Topology, descendants

CRASH_BOUND = 150.0  # heartbeat every 30 s, crashed after 45 s of silence, the automation's evaluation
RESUME_BOUND = 60.0  # the issue's: timers resume within a minute of the loss
INCIDENT_BOUND = 240.0  # the scheduled sweep (every 60 s) detects after the run is CRASHED
DELIVERY_BOUND = 120.0
OUTAGE = 30.0


class CheckFailed(Exception):
    """A check did not hold: the message says what was expected and what was seen."""


def check(ok: object, message: str) -> None:
    if not ok:
        raise CheckFailed(message)


def wait(probe: Callable[[], Any], timeout: float, step: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(step)
    return None


def runs(topo: Topology, **flow_runs: Any) -> list[dict[str, Any]]:
    response = httpx.post(f"{topo.prefect_api}/flow_runs/filter", json={"flow_runs": flow_runs, "limit": 200},
                          timeout=30)
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()
    return found


# --- 1. a lost worker -----------------------------------------------------------------------------------


def cases_for_timers(topo: Topology, refused: int, lapsing: int) -> tuple[list[int], list[int]]:
    """`refused` submitted cases and `lapsing` ones the officer sent back for a supplement."""
    with httpx.Client(base_url=topo.api, timeout=60) as client:
        cases = [submit_one(client)[0] for _ in range(refused + lapsing)]
        for cid in cases[refused:]:
            client.post(f"/api/v1/cases/{cid}/actions/request_supplement", headers=h("sh_case_officer"),
                        json={"items": ["补充监测数据 / more monitoring data"]}).raise_for_status()
    return cases[:refused], cases[refused:]


TIMER = ("INSERT INTO timers (case_id, jurisdiction, kind, trigger, state, fire_at, provisional, status) "
         "SELECT c, 'SH', 'bench', 'lapse', 'supplement_requested', now() + %s * interval '1 second', false, "
         "'pending' FROM unnest(%s::int[]) AS c, generate_series(1, %s)")


def arm_timers(conn: psycopg.Connection[Any], refused: list[int], count: int) -> int:
    """About `count` timers due in 5 s on the refused cases (how many: returned): handled one by one, a
    sweep long enough to be killed in."""
    each = max(1, count // len(refused))
    conn.execute(TIMER, (5, refused, each))
    return each * len(refused)


def lease_holder(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute("SELECT holder FROM scheduler_leases WHERE name = 'handoff' AND expires_at > now()").fetchone()
    return str(row[0]) if row else None


def victim_runs(topo: Topology, holder: str, tree: set[int]) -> dict[str, str]:
    """The running flow runs of the worker about to be killed: {id: flow name}."""
    running = runs(topo, state={"type": {"any_": ["RUNNING"]}})
    names = {f["id"]: f["name"] for f in httpx.post(f"{topo.prefect_api}/flows/filter", json={}, timeout=30).json()}

    def in_tree(run: dict[str, Any]) -> bool:
        pid = re.search(r"(\d+)$", run.get("infrastructure_pid") or "")
        return bool(pid) and int(pid.group(1)) in tree  # type: ignore[union-attr]

    return {r["id"]: names.get(r["flow_id"], "?") for r in running
            if f"handoff:{holder}" in r.get("tags", []) or in_tree(r)}


def kill_mid_sweep(topo: Topology, conn: psycopg.Connection[Any], refused: list[int], lapsing: list[int],
                   count: int) -> tuple[float, dict[str, str], int]:
    """Kill the lease holder once its sweep has handled a timer; then one `lapse` timer per lapsing case
    falls due a second later, for the surviving worker (whether or not the killed sweep had finished)."""
    count = arm_timers(conn, refused, count)
    holder = wait(lambda: lease_holder(conn), 60)
    check(holder, "no worker took the hand-off lease within 60 s")
    pid = int(holder.split("-")[0])
    victim = next((name for name, p in topo.procs.items() if p.pid == pid), None)
    check(victim, f"the lease holder {holder} is none of the workers started: {sorted(topo.procs)}")
    started = wait(lambda: conn.execute("SELECT 1 FROM timers WHERE kind = 'bench' AND status <> 'pending' "
                                        "LIMIT 1").fetchone(), 60, 0.05)
    check(started, "the sweep did not start on the due timers within 60 s")
    lost = victim_runs(topo, holder, {pid, *descendants(pid)})
    killed_at = time.time()
    topo.kill(victim)
    conn.execute(TIMER, (1, lapsing, 1))
    count += len(lapsing)
    lost = {rid: name for rid, name in lost.items() if not ended_before(topo, rid, killed_at)}
    left = conn.execute("SELECT count(*) FROM timers WHERE kind = 'bench' AND status = 'pending'").fetchone()[0]
    print(f"killed {victim} (pid {pid}, lease {holder}) mid-sweep, {left} of {count} timers pending; its running "
          f"flow runs: {', '.join(f'{name} {rid}' for rid, name in lost.items()) or 'none'}")
    check(any(name == "sweep" for name in lost.values()),
          f"no running `sweep` flow run tagged handoff:{holder} was found before the kill: {lost}")
    return killed_at, lost, count


def ended_before(topo: Topology, run_id: str, at: float) -> bool:
    """A run read as running that finished in the moment before the kill (a serving run's time was up)."""
    run = runs(topo, id={"any_": [run_id]})[0]
    ended = run.get("end_time")
    return run["state_type"] != "RUNNING" and bool(ended) and datetime.fromisoformat(ended).timestamp() < at


def timers_recovered(conn: psycopg.Connection[Any], killed_at: float, lapsing: list[int], count: int
                     ) -> dict[str, float]:
    resumed = wait(lambda: conn.execute(
        "SELECT extract(epoch FROM min(fired_at)) FROM timers WHERE kind = 'bench' AND fired_at > to_timestamp(%s)",
        (killed_at,)).fetchone()[0], RESUME_BOUND + 5)
    check(resumed is not None and float(resumed) - killed_at <= RESUME_BOUND,
          f"no timer fired within {RESUME_BOUND:.0f} s of the kill (first after it: "
          f"{'none' if resumed is None else f'{float(resumed) - killed_at:.1f} s'})")
    done = wait(lambda: conn.execute("SELECT count(*) = 0 FROM timers WHERE kind = 'bench' AND status = 'pending'")
                .fetchone()[0], 180)
    all_at = time.time()
    statuses = dict(conn.execute("SELECT status, count(*) FROM timers WHERE kind = 'bench' GROUP BY 1").fetchall())
    check(done, f"timers still pending 180 s after the kill: {statuses}")
    check(sum(statuses.values()) == count, f"{count} timers armed, {sum(statuses.values())} found: {statuses}")
    fired = dict(conn.execute("SELECT case_id, count(*) FROM timers WHERE kind = 'bench' AND status = 'fired' "
                              "GROUP BY 1").fetchall())
    lapses = dict(conn.execute("SELECT case_id, count(*) FROM audit_events WHERE event = 'lapse' AND "
                               "case_id = ANY(%s) GROUP BY 1", (lapsing,)).fetchall())
    states = dict(conn.execute("SELECT id, state FROM cases WHERE id = ANY(%s)", (lapsing,)).fetchall())
    check(fired == dict.fromkeys(lapsing, 1), f"fired timers by case: expected one on each of {lapsing} and none "
          f"elsewhere, found {fired}")
    check(lapses == dict.fromkeys(lapsing, 1), f"`lapse` audit events by case: expected one each on {lapsing}, "
          f"found {lapses}")
    check(set(states.values()) == {"lapsed"}, f"the lapsing cases' states: {states}")
    print(f"timers: {statuses}; each of the {len(lapsing)} supplement cases lapsed once")
    return {"timers fired again after the kill": float(resumed) - killed_at,
            "every timer handled after the kill": all_at - killed_at}


def lost_runs_crashed(topo: Topology, killed_at: float, lost: dict[str, str]) -> dict[str, float]:
    def crashed() -> bool:
        found = runs(topo, id={"any_": sorted(lost)})
        return all(r["state_type"] == "CRASHED" for r in found) and len(found) == len(lost)

    ok = wait(crashed, CRASH_BOUND, 2.0)
    took = time.time() - killed_at
    if not ok:
        states = {r["id"]: r["state_type"] for r in runs(topo, id={"any_": sorted(lost)})}
        raise CheckFailed(f"the killed worker's flow runs not all CRASHED {CRASH_BOUND:.0f} s after the kill: {states}")
    return {"its flow runs marked CRASHED after": took}


def incident_names_runs(topo: Topology, conn: psycopg.Connection[Any], killed_at: float, lost: dict[str, str]
                        ) -> dict[str, float]:
    def recorded() -> dict[str, int] | None:
        rows = conn.execute("SELECT id, detail -> 'seen' FROM incidents WHERE kind = 'flow_run_failed' "
                            "AND status = 'open'").fetchall()
        where = {rid: iid for iid, seen in rows for rid in lost if rid in (seen or [])}
        return where if len(where) == len(lost) else None

    found = wait(recorded, INCIDENT_BOUND, 2.0)
    took = time.time() - killed_at
    check(found, f"no open flow_run_failed incident counts each of the killed worker's runs {sorted(lost)} "
          f"{INCIDENT_BOUND:.0f} s after the kill")
    listed = httpx.get(f"{topo.api}/api/v1/admin/incidents", headers=h("demo_admin"), timeout=30).json()["items"]
    ui = f"http://127.0.0.1:{topo.prefect_port}"
    for incident in (i for i in listed if i["id"] in set(found.values())):
        run = incident["flow_run_id"]
        check(run in lost and incident["link"] == f"{ui}/runs/flow-run/{run}",
              f"incident {incident['id']} links to {incident['link']}, not a killed run's: {sorted(lost)}")
    check(set(found.values()) <= {i["id"] for i in listed}, f"incidents {found} not in the administrators' list")
    print(f"incidents {sorted(set(found.values()))} count the runs and link to them in the Prefect UI")
    return {"incident naming them recorded after": took}


# --- 2. the Prefect server stopped ------------------------------------------------------------------------


def prefect_outage(topo: Topology, conn: psycopg.Connection[Any]) -> dict[str, float]:
    topo.stop("prefect-server")
    down_at = time.time()
    ready = httpx.get(f"{topo.api}/readyz", timeout=30)
    codes = [r["code"] for r in ready.json().get("reasons", [])]
    check(ready.status_code == 503 and "prefect_unavailable" in codes,
          f"/readyz with Prefect stopped: expected 503 naming prefect_unavailable, got {ready.status_code} {codes}")
    with httpx.Client(base_url=topo.api, timeout=60) as client:
        cid, _ = submit_one(client)
    rows = conn.execute("SELECT count(*) FROM outbox WHERE case_id = %s", (cid,)).fetchone()[0]
    check(rows > 0, f"the command committed while Prefect was down wrote no outbox row (case {cid})")
    print(f"Prefect stopped: /readyz {ready.status_code} {codes}; case {cid} submitted, {rows} outbox rows")
    time.sleep(max(0.0, OUTAGE - (time.time() - down_at)))
    topo.start_prefect()
    back_at = time.time()
    delivered = wait(lambda: conn.execute("SELECT bool_and(status = 'done') FROM outbox WHERE case_id = %s",
                                          (cid,)).fetchone()[0], DELIVERY_BOUND)
    statuses = conn.execute("SELECT status, count(*) FROM outbox WHERE case_id = %s GROUP BY 1", (cid,)).fetchall()
    check(delivered, f"its outbox rows not all delivered {DELIVERY_BOUND:.0f} s after Prefect was back: {statuses}")
    return {"Prefect down for": back_at - down_at, "its outbox rows delivered after Prefect was back":
            time.time() - back_at}


# --- 3. workers refused -------------------------------------------------------------------------------------


def refused_worker(topo: Topology, what: str, env: dict[str, str], code: str) -> float:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "services.cli", "worker"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    said = [line for line in (proc.stderr + proc.stdout).splitlines() if "refuses to start" in line]
    check(proc.returncode == 2 and any(code in line for line in said),
          f"a worker {what}: expected exit 2 naming {code}, got exit {proc.returncode}: "
          f"{said or (proc.stderr + proc.stdout)[-1500:]}")
    print(f"a worker {what}: exit 2, {next(line for line in said if code in line).split('start: ', 1)[1][:120]}")
    return time.monotonic() - started


def refused_workers(topo: Topology, pool: ThreadPoolExecutor) -> list[Future[float]]:
    empty = f"{topo.name}_empty"
    topo._admin(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)')
    topo._admin(f'CREATE DATABASE "{empty}"')
    unset = topo.env()
    unset.pop("DATABASE_URL")
    return [pool.submit(refused_worker, topo, "without DATABASE_URL", unset, "database_not_configured"),
            pool.submit(refused_worker, topo, "on an unmigrated database",
                        topo.env(DATABASE_URL=topo.database_url.rsplit("/", 1)[0] + f"/{empty}"),
                        "database_not_migrated")]


# --- the whole -----------------------------------------------------------------------------------------------


def inject(topo: Topology, count: int) -> dict[str, float]:
    results: dict[str, float] = {}
    started = time.monotonic()
    topo.up()
    topo.start_worker("worker-2")
    results["topology up"] = time.monotonic() - started
    refused, lapsing = cases_for_timers(topo, 6, 4)
    with psycopg.connect(topo.database_url, autocommit=True) as conn, ThreadPoolExecutor(2) as pool:
        killed_at, lost, count = kill_mid_sweep(topo, conn, refused, lapsing, count)
        results |= timers_recovered(conn, killed_at, lapsing, count)
        refusals = refused_workers(topo, pool)  # beside the wait for Prefect: two more imports of the app
        results |= lost_runs_crashed(topo, killed_at, lost)
        results |= incident_names_runs(topo, conn, killed_at, lost)
        for future in refusals:
            future.result()
        topo.check_alive()
        results |= prefect_outage(topo, conn)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=200)
    args = parser.parse_args()
    topo = Topology()
    started = time.monotonic()
    try:
        results = inject(topo, args.timers)
    except CheckFailed as exc:
        for what in sorted(topo.procs):
            print(f"--- {what} log (tail)\n{topo.log(what)[-2000:]}", file=sys.stderr)
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        for name in [n for n in topo.procs if n.startswith("worker-")]:
            topo.stop(name)
        topo._admin(f'DROP DATABASE IF EXISTS "{topo.name}_empty" WITH (FORCE)')
        topo.down()
    for name, value in results.items():
        print(f"{name:<50} {value:6.1f} s")
    print(f"{'failure injection passed in':<50} {time.monotonic() - started:6.1f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    raise SystemExit(main())
