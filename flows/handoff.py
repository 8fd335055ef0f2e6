"""The scaled-out hand-off loop: outbox rows delivered and timers fired within seconds, as Prefect flow runs
executed in one long-lived process (the worker's, `flows/worker.py`).

Why not a deployment run each time: a process worker (and `serve`, whose runner spawns a process per run)
starts a Python process for every run, about 10 s of imports on this machine for a second of work, and
dispatch would wait for the next scheduled run. Here the `dispatch` and `sweep` flows are called in this
process (each call is a flow run the Prefect server records, as in embedded mode; dispatch as one run
that serves the wakes of `SERVE_SECONDS`, each drain a task run; the sweep likewise), and they are woken:

- PostgreSQL sends `NOTIFY carbon_wake` when a transaction that inserted outbox rows or timers commits
  (triggers of migration 0016): `outbox` wakes dispatch; `timers` re-reads when the next timer is due.
  A wake during a run is kept, so the run that follows picks up what the first one missed.
- Timers fire when the next one is due (re-read on every wake and at least every `IDLE_SECONDS`), in
  one long-lived `sweep (hand-off)` run too (each firing a task run; a flow run of its own per due timer
  was most of a timer's lag), and dispatch follows a sweep that fired timers.
- One loop per database holds the `handoff` lease (renewed every `RENEW_SECONDS`, lapsing after
  `LEASE_TTL`): a second worker stands by and takes over within the TTL when the first is lost.
- Its flow runs are tagged `handoff:<holder>` (the lease holder: `<pid>-<nonce>`), so an operator (and
  bench/recovery.py) tells which worker process ran them, e.g. those a lost worker left running.

The deployments' interval schedules stay as the safety net (and the sweep's incident detection);
the database stays the truth: a missed notification only costs the wait to the next wake or run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, tags

from flows.common import use_database
from services.engine.clock import clock
from services.orchestration import lease
from services.orchestration.sweep import next_timer_at
from services.store.engine import Database

log = logging.getLogger("carbon.handoff")
LEASE = "handoff"
RENEW_SECONDS = 5.0
LEASE_TTL = timedelta(seconds=20)
IDLE_SECONDS = 30.0  # without a wake, re-read the next due timer and drain the outbox this often
SERVE_SECONDS = 300.0  # one dispatch flow run serves the wakes of this long, then the next run starts
CHANNEL = "carbon_wake"


class Handoff:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tag = f"handoff:{self.holder}"  # on its flow runs: which worker process ran them
        self.held = False
        self.outbox = asyncio.Event()
        self.timers = asyncio.Event()
        self.stopping = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def wake(self, what: str) -> None:
        """From any thread: `outbox` (rows to deliver) or `timers` (the next due timer may have moved)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe((self.outbox if what == "outbox" else self.timers).set)

    async def run(self) -> None:
        global _serving
        self.loop = asyncio.get_running_loop()
        _serving = self
        use_database(self.db)
        if not self.db.is_sqlite:  # SQLite has no NOTIFY: the loop then wakes every IDLE_SECONDS
            threading.Thread(target=self._listen, name="handoff-listen", daemon=True).start()
        try:
            await asyncio.gather(self._hold(), self._dispatching(), self._sweeping())
        finally:
            if self.held:
                await asyncio.to_thread(lease.release, self.db, LEASE, self.holder)

    def stop(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stopping.set)

    async def _pause(self, event: asyncio.Event, seconds: float) -> None:
        """Until `event` is set, the loop stops, or `seconds` pass."""
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self.stopping.wait())]
        _, pending = await asyncio.wait(waits, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def _hold(self) -> None:
        while not self.stopping.is_set():
            was = self.held
            try:
                self.held = await asyncio.to_thread(lease.hold, self.db, LEASE, self.holder, LEASE_TTL)
            except Exception:
                log.warning("hand-off lease not renewed", exc_info=True)
                self.held = False
            if self.held and not was:
                log.info("hand-off lease taken by %s", self.holder)
                self.outbox.set()  # whatever waited while no one held it
                self.timers.set()
            await self._pause(asyncio.Event(), RENEW_SECONDS)

    async def _dispatching(self) -> None:
        while not self.stopping.is_set():
            if not self.held:
                await self._pause(self.stopping, RENEW_SECONDS)
                continue
            with tags(self.tag):
                await _guarded(dispatch_serving(SERVE_SECONDS))

    async def drain_on_wake(self, seconds: float) -> dict[str, int]:
        """Inside one flow run: drain on every wake (a task run each) until `seconds` pass or the lease is lost."""
        from flows.common import heartbeat
        from flows.dispatch import drain

        totals: dict[str, int] = {}
        until = asyncio.get_running_loop().time() + seconds
        while not self.stopping.is_set() and self.held and asyncio.get_running_loop().time() < until:
            await self._pause(self.outbox, min(IDLE_SECONDS, until - asyncio.get_running_loop().time()))
            self.outbox.clear()
            if self.stopping.is_set():
                break
            async with heartbeat("dispatch"):  # each drain is a good finish of the loop (/metrics, incidents)
                counts = await drain(100, 50)
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
        return totals

    async def _sweeping(self) -> None:
        while not self.stopping.is_set():
            if not self.held:
                await self._pause(self.stopping, RENEW_SECONDS)
                continue
            with tags(self.tag):
                if await _guarded(sweep_serving(SERVE_SECONDS)) is None:  # failed: not again at once
                    await self._pause(self.stopping, RENEW_SECONDS)

    async def fire_when_due(self, seconds: float) -> dict[str, int]:
        """Inside one flow run: fire the due timers (a task run each time) whenever the next falls due,
        until `seconds` pass or the lease is lost; dispatch is woken for the commands' outbox rows."""
        from flows.common import heartbeat
        from flows.sweep import sweep_once

        totals = {"sweeps": 0, "timers_fired": 0, "timers_cancelled": 0}
        until = asyncio.get_running_loop().time() + seconds
        while not self.stopping.is_set() and self.held and asyncio.get_running_loop().time() < until:
            due = await asyncio.to_thread(_next_due, self.db)
            wait = IDLE_SECONDS if due is None else min(IDLE_SECONDS, (due - clock.now()).total_seconds())
            if wait > 0:
                await self._pause(self.timers, min(wait, until - asyncio.get_running_loop().time()))
                self.timers.clear()
                continue
            async with heartbeat("sweep"):  # each firing is a good finish of the loop (/metrics, incidents)
                result = await sweep_once()
            if result.get("timers_fired"):
                self.outbox.set()  # the commands the timers fired wrote outbox rows
            totals["sweeps"] += 1
            totals["timers_fired"] += result["timers_fired"]
            totals["timers_cancelled"] += result["timers_cancelled"]
        return totals

    def _listen(self) -> None:
        """LISTEN on its own connection (a thread: psycopg's notifies() blocks); reconnects when lost."""
        import psycopg
        import sqlalchemy as sa

        url = sa.make_url(self.db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        while self.loop is not None and not self.stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.wake("outbox")  # anything committed while not listening
                    self.wake("timers")
                    while not self.stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.wake(note.payload)
            except Exception:
                log.warning("hand-off listener lost its connection", exc_info=True)
                threading.Event().wait(2.0)


_serving: Handoff | None = None  # the loop a serving dispatch run drains for (flow parameters are JSON)


@flow(name="dispatch", flow_run_name="dispatch (hand-off)", log_prints=False)
async def dispatch_serving(seconds: float = SERVE_SECONDS) -> dict[str, int]:
    """The `dispatch` flow as a long-lived run: a Prefect flow run costs seconds of CPU on a busy machine
    (its creation, states, events), a task run milliseconds; so one run serves the wakes of `seconds`,
    each drain a task run of its own, and its heartbeats let Prefect crash it if its process is lost."""
    if _serving is None:
        return {}
    return await _serving.drain_on_wake(seconds)


@flow(name="sweep", flow_run_name="sweep (hand-off)", log_prints=False)
async def sweep_serving(seconds: float = SERVE_SECONDS) -> dict[str, int]:
    """The `sweep` flow as a long-lived run firing timers when they fall due (as `dispatch_serving`: a flow
    run of its own per due timer cost seconds); incident detection stays with the scheduled sweeps."""
    if _serving is None:
        return {}
    return await _serving.fire_when_due(seconds)


def _next_due(db: Database) -> datetime | None:
    due = next_timer_at(db)
    return None if due is None else (due if due.tzinfo else due.replace(tzinfo=UTC))


async def _guarded(run: Any) -> dict[str, Any] | None:
    """A failed run is Prefect's to record (and the detector's to report): the loop goes on."""
    try:
        result: dict[str, Any] = await run
        return result
    except Exception:
        log.warning("hand-off flow run failed", exc_info=True)
        return None


def start_in_thread(db: Database) -> tuple[Handoff, threading.Thread]:
    """The loop on its own event loop in a thread of the calling process (`services.cli worker`)."""
    handoff = Handoff(db)
    thread = threading.Thread(target=asyncio.run, args=(handoff.run(),), name="handoff", daemon=True)
    thread.start()
    return handoff, thread
