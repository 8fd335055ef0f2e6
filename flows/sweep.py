"""`sweep`: fire due timers, send reminders, record and escalate SLA breaches
(services.orchestration.sweep.sweep, what tests run too), then detect incidents
(services.orchestration.incidents.detect: failed runs from the Prefect API, dead letters, late loops,
stale outbox rows, overdue timers); then end."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from prefect import flow, task

from flows.common import database, heartbeat
from services.engine.clock import clock
from services.orchestration import incidents
from services.orchestration import sweep as sweeping
from services.queries import flow_runs

log = logging.getLogger("carbon.sweep")
PREFECT_WAIT_SECONDS = 10
FAILED_RUNS_SINCE = timedelta(days=1)


@task(name="sweep")
async def sweep_once() -> dict[str, Any]:
    return await asyncio.to_thread(sweeping.sweep, database(), clock.now())


@task(name="detect-incidents")
async def detect_incidents() -> dict[str, Any]:
    """The failed runs Prefect knows of (none when it does not answer: the rest is still detected)."""
    now = clock.now()
    runs: list[flow_runs.FailedRun] = []
    try:
        runs = await asyncio.wait_for(flow_runs.failed_runs(now - FAILED_RUNS_SINCE), PREFECT_WAIT_SECONDS)
    except (flow_runs.PrefectUnavailable, TimeoutError) as exc:
        log.warning("failed flow runs not read from Prefect: %s", exc)
    return await asyncio.to_thread(incidents.detect, database(), runs, now)


@flow(name="sweep", flow_run_name="sweep ({reason})", log_prints=False)
async def sweep_flow(reason: str = "interval", detect: bool = True) -> dict[str, Any]:
    """`detect`: also look for incidents (the scheduled sweeps; the hand-off loop's sweep at a due timer
    does not, so that the timer's commands are not held up by it)."""
    async with heartbeat("sweep"):
        result = await sweep_once()
        if detect:
            result["incidents"] = await detect_incidents()
        return result
