"""Check the whole transparency log against the rows it covers, its signed heads and the signer's
witness, and name the first problem.

One pass over the leaves in order, a chunk at a time (memory stays flat however long the log):
each leaf's row must still exist and hash to the leaf, and point back to it; the tree is rebuilt
from the leaves on a stack (the stack after k leaves is the tree of size k's frontier), so every
stored subtree is compared as it completes and every signed head's root as the pass reaches its
size — which also proves each head consistent with the next, both being prefixes of one list of
leaves. Signatures are checked with the configured public keys, never with anything the database
holds, and the newest head the signer wrote to its witness file must be in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from services.store.tables import AuditEvent, LedgerEntry, LogHead, LogLeaf, LogNode, table_of
from services.transparency import checkpoint, keys, leaves, merkle

CHUNK = 4096
MAX_PROBLEMS = 20
AUDIT = table_of(AuditEvent)
LEDGER = table_of(LedgerEntry)
LEAVES = table_of(LogLeaf)
NODES = table_of(LogNode)
HEADS = table_of(LogHead)


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    @property
    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS


def _what(kind: str, ref: int, row: Any = None) -> str:
    if kind == "audit":
        return f"audit event {ref}" + (f", stream {row.stream} seq {row.seq}" if row is not None else "")
    return f"ledger entry {ref}" + (f", {row.kind}" if row is not None else "")


def _rows(session: Session, table: sa.Table, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {r.id: r for r in session.execute(sa.select(table).where(table.c.id.in_(ids)))}


def _stored_nodes(session: Session, start: int, end: int) -> dict[tuple[int, int], str]:
    """Stored subtrees (level >= 1) completed by leaves [start, end): those ending in (start, end]."""
    ranges = [(level, start >> level, (end >> level) - 1) for level in range(1, end.bit_length() + 1)]
    conds = [sa.and_(NODES.c.level == level, NODES.c.idx.between(lo, hi)) for level, lo, hi in ranges if lo <= hi]
    if not conds:
        return {}
    return {(lv, ix): h for lv, ix, h in session.execute(sa.select(NODES.c.level, NODES.c.idx, NODES.c.hash)
                                                          .where(sa.or_(*conds)))}


def _fold(stack: list[tuple[int, bytes]]) -> bytes:
    if not stack:
        return merkle.EMPTY_ROOT
    root = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        root = merkle.node_hash(h, root)
    return root


def _witness(text: str | None, ring: keys.Keyring, found: Findings) -> checkpoint.Checkpoint | None:
    if text is None:
        return None
    try:
        return checkpoint.verify(text, ring.verifiers, ring.name).checkpoint
    except checkpoint.BadCheckpoint as exc:
        found.add(f"the signer's witness file does not verify ({exc})")
        return None


def _check_heads(session: Session, ring: keys.Keyring, found: Findings) -> dict[int, bytes]:
    """Every head's signature, by a key we hold, over exactly the size and root stored beside it."""
    roots: dict[int, bytes] = {}
    for size, root_hex, text, kid in session.execute(
            sa.select(HEADS.c.size, HEADS.c.root_hash, HEADS.c.signature, HEADS.c.key_id).order_by(HEADS.c.size)):
        roots[size] = bytes.fromhex(root_hex)
        try:
            signed = checkpoint.verify(text, ring.verifiers, ring.name)
        except checkpoint.BadCheckpoint as exc:
            found.add(f"head {size}: {exc}")
            continue
        if (signed.checkpoint.size, signed.checkpoint.root.hex(), signed.key_id.hex()) != (size, root_hex, kid):
            found.add(f"head {size}: its row does not say what its signed checkpoint says")
    return roots


def verify_log(session: Session, ring: keys.Keyring, witness_text: str | None) -> dict[str, Any]:
    found = Findings()
    roots = _check_heads(session, ring, found)
    if roots and not ring.verifiers:
        found.problems.insert(0, "no public key is configured (LOG_SIGNING_KEY_FILE or LOG_TRUSTED_KEYS_FILE): "
                                 "signed heads cannot be checked")
    witnessed = _witness(witness_text, ring, found)
    n = session.execute(sa.select(sa.func.count()).select_from(LEAVES)).scalar_one()
    sizes = _known_sizes(roots, witnessed, found)

    stack: list[tuple[int, bytes]] = []
    position = 0
    while position < n and not found.full:
        end = min(position + CHUNK, n)
        chunk = list(session.execute(sa.select(LEAVES.c.seq, LEAVES.c.kind, LEAVES.c.ref_id, LEAVES.c.leaf_hash)
                                     .where(LEAVES.c.seq >= position, LEAVES.c.seq < end).order_by(LEAVES.c.seq)))
        audit = _rows(session, AUDIT, [r.ref_id for r in chunk if r.kind == "audit"])
        ledger = _rows(session, LEDGER, [r.ref_id for r in chunk if r.kind == "ledger"])
        nodes = _stored_nodes(session, position, end)
        for seq, kind, ref, stored in chunk:
            if seq != position:
                found.add(f"leaf {position} is missing from the log (the next one stored is {seq})")
                return _result(found, n, roots, witnessed, session)
            _check_leaf(seq, kind, ref, stored, (audit if kind == "audit" else ledger).get(ref), found)
            # the tree is rebuilt from the leaves as stored: a changed row is named above, once
            position += 1
            _add_leaf(stack, bytes.fromhex(stored), position, nodes, found)
            if position in sizes:
                _compare_root(position, _fold(stack), roots, witnessed, found)
    if n == 0 and 0 in sizes:
        _compare_root(0, merkle.EMPTY_ROOT, roots, witnessed, found)
    return _result(found, n, roots, witnessed, session)


