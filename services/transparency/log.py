"""The transparency log's storage: sequencing new rows into it, signing heads, and proofs.

Commands never touch the log: their audit events and ledger entries are inserted with `log_seq`
NULL, and `sequence` (a flow, every LOG_SIGN_SECONDS) appends what has been committed since, as a
queue rather than an id watermark — a row of a transaction still in flight is invisible now and is
picked up next time. In one transaction it locks the log's state row (two sequencers never
interleave), appends the rows as leaves, stores the subtrees they complete, marks the rows with
their leaf, and signs the new head with the key the database does not hold. It refuses to extend a
log that is not an extension of the last head it signed (its witness file): a truncated or rewritten
log is never signed again, so it cannot be made to look whole.
"""

from __future__ import annotations

import base64
import fcntl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine.clock import clock
from services.engine.errors import Invalid
from services.store.engine import Database
from services.store.sql import insert_ignore
from services.store.tables import AuditEvent, LedgerEntry, LogHead, LogLeaf, LogNode, LogState, table_of
from services.transparency import checkpoint, keys, leaves, merkle
from states.messages import Reason, reason

T = TypeVar("T")  # what a Merkle computation returns (a root, a proof)

BATCH = 5000
AUDIT = table_of(AuditEvent)
LEDGER = table_of(LedgerEntry)
LEAVES = table_of(LogLeaf)
NODES = table_of(LogNode)


class LogError(RuntimeError):
    """The sequencer will not sign: no key, or the database's log does not extend the last head signed."""


# --- reading subtrees -------------------------------------------------------------------------


