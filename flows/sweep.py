"""`sweep`: fire due timers, send reminders, record and escalate SLA breaches
(services.orchestration.sweep.sweep, what tests run too); then end."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, task

from flows.common import database, heartbeat
from services.engine.clock import clock
from services.orchestration import sweep as sweeping


@task(name="sweep")
async def sweep_once() -> dict[str, Any]:
    return await asyncio.to_thread(sweeping.sweep, database(), clock.now())


@flow(name="sweep", flow_run_name="sweep ({reason})", log_prints=False)
async def sweep_flow(reason: str = "interval") -> dict[str, Any]:
    async with heartbeat("sweep"):
        return await sweep_once()
