"""The audit trail: SHA-256 hash chains, one per stream (`case:<id>`, `system`).

Each event's hash covers the previous hash and the event's canonical JSON, so editing, removing
or reordering any event breaks every later link. A case's chain head is kept on the case row
(appended under the case's lock); other streams keep theirs in `audit_heads`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.store import unit_of_work
from services.store.records import CaseRecord
from services.store.tables import AuditEvent, AuditHead, Case

GENESIS = "0" * 64


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(e: AuditEvent) -> dict[str, Any]:
    return {
        "stream": e.stream, "seq": e.seq, "case_id": e.case_id, "at": e.at.isoformat(),
        "actor_id": e.actor_id, "actor_role": e.actor_role, "event": e.event,
        "from_state": e.from_state, "to_state": e.to_state, "payload": e.payload,
    }


def _row(stream: str, seq: int, prev: str, *, at: datetime, actor_id: int | None, actor_role: str, event: str,
         case_id: int | None, from_state: str | None, to_state: str | None,
         payload: dict[str, Any] | None) -> dict[str, Any]:
    """The event's column values with its hash; the payload as JSON will store it (the hash covers that)."""
    row = {"stream": stream, "seq": seq, "case_id": case_id, "at": at, "actor_id": actor_id,
           "actor_role": actor_role, "event": event, "from_state": from_state, "to_state": to_state,
           "payload": json.loads(json.dumps(payload or {}, default=str))}
    row["hash"] = _digest(prev, {**row, "at": at.isoformat()})
    row["prev_hash"] = prev
    return row


@dataclass
class Appended:
    """An event handed to the unit of work; `id` is set when the command's rows are inserted."""
    stream: str
    seq: int
    hash: str
    id: int | None = None


def append_case(
    session: Session, case: CaseRecord, *, at: datetime, actor_id: int | None, actor_role: str, event: str,
    from_state: str | None = None, to_state: str | None = None, payload: dict[str, Any] | None = None,
) -> Appended:
    """Append to a case's chain. The head lives on the case's record, which the command holds locked
    and writes anyway: no extra query, no extra lock. The row is inserted with the command's other
    new rows (`services.store.unit_of_work`)."""
    row = _row(f"case:{case.id}", case.audit_seq + 1, case.audit_hash, at=at, actor_id=actor_id,
               actor_role=actor_role, event=event, case_id=case.id, from_state=from_state, to_state=to_state,
               payload=payload)
    case.audit_seq, case.audit_hash = row["seq"], row["hash"]
    appended = Appended(stream=row["stream"], seq=row["seq"], hash=row["hash"])
    unit_of_work.of(session).add_audit(row, appended)
    return appended


def append(
    session: Session, *, stream: str, at: datetime, actor_id: int | None, actor_role: str, event: str,
    payload: dict[str, Any] | None = None,
) -> Appended:
    """Append to a stream that is not a case's (`system`); its head row serialises writers."""
    head = session.exec(select(AuditHead).where(AuditHead.stream == stream).with_for_update()).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    row = _row(stream, seq, prev, at=at, actor_id=actor_id, actor_role=actor_role, event=event, case_id=None,
               from_state=None, to_state=None, payload=payload)
    appended = Appended(stream=stream, seq=seq, hash=row["hash"])
    unit_of_work.of(session).add_audit(row, appended)
    if head:
        head.seq, head.hash = seq, row["hash"]
        session.add(head)
    else:
        session.add(AuditHead(stream=stream, seq=seq, hash=row["hash"]))
    return appended


def verify(session: Session, jurisdictions: Iterable[str] | None = None) -> dict[str, Any]:
    """Recompute every chain; name the first broken link (stream, seq, event id) if any. With
    `jurisdictions`, only the chains of those jurisdictions' cases (a jurisdiction administrator's
    view); the `system` stream is checked only without them."""
    streams = 0
    events = 0
    prev_by_stream: dict[str, tuple[int, str]] = {}
    js = None if jurisdictions is None else sorted(jurisdictions)
    their_cases = None if js is None else select(col(Case.id)).where(col(Case.jurisdiction).in_(js))
    q = select(AuditEvent).order_by(col(AuditEvent.stream), col(AuditEvent.seq))
    if their_cases is not None:
        q = q.where(col(AuditEvent.case_id).in_(their_cases))
    rows = session.exec(q).yield_per(2000)
    for e in rows:
        events += 1
        seq0, prev = prev_by_stream.get(e.stream, (0, GENESIS))
        if e.stream not in prev_by_stream:
            streams += 1
        problem = None
        if e.seq != seq0 + 1:
            problem = f"sequence gap: expected {seq0 + 1}, found {e.seq}"
        elif e.prev_hash != prev:
            problem = "prev_hash does not match the previous event's hash"
        elif _digest(e.prev_hash, _fields(e)) != e.hash:
            problem = "hash does not match the event's content"
        if problem:
            return {"ok": False, "events_checked": events, "streams": streams,
                    "first_broken": {"stream": e.stream, "seq": e.seq, "event_id": e.id, "problem": problem}}
        prev_by_stream[e.stream] = (e.seq, e.hash)
    heads = [(h.stream, h.seq, h.hash) for h in session.exec(select(AuditHead))] if js is None else []
    case_heads = select(col(Case.id), col(Case.audit_seq), col(Case.audit_hash)).where(col(Case.audit_seq) > 0)
    if their_cases is not None:
        case_heads = case_heads.where(col(Case.id).in_(their_cases))
    heads += [(f"case:{cid}", seq, h) for cid, seq, h in session.exec(case_heads)]
    for stream, seq, hash_ in heads:
        if prev_by_stream.get(stream, (0, GENESIS)) != (seq, hash_):
            return {"ok": False, "events_checked": events, "streams": streams,
                    "first_broken": {"stream": stream, "seq": seq, "event_id": None,
                                     "problem": "the chain's recorded head does not match its last event "
                                                "(events removed or added)"}}
    return {"ok": True, "events_checked": events, "streams": streams, "first_broken": None}