def _known_sizes(roots: dict[int, bytes], witnessed: checkpoint.Checkpoint | None, found: Findings) -> set[int]:
    """The tree sizes whose root is known: the stored heads and the head the signer witnessed (newer than
    every stored head: the log was truncated)."""
    newest = max(roots, default=None)
    if witnessed is not None and witnessed.size > (newest or 0):
        found.add(f"the newest head the signer witnessed (size {witnessed.size}) is missing from the database: "
                  f"the log was truncated (its newest head has size {newest or 0})")
    if 0 in roots and roots[0] != merkle.EMPTY_ROOT:
        found.add("head 0: root does not match the empty log")
    return set(roots) | ({witnessed.size} if witnessed else set())


def _check_leaf(seq: int, kind: str, ref: int, stored: str, row: Any, found: Findings) -> None:
    """The row a leaf logs: still there, hashing to the leaf, and pointing back to it."""
    if row is None:
        found.add(f"leaf {seq} ({_what(kind, ref)}): the row is gone")
        return
    fields = (leaves.audit_fields(row.id, row.stream, row.seq, row.hash) if kind == "audit"
              else leaves.ledger_fields(row))
    if leaves.hash_of(fields).hex() != stored:
        found.add(f"leaf {seq} ({_what(kind, ref, row)}): the content differs from what the log holds")
    if row.log_seq != seq:
        found.add(f"leaf {seq} ({_what(kind, ref, row)}): the row points to leaf {row.log_seq}")


def _add_leaf(stack: list[tuple[int, bytes]], leaf: bytes, position: int, nodes: dict[tuple[int, int], str],
              found: Findings) -> None:
    """Push the leaf (`position` leaves now read) and merge equal subtrees, each against its stored node."""
    stack.append((0, leaf))
    while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
        (level, right), (_, left) = stack.pop(), stack.pop()
        level += 1
        node = merkle.node_hash(left, right)
        index = (position >> level) - 1
        have = nodes.get((level, index))
        if have != node.hex():
            first = index << level
            found.add(f"subtree ({level}, {index}) of leaves {first}–{first + (1 << level) - 1}: "
                      + ("missing" if have is None else "does not match its leaves"))
        stack.append((level, node))


def _compare_root(size: int, root: bytes, roots: dict[int, bytes], witnessed: checkpoint.Checkpoint | None,
                  found: Findings) -> None:
    if size in roots and roots[size] != root:
        found.add(f"head {size}: root does not match the log's first {size} leaves")
    if witnessed is not None and witnessed.size == size and witnessed.root != root:
        found.add(f"the log's first {size} leaves do not hash to the root the signer witnessed: "
                  "the log was rewritten")


def _result(found: Findings, n: int, roots: dict[int, bytes], witnessed: checkpoint.Checkpoint | None,
            session: Session) -> dict[str, Any]:
    newest = max(roots, default=None)
    for size in sorted(roots):
        if size > n:
            found.add(f"head {size}: the log has only {n} leaves")
            break
    if newest is not None and n > newest:
        found.add(f"leaves {newest}–{n - 1} are in no signed head")
    for kind, table in (("audit", AUDIT), ("ledger", LEDGER)):
        # rows claiming a leaf that is not theirs (a forged log_seq, or a leaf deleted under them)
        theirs = sa.select(LEAVES.c.seq).where(LEAVES.c.seq == table.c.log_seq, LEAVES.c.kind == kind,
                                               LEAVES.c.ref_id == table.c.id).exists()
        for ref, seq in session.execute(sa.select(table.c.id, table.c.log_seq).where(
                table.c.log_seq.is_not(None), ~theirs).order_by(table.c.log_seq).limit(MAX_PROBLEMS)):
            found.add(f"{_what(kind, ref)} claims leaf {seq}, which is not its leaf")
    pending = {name: session.execute(sa.select(sa.func.count()).select_from(table)
                                     .where(table.c.log_seq.is_(None))).scalar_one()
               for name, table in (("audit_events", AUDIT), ("ledger_entries", LEDGER))}
    return {"ok": not found.problems, "leaves": n, "heads": len(roots), "tree_size": newest,
            "witness": None if witnessed is None else {"tree_size": witnessed.size, "root_hash": witnessed.root.hex()},
            "first_problem": found.problems[0] if found.problems else None, "problems": found.problems,
            # not yet covered: rows committed since the last sequencing (at most one interval old)
            "pending": pending}


def verify(session: Session) -> dict[str, Any]:
    """The log checked with this process's keys and witness file."""
    return verify_log(session, keys.keyring(), keys.read_witness())


def with_log(chains: dict[str, Any], session: Session) -> dict[str, Any]:
    """The audit chains' verdict (services.engine.audit.verify) with the log's beside it: the chains catch
    an edited event; only the log catches a chain cut short, removed or rewritten whole."""
    checked = verify(session)
    return {**chains, "ok": chains["ok"] and checked["ok"], "chains_ok": chains["ok"], "log": checked}
