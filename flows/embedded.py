"""Embedded mode: one process serves the API and sweeps due timers.

Exactly one APScheduler per deployment (DEVELOPERS.md pitfalls): the job only wakes the sweep,
which re-reads the database, so a missed or coalesced run loses nothing. A timer missed while the
process was down fires on the first sweep after start.
"""

from __future__ import annotations

import logging

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from services.store.engine import Database
from services.timers import run_due_timers

log = logging.getLogger("carbon.scheduler")
SWEEP_SECONDS = 60


def start_scheduler(db: Database) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "misfire_grace_time": None,
                                                                  "max_instances": 1})

    def sweep() -> None:
        result = run_due_timers(db)
        if result["fired"] or result["cancelled"]:
            log.info("timers: %d fired, %d cancelled", len(result["fired"]), len(result["cancelled"]))

    scheduler.add_job(sweep, "interval", seconds=SWEEP_SECONDS, id="sweep_timers")
    scheduler.start()
    sweep()  # catch up at start
    return scheduler


def serve(*, host: str, port: int, workers: int, scheduler: bool) -> None:
    logging.basicConfig(level=logging.INFO)
    sched = start_scheduler(Database()) if scheduler else None
    try:
        uvicorn.run("services.api:app", host=host, port=port, workers=workers)
    finally:
        if sched:
            sched.shutdown(wait=False)
