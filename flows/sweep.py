"""`sweep`: fire due timers, send reminders, record and escalate SLA breaches; then end."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, task

from flows.common import database
from services.engine.clock import clock
from services.orchestration import sweep as sweeping
from services.orchestration.timers import run_due_timers


@task(name="fire-timers")
async def fire_timers() -> dict[str, Any]:
    result = await asyncio.to_thread(run_due_timers, database(), clock.now())
    # the cases touched, so the run says which procedures, jurisdictions and cases it moved
    return {"fired": result["fired"], "cancelled": len(result["cancelled"]), "failed": result["failed"]}


@task(name="send-reminders")
async def send_reminders() -> int:
    return await asyncio.to_thread(sweeping.send_reminders, database(), clock.now())


@task(name="record-breaches")
async def record_breaches() -> dict[str, int]:
    return await asyncio.to_thread(sweeping.record_breaches, database(), clock.now())


@flow(name="sweep", flow_run_name="sweep ({reason})", log_prints=False)
async def sweep_flow(reason: str = "interval") -> dict[str, Any]:
    timers = await fire_timers()
    return {"timers_fired": len(timers["fired"]), "fired": timers["fired"], "timers_cancelled": timers["cancelled"],
            "timers_failed": timers["failed"],
            "reminders": await send_reminders(), "breaches": await record_breaches()}
