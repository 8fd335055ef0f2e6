"""The transparency log, for anyone (no sign-in): its public key, signed heads (C2SP checkpoints),
consistency and inclusion proofs (RFC 9162 §2.1), what each leaf covers, and a check of a kept
checkpoint against today's log."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from services.api.deps import DbDep
from services.engine.errors import Invalid, NotFound
from services.transparency import checkpoint, keys, leaves, log
from states.messages import reason

router = APIRouter(prefix="/api/v1/public/log", tags=["transparency"])

HEX64 = re.compile(r"^[0-9a-f]{64}$")
Size = Annotated[int, Query(ge=0, le=2**62)]


def key_view(ring: keys.Keyring) -> dict[str, Any]:
    current = ring.current
    if current is None:
        raise NotFound([reason("log_no_key")])
    kid, name, public = current
    return {"name": name, "algorithm": "Ed25519", "key_id": kid.hex(), "vkey": checkpoint.vkey(name, public),
            "public_key_pem": checkpoint.public_pem(public),
            # keys rotated out: the heads they signed still verify with them (each head names its key id)
            "previous": [{"key_id": k.hex(), "vkey": checkpoint.vkey(n, p)} for k, (n, p) in ring.verifiers.items()
                         if k != kid]}


@router.get("/key", summary="The log's public key (PEM, and the signed-note verifier key) and earlier keys")
def public_key() -> dict[str, Any]:
    return key_view(keys.keyring())


def _newest(session: Any) -> Any:  # noqa: ANN401
    head = log.latest(session)
    if head is None:
        raise NotFound([reason("log_empty")])
    return head


@router.get("/checkpoint", response_class=PlainTextResponse,
            summary="The newest signed head, as a C2SP checkpoint (text/plain): keep it, check later")
def latest_checkpoint(db: DbDep) -> PlainTextResponse:
    with db.read() as session:
        return PlainTextResponse(_newest(session).signature)


@router.get("/heads", summary="Recent signed heads, newest first")
def recent_heads(db: DbDep, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
    with db.read() as session:
        return {"items": [log.head_view(h) for h in log.heads(session, limit)]}


def _within(size: int, newest: int, field: str) -> None:
    if size > newest:
        raise Invalid([reason("log_size", field=field, size=size, latest=newest)])


@router.get("/consistency", summary="RFC 9162 consistency proof that the tree of `first` leaves is a prefix of "
                                    "the tree of `second` (default: the newest head)")
def consistency(db: DbDep, first: Size, second: Annotated[int | None, Query(ge=0, le=2**62)] = None
                ) -> dict[str, Any]:
    with db.read() as session:
        newest = _newest(session).size
        second = newest if second is None else second
        problems = []
        if first > second:
            problems.append(reason("log_order", field="first"))
        if second > newest:
            problems.append(reason("log_size", field="second", size=second, latest=newest))
        if problems:
            raise Invalid(problems)
        proof = log.consistency(session, first, second)
        return {"first": first, "second": second, "proof": [h.hex() for h in proof]}


@router.get("/inclusion", summary="RFC 9162 inclusion proof of a leaf (by index `seq`, or by `leaf_hash`) in the "
                                  "tree of `size` leaves (default: the newest head)")
def inclusion(db: DbDep, seq: Annotated[int | None, Query(ge=0, le=2**62)] = None,
              leaf_hash: Annotated[str | None, Query(max_length=64)] = None,
              size: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> dict[str, Any]:
    if (seq is None) == (leaf_hash is None):
        raise Invalid([reason("log_inclusion_args", field="seq")])
    with db.read() as session:
        newest = _newest(session).size
        size = newest if size is None else size
        _within(size, newest, "size")
        found = log.leaf(session, seq) if seq is not None else (
            log.leaf_by_hash(session, leaf_hash.lower()) if HEX64.match(leaf_hash.lower()) else None)  # type: ignore[union-attr]
        if found is None or found.seq >= size:
            raise Invalid([reason("log_leaf", field="seq", seq=seq) if seq is not None
                           else reason("log_leaf_hash", field="leaf_hash")])
        proof = log.inclusion(session, found.seq, size)
        return {"leaf_index": found.seq, "tree_size": size, "leaf_hash": found.leaf_hash,
                "proof": [h.hex() for h in proof]}


@router.get("/leaves/{seq}", summary="What a leaf covers: a ledger entry's fields, or an audit event's stream, "
                                     "sequence number and chain hash (never its payload)")
def leaf(seq: int, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        found = log.leaf(session, seq) if 0 <= seq < 2**62 else None
        if found is None:
            raise NotFound([reason("log_leaf", seq=seq)])
        fields = log.described(session, found)
        return {"seq": found.seq, "kind": found.kind, "leaf_hash": found.leaf_hash, "covers": fields,
                # the exact bytes whose SHA-256 (after a 0x00 byte) is the leaf hash; null if the row is gone
                "leaf_data": None if fields is None else leaves.canonical(fields).decode()}


class KeptCheckpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkpoint: str = Field(min_length=1, max_length=4000, description="a checkpoint this log signed earlier")


@router.post("/check", summary="Check a kept checkpoint: signed by this log, and today's log extends it "
                               "(with the consistency proof)")
def check(body: KeptCheckpoint, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return log.check_old_head(session, body.checkpoint, keys.keyring())
