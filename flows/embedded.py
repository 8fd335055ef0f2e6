"""Embedded mode (the default of `make serve`): the app's own APScheduler runs the flows.

One `AsyncIOScheduler` per process, but only the process holding the database's lease row runs jobs
(one scheduler per database). Jobs only wake flows, which re-read the database (DEVELOPERS.md
pitfalls: `coalesce=True`, `misfire_grace_time=None`): the sweep runs on an interval and at the
moment the next timer is due; dispatch runs right after a command commits, and on an interval for
retries; the annual issuance campaigns run every morning; the transparency log's new entries are
sequenced and its head signed every LOG_SIGN_SECONDS. With `SCHEDULER=prefect` none of this runs:
Prefect deployments schedule the same flows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from flows.common import use_database
from services.orchestration import lease
from services.orchestration.sweep import next_timer_at
from services.store import correlation
from services.store.engine import Database

log = logging.getLogger("carbon.scheduler")
LEASE = "embedded-scheduler"
SWEEP_SECONDS = 60
SWEEP_EVERY = timedelta(seconds=SWEEP_SECONDS)
DISPATCH_EVERY = timedelta(seconds=30)


def log_sign_every() -> timedelta:
    """How long an audit event or ledger entry may wait outside the signed log (the residual window)."""
    return timedelta(seconds=float(os.environ.get("LOG_SIGN_SECONDS", "30")))


def _now() -> datetime:
    return datetime.now(UTC)


def mode() -> str:
    return os.environ.get("SCHEDULER", "embedded")  # embedded | prefect | off


class Orchestrator:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.held = False
        self.running: set[asyncio.Task[Any]] = set()
        # The housekeeping runs (sweep, campaigns, log publication) take turns; only dispatch, which a
        # user's command waits on, runs beside them. Run side by side at start-up they made the embedded
        # Prefect's SQLite answer "database is locked", and its client's retry back-off (2+4+8+16+32 s)
        # then held a hand-off for over a minute (measured: 1 run in 5 of the CI suite).
        self.housekeeping = asyncio.Lock()
        self.scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "misfire_grace_time": None, "max_instances": 1})

    def start(self) -> None:
        use_database(self.db)
        # APScheduler keeps wall-clock time (the app's clock may be a test's)
        self.scheduler.add_job(self._renew, "interval", seconds=20, id="lease", next_run_time=_now())
        self.scheduler.add_job(self.sweep, "interval", seconds=SWEEP_EVERY.total_seconds(), id="sweep",
                               kwargs={"reason": "interval"}, next_run_time=_now() + timedelta(seconds=2))
        self.scheduler.add_job(self.dispatch, "interval", seconds=DISPATCH_EVERY.total_seconds(), id="dispatch",
                               kwargs={"reason": "interval"})
        # the annual issuance campaigns: every morning (idempotent), and once at start
        self.scheduler.add_job(self.campaigns, "cron", hour=1, minute=5, timezone="Asia/Shanghai", id="campaigns",
                               kwargs={"reason": "daily"}, next_run_time=_now() + timedelta(seconds=5))
        self.scheduler.add_job(self.publish_log, "interval", seconds=log_sign_every().total_seconds(),
                               id="publish-log", kwargs={"reason": "interval"},
                               next_run_time=_now() + timedelta(seconds=3))
        self.scheduler.start()

    async def stop(self, grace: float = 20.0) -> None:
        """Stop scheduling, let the flow runs in progress finish (seconds; cancelled mid-run they would
        show as crashed and print tracebacks on every Ctrl-C), then give the lease up."""
        self.scheduler.pause()
        if self.running:
            log.info("stopping: %d flow run(s) finishing", len(self.running))
            await asyncio.wait(set(self.running), timeout=grace)
        log.info("scheduler stopped")
        self.scheduler.shutdown(wait=False)
        if self.held:
            lease.release(self.db, LEASE, self.holder)

    @asynccontextmanager
    async def _housekeeping_run(self) -> AsyncIterator[None]:
        with self._run():  # counted while it waits its turn, so stop() lets it finish
            async with self.housekeeping:
                yield

    @contextmanager
    def _run(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self.running.add(task)
        try:
            yield
        finally:
            self.running.discard(task)

    async def _renew(self) -> None:
        was = self.held
        self.held = await asyncio.to_thread(lease.hold, self.db, LEASE, self.holder)
        if self.held and not was:
            log.info("scheduler lease taken by %s", self.holder)

    async def sweep(self, reason: str) -> dict[str, Any] | None:
        if not self.held:
            return None
        from flows.sweep import sweep_flow

        async with self._housekeeping_run():
            result = await sweep_flow(reason=reason)
        self.arm_next_timer()
        return result

    async def dispatch(self, reason: str, tags: list[str] | None = None) -> dict[str, Any] | None:
        if not self.held:
            await self._renew()  # a wake-up may come before the first renewal has run
        if not self.held:
            return None
        from prefect import tags as run_tags

        from flows.dispatch import dispatch_flow

        with self._run(), run_tags(*(tags or [])):
            return await dispatch_flow(reason=reason)

    async def campaigns(self, reason: str) -> list[dict[str, Any]] | None:
        if not self.held:
            return None
        from flows.campaign import campaigns_flow

        async with self._housekeeping_run():
            return await campaigns_flow(reason=reason)

    async def publish_log(self, reason: str) -> dict[str, Any] | None:
        if not self.held:
            return None
        from flows.transparency import publish_log

        async with self._housekeeping_run():
            return await publish_log(reason=reason)

    def arm_next_timer(self) -> None:
        """A date job at the next due timer, so a publicity or a deadline ends on time, not up to a
        sweep interval late."""
        due = next_timer_at(self.db)
        if due is None:
            return
        self.scheduler.add_job(self.sweep, "date", run_date=max(due, _now()), id="next-timer",
                               replace_existing=True, kwargs={"reason": "timer due"})

    def after_command(self, case: dict[str, Any] | None, action: str) -> None:
        """Called once a command committed: hand its outbox rows over now, re-arm the timer job."""
        tags, reason = [], f"after {action}"
        if case:
            tags = [case["procedure"]["name"], case["jurisdiction"], f"case:{case['id']}"]
            reason = f"after {action} on {case['procedure']['name']} {case['jurisdiction']} case {case['id']}"
        request_id = correlation.current()
        if request_id:  # the run that delivers this request's outbox rows names it
            tags.append(f"request:{request_id}")
        self.scheduler.add_job(self.dispatch, "date", run_date=_now(), id="dispatch-wake",
                               replace_existing=True, kwargs={"reason": reason, "tags": tags})
        self.arm_next_timer()