def fetch(session: Session, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these complete aligned subtrees, in one query (leaves for level 0)."""
    wanted = set(wanted)
    seqs = [i for level, i in wanted if level == 0]
    pairs = [(level, i) for level, i in wanted if level > 0]
    parts = []
    if seqs:
        parts.append(sa.select(sa.literal(0).label("level"), LEAVES.c.seq.label("idx"), LEAVES.c.leaf_hash.label("h"))
                     .where(LEAVES.c.seq.in_(seqs)))
    if pairs:
        parts.append(sa.select(NODES.c.level, NODES.c.idx, NODES.c.hash.label("h"))
                     .where(sa.tuple_(NODES.c.level, NODES.c.idx).in_(pairs)))
    if not parts:
        return {}
    stmt = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    return {(int(level), int(idx)): bytes.fromhex(h) for level, idx, h in session.execute(stmt)}


def _getter(found: dict[tuple[int, int], bytes]) -> merkle.Getter:
    def get(level: int, index: int) -> bytes:
        try:
            return found[(level, index)]
        except KeyError:
            raise LogError(f"the log has no subtree ({level}, {index}): its nodes were removed") from None
    return get


def compute(session: Session, fn: Callable[[merkle.Getter], T]) -> T:
    """Run a Merkle computation over the stored subtrees: learn which it needs, read them, run it."""
    return fn(_getter(fetch(session, merkle.wanted(fn))))


# --- sequencing -------------------------------------------------------------------------------


@dataclass
class Sequenced:
    appended: int
    size: int
    signed: bool


def _witnessed(ring: keys.Keyring) -> checkpoint.Checkpoint | None:
    text = keys.read_witness()
    if text is None:
        return None
    try:
        return checkpoint.verify(text, ring.verifiers, ring.name).checkpoint
    except checkpoint.BadCheckpoint as exc:
        raise LogError(f"the witness file {keys.witness_file()} does not verify: {exc}") from exc


def _extends_witness(session: Session, size: int, ring: keys.Keyring) -> None:
    seen = _witnessed(ring)
    if seen is None or seen.size == 0:
        return
    if seen.size > size:
        raise LogError(f"the database's log has {size} leaves but this signer already signed a head of "
                       f"{seen.size}: the log was truncated; nothing more is signed until it is restored "
                       f"(a deliberately re-created database: remove {keys.witness_file()})")
    if compute(session, lambda get: merkle.root(seen.size, get)) != seen.root:
        raise LogError(f"the database's first {seen.size} leaves do not hash to the head this signer signed: "
                       "the log was rewritten; nothing more is signed until it is restored")


def _unlogged(session: Session, limit: int) -> list[tuple[str, int, dict[str, Any]]]:
    """(kind, row id, leaf fields) of committed rows not yet in the log, oldest first."""
    out: list[tuple[str, int, dict[str, Any]]] = []
    for id_, stream, seq, hash_ in session.execute(
            sa.select(AUDIT.c.id, AUDIT.c.stream, AUDIT.c.seq, AUDIT.c.hash).where(AUDIT.c.log_seq.is_(None))
            .order_by(AUDIT.c.id).limit(limit)):
        out.append(("audit", id_, leaves.audit_fields(id_, stream, seq, hash_)))
    if len(out) < limit:
        for row in session.execute(sa.select(LEDGER).where(LEDGER.c.log_seq.is_(None)).order_by(LEDGER.c.id)
                                   .limit(limit - len(out))):
            out.append(("ledger", row.id, leaves.ledger_fields(row)))
    return out


def publish(db: Database, batch: int = BATCH, max_batches: int = 20) -> dict[str, Any]:
    """Sequence batches until none is left (or `max_batches`): what the `publish-log` flow runs, and tests."""
    totals: dict[str, Any] = {"batches": 0, "appended": 0, "tree_size": None, "heads_signed": 0}
    for _ in range(max_batches):
        done = sequence(db, batch)
        totals["batches"] += 1
        totals["appended"] += done.appended
        totals["heads_signed"] += int(done.signed)
        totals["tree_size"] = done.size
        if done.appended < batch:
            break
    return totals


def sequence(db: Database, limit: int = BATCH, ring: keys.Keyring | None = None) -> Sequenced:
    """Append up to `limit` unlogged rows and sign the new head (a head is signed also for an empty
    log that has none, so the public page always has one)."""
    ring = ring or keys.keyring()
    if ring.signer is None:
        raise LogError(f"no signing key: set LOG_SIGNING_KEY or create {keys.key_file()} "
                       "(python -m services.cli keygen)")
    with db.write() as session:
        insert_ignore(session, LogState, {"id": 1, "size": 0})
        state = session.exec(select(LogState).where(LogState.id == 1).with_for_update()).one()
        size = state.size
        _extends_witness(session, size, ring)
        rows = _unlogged(session, limit)
        has_head = session.exec(select(LogHead.size).where(LogHead.size == size)).first() is not None
        if not rows and has_head:
            return Sequenced(0, size, False)
        hashes = [leaves.hash_of(fields) for _, _, fields in rows]
        old = fetch(session, merkle.frontier(size))
        made = merkle.new_nodes(size, hashes, _getter(old))
        if rows:
            session.execute(LEAVES.insert(), [{"seq": size + i, "kind": kind, "ref_id": ref, "leaf_hash": h.hex()}
                                              for i, ((kind, ref, _), h) in enumerate(zip(rows, hashes, strict=True))])
            if made:
                session.execute(NODES.insert(), [{"level": lv, "idx": ix, "hash": h.hex()} for lv, ix, h in made])
            for kind, table in (("audit", AUDIT), ("ledger", LEDGER)):
                marks = [{"ref": ref, "s": size + i} for i, (k, ref, _) in enumerate(rows) if k == kind]
                if marks:
                    session.execute(table.update().where(table.c.id == sa.bindparam("ref"))
                                    .values(log_seq=sa.bindparam("s")), marks)
        new_size = size + len(rows)
        known = {**old, **{(0, size + i): h for i, h in enumerate(hashes)}, **{(lv, ix): h for lv, ix, h in made}}
        root = merkle.root(new_size, _getter(known))
        text = checkpoint.sign(checkpoint.Checkpoint(ring.name, new_size, root), ring.name, ring.signer)
        kid = checkpoint.key_id(ring.name, ring.signer.public_key())
        session.add(LogHead(size=new_size, root_hash=root.hex(), timestamp=clock.now(), signature=text,
                            key_id=kid.hex()))
        state.size = new_size
        session.add(state)
    _witness(text, new_size)  # after the commit: the witness is never ahead of a head that exists
    return Sequenced(len(rows), new_size, True)


def _witness(text: str, size: int) -> None:
    """Keep the newest head: two sequencers finishing out of order never move the witness back."""
    path = keys.witness_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = keys.read_witness()
        if current is not None:
            try:
                if checkpoint.parse(current)[0].size >= size:
                    return
            except checkpoint.BadCheckpoint:
                pass
        keys.write_witness(text)


# --- reading the log --------------------------------------------------------------------------


def latest(session: Session) -> LogHead | None:
    return session.exec(select(LogHead).order_by(col(LogHead.size).desc()).limit(1)).first()


def heads(session: Session, limit: int) -> list[LogHead]:
    return list(session.exec(select(LogHead).order_by(col(LogHead.size).desc()).limit(limit)))


def head_view(h: LogHead) -> dict[str, Any]:
    return {"tree_size": h.size, "root_hash": h.root_hash,
            "root_hash_base64": base64.b64encode(bytes.fromhex(h.root_hash)).decode(),
            "timestamp": h.timestamp.isoformat(), "key_id": h.key_id, "checkpoint": h.signature}


def inclusion(session: Session, index: int, size: int) -> list[bytes]:
    return compute(session, lambda get: merkle.inclusion_proof(index, size, get))


def consistency(session: Session, first: int, second: int) -> list[bytes]:
    if first == 0 or first == second:
        return []
    return compute(session, lambda get: merkle.consistency_proof(first, second, get))


def leaf(session: Session, seq: int) -> LogLeaf | None:
    return session.get(LogLeaf, seq)


def leaf_by_hash(session: Session, hex_hash: str) -> LogLeaf | None:
    return session.exec(select(LogLeaf).where(col(LogLeaf.leaf_hash) == hex_hash)
                        .order_by(col(LogLeaf.seq)).limit(1)).first()


def described(session: Session, item: LogLeaf) -> dict[str, Any] | None:
    """What the leaf covers, as the public may see it (recomputes to its hash); None if the row is gone."""
    if item.kind == "audit":
        row = session.execute(sa.select(AUDIT.c.id, AUDIT.c.stream, AUDIT.c.seq, AUDIT.c.hash)
                              .where(AUDIT.c.id == item.ref_id)).first()
        return None if row is None else leaves.audit_fields(*row)
    row = session.execute(sa.select(LEDGER).where(LEDGER.c.id == item.ref_id)).first()
    return None if row is None else leaves.ledger_fields(row)


def entry_proof(session: Session, entry_id: int) -> dict[str, Any] | None:
    """A ledger entry's inclusion proof in the first signed head that covers it, once sequenced (None
    before). The first, not the newest: a certificate then says the same thing every time it is
    fetched or printed, and a consistency proof carries it to any later head."""
    seq = session.execute(sa.select(LEDGER.c.log_seq).where(LEDGER.c.id == entry_id)).scalar()
    if seq is None:
        return None
    head = session.exec(select(LogHead).where(col(LogHead.size) > seq).order_by(col(LogHead.size)).limit(1)).first()
    if head is None:
        return None
    item = session.get(LogLeaf, seq)
    return {"leaf_index": seq, "tree_size": head.size, "root": head.root_hash,
            "leaf_hash": item.leaf_hash if item else None,
            "inclusion_proof": [h.hex() for h in inclusion(session, seq, head.size)], "checkpoint": head.signature}


def reasons_for(exc: checkpoint.BadCheckpoint, text: str) -> list[Reason]:
    if exc.code == "other_log":
        return [reason("checkpoint_other_log", field="checkpoint", origin=checkpoint.parse(text)[0].origin)]
    return [reason(f"checkpoint_{exc.code}", field="checkpoint")]


def check_old_head(session: Session, text: str, ring: keys.Keyring) -> dict[str, Any]:
    """Someone kept a checkpoint: is it ours, and is today's log an extension of it? Its signature
    is checked with our public keys (a forged or altered one is refused with the reason), then the
    consistency proof from its size to the newest head is computed and verified here, as the holder
    would verify it themselves."""
    try:
        old = checkpoint.verify(text, ring.verifiers, ring.name).checkpoint
    except checkpoint.BadCheckpoint as exc:
        raise Invalid(reasons_for(exc, text)) from exc
    head = latest(session)
    if head is None:
        raise Invalid([reason("log_empty")])
    new_root = bytes.fromhex(head.root_hash)
    result: dict[str, Any] = {"old": {"tree_size": old.size, "root_hash": old.root.hex()},
                              "latest": head_view(head), "proof": []}
    if old.size > head.size:
        # signed by us, yet newer than anything the database holds: the log lost its newest part
        return {**result, "consistent": False, "verdict": "truncated"}
    proof = consistency(session, old.size, head.size)
    ok = merkle.verify_consistency(old.size, head.size, old.root, new_root, proof)
    return {**result, "proof": [h.hex() for h in proof], "consistent": ok, "verdict": "extends" if ok else "forked"}
