"""`dispatch`: drain the outbox (services.orchestration.dispatch.drain, the loop tests run too), then end:
one Prefect task for the whole drain, since a task run costs milliseconds and rows are many."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, task

from flows.common import database, heartbeat
from services.orchestration import dispatch as outbox


@task(name="drain-outbox")
async def drain(batch_size: int, max_batches: int) -> dict[str, int]:
    return await asyncio.to_thread(outbox.drain, database(), outbox.Channels(), batch_size, max_batches)


@flow(name="dispatch", flow_run_name="dispatch ({reason})", log_prints=False, retries=0)
async def dispatch_flow(reason: str = "interval", batch_size: int = 100, max_batches: int = 20) -> dict[str, Any]:
    async with heartbeat("dispatch"):
        return await drain(batch_size, max_batches)
