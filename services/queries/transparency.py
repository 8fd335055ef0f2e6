"""The transparency log as anyone reads it: its public keys, signed heads (C2SP checkpoints), consistency
and inclusion proofs (RFC 9162 §2.1), what each leaf covers, and a kept checkpoint checked against
today's log."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field
from sqlmodel import Session

from services.engine.errors import Invalid, NotFound
from services.queries.schemas import Instant, Items, Public
from services.store.tables import LogHead
from services.transparency import checkpoint, keys, leaves, log
from states.messages import reason

HEX64 = re.compile(r"^[0-9a-f]{64}$")


class EarlierKey(Public):
    key_id: str = Field(description="Hex: the heads a rotated key signed name it")
    vkey: str = Field(description="The signed-note verifier key")


class LogKey(Public):
    name: str = Field(description="The log's name (the checkpoint's origin line)")
    algorithm: Literal["Ed25519"]
    key_id: str
    vkey: str = Field(description="The signed-note verifier key (`name+id+key`)")
    public_key_pem: str
    previous: list[EarlierKey] = Field(description="Keys rotated out: the heads they signed still verify with them")


def key_view(ring: keys.Keyring) -> LogKey:
    current = ring.current
    if current is None:
        raise NotFound([reason("log_no_key")])
    kid, name, public = current
    return LogKey(name=name, algorithm="Ed25519", key_id=kid.hex(), vkey=checkpoint.vkey(name, public),
                  public_key_pem=checkpoint.public_pem(public),
                  previous=[EarlierKey(key_id=k.hex(), vkey=checkpoint.vkey(n, p))
                            for k, (n, p) in ring.verifiers.items() if k != kid])


class HeadPublic(Public):
    """A signed tree head."""

    tree_size: int
    root_hash: str = Field(description="Hex")
    root_hash_base64: str = Field(description="As the checkpoint writes it")
    timestamp: Instant
    key_id: str = Field(description="Hex: the key that signed it")
    checkpoint: str = Field(description="The whole C2SP checkpoint: body, blank line, signature line")


def head_view(h: LogHead) -> HeadPublic:
    return HeadPublic.model_validate(log.head_view(h))


class HeadList(Items[HeadPublic]):
    """Signed heads, newest first."""


def newest(session: Session) -> LogHead:
    head = log.latest(session)
    if head is None:
        raise NotFound([reason("log_empty")])
    return head


def heads(session: Session, limit: int) -> HeadList:
    return HeadList(items=[head_view(h) for h in log.heads(session, limit)])


class ConsistencyProof(Public):
    first: int
    second: int
    proof: list[str] = Field(description="Hex hashes (RFC 9162 §2.1.4)")


def consistency(session: Session, first: int, second: int | None) -> ConsistencyProof:
    size = newest(session).size
    second = size if second is None else second
    problems = []
    if first > second:
        problems.append(reason("log_order", field="first"))
    if second > size:
        problems.append(reason("log_size", field="second", size=second, latest=size))
    if problems:
        raise Invalid(problems)
    proof = log.consistency(session, first, second)
    return ConsistencyProof(first=first, second=second, proof=[h.hex() for h in proof])


class InclusionProof(Public):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    proof: list[str] = Field(description="Hex hashes, from the leaf up (RFC 9162 §2.1.3)")


def inclusion(session: Session, seq: int | None, leaf_hash: str | None, size: int | None) -> InclusionProof:
    if (seq is None) == (leaf_hash is None):
        raise Invalid([reason("log_inclusion_args", field="seq")])
    latest = newest(session).size
    size = latest if size is None else size
    if size > latest:
        raise Invalid([reason("log_size", field="size", size=size, latest=latest)])
    found = log.leaf(session, seq) if seq is not None else (
        # the ignore below: log.leaf returns None for an unknown seq; the caller answers 404 below
        log.leaf_by_hash(session, leaf_hash.lower()) if HEX64.match(leaf_hash.lower()) else None)  # type: ignore[union-attr]
    if found is None or found.seq >= size:
        raise Invalid([reason("log_leaf", field="seq", seq=seq) if seq is not None
                       else reason("log_leaf_hash", field="leaf_hash")])
    return InclusionProof(leaf_index=found.seq, tree_size=size, leaf_hash=found.leaf_hash,
                          proof=[h.hex() for h in log.inclusion(session, found.seq, size)])


class AuditLeaf(Public):
    """An audit event's place in its chain and its chain hash (never its payload)."""

    leaf: Literal["audit"]
    id: int
    stream: str
    seq: int
    hash: str


class LedgerLeaf(Public):
    """A ledger entry, whole: the journal is public registry data."""

    leaf: Literal["ledger"]
    id: int
    kind: str
    jurisdiction: str
    amount: int
    from_account_id: int | None
    to_account_id: int | None
    case_id: int | None
    actor_id: int | None
    reference: str | None
    serials: list[str]
    at: str = Field(description="ISO 8601, exactly as hashed")


class LeafPublic(Public):
    seq: int
    kind: str = Field(description="audit | ledger")
    leaf_hash: str = Field(description="Hex SHA-256 of 0x00 and `leaf_data`")
    covers: AuditLeaf | LedgerLeaf | None = Field(description="What the leaf covers; null if its row is gone")
    leaf_data: str | None = Field(description="The exact bytes hashed (canonical JSON of `covers`)")


def leaf(session: Session, seq: int) -> LeafPublic:
    found = log.leaf(session, seq) if 0 <= seq < 2**62 else None
    if found is None:
        raise NotFound([reason("log_leaf", seq=seq)])
    fields: dict[str, Any] | None = log.described(session, found)
    # the ignore below: a found leaf has its fields set (it was sequenced)
    return LeafPublic(seq=found.seq, kind=found.kind, leaf_hash=found.leaf_hash, covers=fields,  # type: ignore[arg-type]
                      leaf_data=None if fields is None else leaves.canonical(fields).decode())


class KeptHead(Public):
    tree_size: int
    root_hash: str


class CheckpointCheck(Public):
    """A kept checkpoint, checked: signed by this log, and whether today's log extends it."""

    old: KeptHead
    latest: HeadPublic
    proof: list[str] = Field(description="The consistency proof from the kept head to the newest (hex)")
    consistent: bool
    verdict: str = Field(description="extends | forked | truncated")


def check(session: Session, text: str) -> CheckpointCheck:
    return CheckpointCheck.model_validate(log.check_old_head(session, text, keys.keyring()))
