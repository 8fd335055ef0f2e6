"""`publish-log`: sequence the audit events and ledger entries committed since the last run into
the transparency log and sign its new head, a batch per task, until none is left; then end.

Runs where the signing key is (LOG_SIGNING_KEY[_FILE]): every LOG_SIGN_SECONDS in the embedded
scheduler, or as the `publish-log` deployment. Without a key it does nothing and says so.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prefect import flow, task

from flows.common import database
from services.transparency import keys, log

logger = logging.getLogger("carbon.transparency")


@task(name="sequence-batch", task_run_name="sequence batch {number}")
async def sequence_batch(number: int, size: int) -> dict[str, Any]:
    done = await asyncio.to_thread(log.sequence, database(), size)
    return {"appended": done.appended, "tree_size": done.size, "signed": done.signed}


@flow(name="publish-log", flow_run_name="publish log ({reason})", log_prints=False, retries=0)
async def publish_log(reason: str = "interval", batch_size: int = log.BATCH, max_batches: int = 20) -> dict[str, Any]:
    if keys.keyring().signer is None:
        logger.warning("publish-log: no signing key (%s or LOG_SIGNING_KEY): nothing signed", keys.key_file())
        return {"skipped": "no signing key"}
    totals: dict[str, Any] = {"batches": 0, "appended": 0, "tree_size": None, "heads_signed": 0}
    for number in range(1, max_batches + 1):
        done = await sequence_batch(number, batch_size)
        totals["batches"] += 1
        totals["appended"] += done["appended"]
        totals["heads_signed"] += int(done["signed"])
        totals["tree_size"] = done["tree_size"]
        if done["appended"] < batch_size:
            break
    return totals
