"""A lease row: exactly one holder at a time per name (one embedded scheduler per database)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from services.engine.clock import clock
from services.store.engine import Database
from services.store.tables import SchedulerLease


def hold(db: Database, name: str, holder: str, ttl: timedelta = timedelta(seconds=60)) -> bool:
    """Take or renew the lease; True while `holder` has it. A lapsed lease goes to whoever asks."""
    now = clock.now()
    with db.write() as session:
        lease = session.exec(select(SchedulerLease).where(SchedulerLease.name == name).with_for_update()).first()
        if lease is None:
            session.add(SchedulerLease(name=name, holder=holder, expires_at=now + ttl))
            return True
        if lease.holder != holder and lease.expires_at > now:
            return False
        lease.holder, lease.expires_at = holder, now + ttl
        session.add(lease)
        return True


def release(db: Database, name: str, holder: str) -> None:
    with db.write() as session:
        lease = session.get(SchedulerLease, name)
        if lease is not None and lease.holder == holder:
            session.delete(lease)
