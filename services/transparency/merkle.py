"""Merkle tree math of RFC 9162 (Certificate Transparency 2.0) §2.1, with no I/O.

Hashes are bytes. A tree of n leaves is stored as its *complete aligned subtrees*: the subtree at
(level, index) covers leaves [index·2^level, (index+1)·2^level) and exists once all of them are in
the log. Every hash a proof needs is the hash of such a subtree or is folded from a few of them, so
the functions here take `get(level, index) -> hash` and ask for O(log n) of them; `wanted` runs a
computation with a recording getter to learn which, so storage can fetch them in one query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

Getter = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()  # §2.1.1: the hash of an empty list


def leaf_hash(data: bytes) -> bytes:
    """§2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """§2.1.1: SHA-256(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def subtree_hash(start: int, end: int, get: Getter) -> bytes:
    """MTH(D[start:end]) where `start` is a multiple of the largest power of two not above the
    range's size — true of every range RFC 9162's recursions visit: a complete aligned subtree is
    one lookup, any other range folds the aligned subtrees it splits into."""
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    if _is_pow2(size) and start % size == 0:
        level = size.bit_length() - 1
        return get(level, start >> level)
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, get), subtree_hash(start + k, end, get))


def root(size: int, get: Getter) -> bytes:
    return subtree_hash(0, size, get)


def inclusion_proof(index: int, size: int, get: Getter) -> list[bytes]:
    """§2.1.3.1 PATH(m, D[0:n]) for leaf `index` in a tree of `size` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")

    def path(m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, start, start + k), subtree_hash(start + k, end, get)]
        return [*path(m - k, start + k, end), subtree_hash(start, start + k, get)]

    return path(index, 0, size)


def consistency_proof(first: int, second: int, get: Getter) -> list[bytes]:
    """§2.1.4.1 PROOF(m, D[0:n]) that the tree of `first` leaves is a prefix of the tree of `second`."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")

    def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [subtree_hash(start, end, get)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, start, start + k, whole), subtree_hash(start + k, end, get)]
        return [*subproof(m - k, start + k, end, False), subtree_hash(start, start + k, get)]

    return subproof(first, 0, second, True)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Iterable[bytes], root_hash: bytes) -> bool:
    """§2.1.3.2: does `proof` show the leaf hash `leaf` at `index` in the tree of `size` with `root_hash`?"""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Iterable[bytes]) -> bool:
    """§2.1.4.2: does `proof` show the tree (`first`, `first_root`) is a prefix of (`second`, `second_root`)?"""
    path = list(proof)
    if first > second or first < 0:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path  # the empty tree is a prefix of every tree (no proof to check)
    if not path:
        return False
    if _is_pow2(first):
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def new_nodes(size: int, leaves: list[bytes], get: Getter) -> list[tuple[int, int, bytes]]:
    """The complete aligned subtrees (level ≥ 1) that appending `leaves` to a tree of `size` completes,
    as (level, index, hash). Left siblings older than this append come from `get`: they are the
    tree's right frontier (`frontier(size)`), so a caller prefetches exactly those."""
    made: dict[tuple[int, int], bytes] = {}

    def at(level: int, index: int) -> bytes:
        if level == 0 and index >= size:
            return leaves[index - size]
        return made.get((level, index)) or get(level, index)

    out = []
    for i in range(size, size + len(leaves)):
        level, index = 0, i
        while index & 1:  # a right child: its parent is complete now
            parent = node_hash(at(level, index - 1), at(level, index))
            level, index = level + 1, index >> 1
            made[(level, index)] = parent
            out.append((level, index, parent))
    return out


def frontier(size: int) -> list[tuple[int, int]]:
    """The complete aligned subtrees that make up a tree of `size` (its binary decomposition)."""
    out, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def wanted(compute: Callable[[Getter], object]) -> set[tuple[int, int]]:
    """The subtrees `compute(get)` asks for (it is run once with placeholder hashes)."""
    asked: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        asked.add((level, index))
        return EMPTY_ROOT

    compute(record)
    return asked


def all_levels(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete aligned subtree of a list of leaf hashes (level 0 included)."""
    out = {(0, i): h for i, h in enumerate(leaves)}
    level, row = 0, leaves
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
        out.update({(level, i): h for i, h in enumerate(row)})
    return out
