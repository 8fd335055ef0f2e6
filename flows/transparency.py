"""`publish-log`: sequence the audit events and ledger entries committed since the last run into the
transparency log and sign its new head (services.transparency.log.publish, what tests run too); then end.

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


@task(name="sequence-and-sign")
async def sequence_and_sign(batch_size: int, max_batches: int) -> dict[str, Any]:
    return await asyncio.to_thread(log.publish, database(), batch_size, max_batches)


@flow(name="publish-log", flow_run_name="publish log ({reason})", log_prints=False, retries=0)
async def publish_log(reason: str = "interval", batch_size: int = log.BATCH, max_batches: int = 20) -> dict[str, Any]:
    if keys.keyring().signer is None:
        logger.warning("publish-log: no signing key (%s or LOG_SIGNING_KEY): nothing signed", keys.key_file())
        return {"skipped": "no signing key"}
    return await sequence_and_sign(batch_size, max_batches)
