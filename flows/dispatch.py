"""`dispatch`: drain the outbox in batches (one Prefect task per batch, not per row), then end."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, task

from flows.common import database
from services.orchestration import dispatch as outbox


@task(name="deliver-batch", task_run_name="deliver batch {number}")
async def deliver_batch(number: int, size: int) -> dict[str, int]:
    def run() -> dict[str, int]:
        db, channels = database(), outbox.Channels()
        counts = {"claimed": 0, "done": 0, "pending": 0, "dead": 0}
        rows = outbox.claim(db, size)
        counts["claimed"] = len(rows)
        for row in rows:
            status = outbox.deliver(db, row, channels)
            counts[status] = counts.get(status, 0) + 1
        return counts

    return await asyncio.to_thread(run)


@flow(name="dispatch", flow_run_name="dispatch ({reason})", log_prints=False, retries=0)
async def dispatch_flow(reason: str = "interval", batch_size: int = 100, max_batches: int = 20) -> dict[str, Any]:
    totals = {"batches": 0, "claimed": 0, "done": 0, "pending": 0, "dead": 0}
    for number in range(1, max_batches + 1):
        counts = await deliver_batch(number, batch_size)
        if not counts["claimed"]:
            break
        totals["batches"] += 1
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals
