"""Safe retries (DESIGN §6): a mutating request that carries an `Idempotency-Key` takes effect once per
caller, and a retry — even one that arrives while the first is still running — gets the first reply.

The key is claimed first, in the command's own transaction, by INSERT … ON CONFLICT DO NOTHING. A
concurrent request with the same key waits on that uncommitted row (PostgreSQL; SQLite serialises
writers anyway) and, once the first commits, reads the reply stored with it. The reply is stored in
the same transaction as the change, so a crash loses both or neither; a refused request rolls back
and stores nothing, so it may be retried.

Work that spans several transactions (firing every due timer) claims the key in a transaction of
its own first (`once_across`): a retry meanwhile is told the first is still running (409), and a
claim left by a crashed process is taken over after `ABANDONED`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine.clock import clock
from services.engine.errors import Conflict, Invalid
from services.store.engine import Database
from services.store.sql import insert_ignore
from services.store.tables import IdempotencyRecord
from states.messages import reason

Reply = tuple[int, dict[str, Any]]
RUNNING = 0  # status of a claimed key whose reply is not stored yet
ABANDONED = timedelta(minutes=10)


@dataclass(frozen=True)
class Idem:
    """Who asks (`Actor.key`: a user, or the public by address), their key, and what they ask: the same
    key sent with another request is refused rather than answered with an unrelated reply."""

    caller: str
    key: str | None
    request: Any  # JSON-able

    @property
    def digest(self) -> str:
        body = json.dumps(self.request, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(body.encode()).hexdigest()


_RECORD = select(IdempotencyRecord).where(IdempotencyRecord.actor_key == sa.bindparam("caller"),
                                          IdempotencyRecord.key == sa.bindparam("key"))


def claim(session: Session, idem: Idem) -> Reply | None:
    """None when the command is to run (no key, or the key is new and now ours); else the stored reply."""
    if not idem.key:
        return None
    if insert_ignore(session, IdempotencyRecord, {
            "actor_key": idem.caller, "key": idem.key, "request_sha256": idem.digest, "status_code": RUNNING,
            "response": {}, "created_at": clock.now()}, key="key"):
        return None
    record = session.exec(_RECORD, params={"caller": idem.caller, "key": idem.key},
                          execution_options={"populate_existing": True}).one()
    if record.request_sha256 != idem.digest:
        raise Invalid([reason("idempotency_mismatch")])
    if record.status_code == RUNNING:
        raise Conflict([reason("idempotency_running")])
    return record.status_code, record.response


def remember(session: Session, idem: Idem, reply: Reply) -> None:
    if idem.key:
        session.execute(sa.update(IdempotencyRecord).where(
            col(IdempotencyRecord.actor_key) == idem.caller, col(IdempotencyRecord.key) == idem.key)
            .values(status_code=reply[0], response=reply[1]), execution_options={"synchronize_session": False})


def once(db: Database, idem: Idem, work: Callable[[Session], Reply]) -> Reply:
    """Run `work` in one transaction with the key claimed first; a retry gets the first reply."""
    with db.write() as session:
        replay = claim(session, idem)
        if replay is not None:
            return replay
        reply = work(session)
        remember(session, idem, reply)
        return reply


def once_across(db: Database, idem: Idem, work: Callable[[], Reply]) -> Reply:
    """`once` for work that runs its own transactions."""
    if not idem.key:
        return work()
    with db.write() as session:
        record = session.exec(_RECORD, params={"caller": idem.caller, "key": idem.key}).first()
        if record is not None and record.status_code == RUNNING and clock.now() - record.created_at > ABANDONED:
            session.delete(record)  # its process died before storing a reply
            session.flush()
        replay = claim(session, idem)
    if replay is not None:
        return replay
    try:
        reply = work()
    except BaseException:
        with db.write() as session:
            session.execute(sa.delete(IdempotencyRecord).where(
                col(IdempotencyRecord.actor_key) == idem.caller, col(IdempotencyRecord.key) == idem.key,
                col(IdempotencyRecord.status_code) == RUNNING))
        raise
    with db.write() as session:
        remember(session, idem, reply)
    return reply
