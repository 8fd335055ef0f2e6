"""Throttles: how many failed attempts a subject (an address, an account, a receipt) may make in a
window before it has to wait. Sign-in and the public report check share this one mechanism.

A throttle counts *failures* only, in fixed windows (`rate_limits`: one row a subject, the key a
SHA-256 so that no receipt or user name is stored in the clear). Callers decide which subjects a
failure counts against; the rule that keeps a third party from locking out the real user belongs
there: never let a failure by one client count against a subject that another client needs (see
`services.web.sessions` and `services.procedures.supervision`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from services.engine.errors import CommandError
from services.store.sql import insert_ignore
from services.store.tables import RateLimit
from states.messages import reason


@dataclass(frozen=True)
class Limit:
    name: str  # what is limited, e.g. "sign-in:address"
    failures: int  # allowed in a window; the next attempt waits
    window: timedelta
    # Attempts on one subject queue behind each other (its counter is locked for the attempt), so
    # that concurrent guesses at the limit's edge cannot all be processed. For per-person subjects
    # (an account, a device); an address shared by an office would make its people queue.
    serialise: bool = False


class Throttled(CommandError):
    status, code = 429, "rate_limited"


def _key(limit: Limit, subject: str) -> str:
    return hashlib.sha256(f"{limit.name}\x00{subject}".encode()).hexdigest()[:64]


def _row(session: Session, limit: Limit, subject: str, now: datetime) -> RateLimit:
    """The subject's counter, locked for the rest of the transaction (created race-free)."""
    key = _key(limit, subject)
    insert_ignore(session, RateLimit, {"key": key, "window_start": now, "count": 0}, key="key")
    return session.exec(select(RateLimit).where(RateLimit.key == key).with_for_update()).one()


def _left(row: RateLimit | None, limit: Limit, now: datetime) -> timedelta | None:
    if row is None or row.count < limit.failures:
        return None
    left = row.window_start + limit.window - now
    return left if left > timedelta(0) else None


def wait_left(session: Session, limit: Limit, subject: str, now: datetime) -> timedelta | None:
    """How long the subject must still wait, or None when it may try now (reads only)."""
    return _left(session.get(RateLimit, _key(limit, subject)), limit, now)


def refuse_if_blocked(session: Session, now: datetime, *checks: tuple[Limit, str]) -> None:
    """429 with the minutes to wait, for the first blocked (limit, subject) among `checks`; the counters
    of serialised limits stay locked for the rest of the attempt."""
    for limit, subject in checks:
        row = _row(session, limit, subject, now) if limit.serialise else session.get(RateLimit, _key(limit, subject))
        left = _left(row, limit, now)
        if left is not None:
            minutes = max(1, -(-int(left.total_seconds()) // 60))
            raise Throttled([reason("rate_limited", minutes=minutes)], retry_after=int(left.total_seconds()) + 1)


def count_failure(session: Session, now: datetime, *checks: tuple[Limit, str]) -> list[Limit]:
    """One more failure against each (limit, subject); a window that ran out starts again. Returns the
    limits this failure reached (a block starts now), so the caller records the block once."""
    reached = []
    for limit, subject in checks:
        row = _row(session, limit, subject, now)
        if now - row.window_start >= limit.window:
            row.window_start, row.count = now, 0
        row.count += 1
        session.add(row)
        if row.count == limit.failures:
            reached.append(limit)
    return reached


def clear(session: Session, limit: Limit, subject: str) -> None:
    """A success forgets the subject's failures (e.g. the account's own trusted device)."""
    row = session.get(RateLimit, _key(limit, subject))
    if row is not None:
        session.delete(row)
