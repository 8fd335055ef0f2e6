"""`python -m services.cli worker`: the scaled-out worker, a Prefect worker on the `carbon` process pool
that refuses to start on a database it cannot use and stops within its grace period.

Before starting it checks what `prefect worker start` never would: `DATABASE_URL` is set, reachable and at
the migration head (else the flow runs it would pick up would each fail, or silently use a fresh SQLite
file), and `PREFECT_API_URL` answers. Then it runs `prefect worker start` as a child in its own process
group and forwards SIGTERM/SIGINT to the group: the worker and its flow runs end (a flow run's loop
returns the rows it claimed and releases its lease, `services.orchestration.loop`); whatever is still
alive after `--grace` seconds is killed. Beside it, in this process, the hand-off loop (`flows/handoff.py`)
runs dispatch and the sweep within seconds of a command or a due timer; and the automation that marks a
lost flow run crashed is created if missing (`flows/automations.py`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flows import automations
from flows import handoff as handoffs
from services.engine import telemetry
from services.orchestration import health
from services.store.engine import Database

log = logging.getLogger("carbon.worker")


def preflight() -> list[str]:
    """What stops the worker from starting, in words for its log (empty: it may start)."""
    problems = []
    try:
        health.require_ready(Database(), explicit_url=True)
    except health.NotReady as exc:
        problems += [f"{r.code}: {r.en}" for r in exc.reasons]
    if not os.environ.get("PREFECT_API_URL"):
        problems.append("prefect_not_configured: PREFECT_API_URL is not set")
    else:
        problems += [f"{r.code}: {r.en}" for r in health.prefect_problems()]
    return problems


def run(pool: str, grace: float, extra: list[str], handoff: bool = True) -> int:
    telemetry.configure_logging()
    for name in ("httpx", "httpcore"):  # a line per call to the Prefect API from the hand-off's runs
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ["SCHEDULER"] = "prefect"
    # prefect.yaml's pull step runs each flow from here (read on this worker when a run starts)
    os.environ.setdefault("CARBON_APP_DIR", str(Path(__file__).resolve().parents[1]))
    # flow runs send heartbeats, so that a lost one is marked crashed (flows/automations.py)
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(automations.HEARTBEAT_SECONDS))
    problems = preflight()
    if problems:
        for problem in problems:
            log.error("worker refuses to start: %s", problem)
        return 2
    try:
        automations.ensure()
    except Exception:
        log.warning("the automation that crashes silent flow runs was not created", exc_info=True)
    loop = handoffs.start_in_thread(Database()) if handoff else None
    cli = Path(sys.executable).with_name("prefect")
    child = subprocess.Popen([str(cli), "worker", "start", "--pool", pool, "--type", "process", *extra],
                             start_new_session=True)
    stopping: dict[str, float | None] = {"at": None}

    def stop(signum: int, _frame: object) -> None:
        if stopping["at"] is None:
            stopping["at"] = time.monotonic()
            log.info("worker stopping on signal %s (grace %.0f s)", signum, grace)
            _signal_group(child, signal.SIGTERM)
            if loop is not None:
                loop[0].stop()  # the hand-off loop finishes its run, returns its lease

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            code = child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            since = stopping["at"]
            if since is not None and time.monotonic() - since > grace:
                log.warning("worker still running after %.0f s: killed", grace)
                _signal_group(child, signal.SIGKILL)
            continue
        # the worker is gone; its flow runs (same group) get the rest of the grace period, then are killed
        deadline = (stopping["at"] or time.monotonic()) + grace
        while _group_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_group(child, signal.SIGKILL)
        if loop is not None:
            loop[0].stop()
            loop[1].join(max(0.0, deadline - time.monotonic()))
        return 0 if stopping["at"] is not None else code


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
