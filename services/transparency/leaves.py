"""What a leaf of the log says: the canonical bytes of an audit event or a ledger entry (no I/O).

An audit event's leaf is its place in its chain and its chain hash — the hash already covers the
event's content and everything before it in the stream, and payloads may hold internal data, so the
leaf (and the public page) never carries them. A ledger entry's leaf is the whole entry: the journal
is public registry data, and anyone can recompute the leaf hash from what `/leaves/{seq}` shows.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from services.transparency.merkle import leaf_hash

LEDGER_FIELDS = ("id", "kind", "jurisdiction", "amount", "from_account_id", "to_account_id", "case_id", "actor_id",
                 "reference", "serials", "at")


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def audit_fields(id_: int, stream: str, seq: int, hash_: str) -> dict[str, Any]:
    return {"leaf": "audit", "id": id_, "stream": stream, "seq": seq, "hash": hash_}


def ledger_fields(row: Any) -> dict[str, Any]:
    fields = {name: getattr(row, name) for name in LEDGER_FIELDS}
    at: datetime = fields["at"]
    fields["at"] = at.isoformat()
    fields["serials"] = list(fields["serials"] or [])
    return {"leaf": "ledger", **fields}


def hash_of(fields: dict[str, Any]) -> bytes:
    return leaf_hash(canonical(fields))
