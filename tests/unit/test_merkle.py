"""RFC 9162 §2.1 Merkle math against a naive reference: every tree size 1..70, every inclusion and
consistency proof verifies, and tampered proofs, leaves, roots or sizes fail."""

from __future__ import annotations

import hashlib

import pytest

from services.transparency import merkle

N = 70


def reference_mth(data: list[bytes]) -> bytes:
    """§2.1.1 exactly as written: MTH({}) = SHA-256(), MTH({d}) = SHA-256(0x00 || d), else split at k."""
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(data[:k]) + reference_mth(data[k:])).digest()


DATA = [f"entry {i}".encode() for i in range(N)]
LEAVES = [merkle.leaf_hash(d) for d in DATA]
TREE = merkle.all_levels(LEAVES)  # every complete aligned subtree of the 70 leaves


def get(level: int, index: int) -> bytes:
    return TREE[(level, index)]


def roots() -> list[bytes]:
    return [reference_mth(DATA[:n]) for n in range(N + 1)]


ROOTS = roots()


def test_the_root_of_every_size_is_the_reference_mth() -> None:
    assert merkle.root(0, get) == ROOTS[0] == merkle.EMPTY_ROOT
    for n in range(1, N + 1):
        assert merkle.root(n, get) == ROOTS[n], n


def test_appending_builds_exactly_the_complete_subtrees() -> None:
    """Nodes made batch by batch from the frontier equal the whole tree's, for ragged batch sizes."""
    stored: dict[tuple[int, int], bytes] = {}
    size = 0
    for batch in (1, 2, 1, 5, 8, 3, 17, 1, 32):
        new = LEAVES[size:size + batch]
        frontier = {k: stored[k] for k in merkle.frontier(size)}
        for level, idx, h in merkle.new_nodes(size, new, lambda lv, ix, f=frontier: f[(lv, ix)]):
            stored[(level, idx)] = h
        stored.update({(0, size + i): h for i, h in enumerate(new)})
        size += batch
        assert merkle.root(size, lambda lv, ix: stored[(lv, ix)]) == ROOTS[size]
    assert stored == merkle.all_levels(LEAVES[:size])


def test_every_inclusion_proof_verifies_and_asks_for_few_subtrees() -> None:
    for n in range(1, N + 1):
        for m in range(n):
            proof = merkle.inclusion_proof(m, n, get)
            assert merkle.verify_inclusion(LEAVES[m], m, n, proof, ROOTS[n]), (m, n)
            assert len(merkle.wanted(lambda g, m=m, n=n: merkle.inclusion_proof(m, n, g))) <= 2 * n.bit_length()


def test_every_consistency_proof_verifies() -> None:
    for n in range(1, N + 1):
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, n, get)
            assert merkle.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof), (m, n)
            assert len(proof) <= 2 * n.bit_length()
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, ROOTS[5], [])


def flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def test_tampered_inclusion_proofs_fail() -> None:
    for n in range(2, N + 1):
        for m in range(n):
            proof = merkle.inclusion_proof(m, n, get)
            assert not merkle.verify_inclusion(flip(LEAVES[m]), m, n, proof, ROOTS[n])
            assert not merkle.verify_inclusion(LEAVES[m], m, n, proof, flip(ROOTS[n]))
            for i in range(len(proof)):
                bad = [*proof[:i], flip(proof[i]), *proof[i + 1:]]
                assert not merkle.verify_inclusion(LEAVES[m], m, n, bad, ROOTS[n]), (m, n, i)
            assert not merkle.verify_inclusion(LEAVES[m], m, n, proof[:-1], ROOTS[n])
            assert not merkle.verify_inclusion(LEAVES[m], m, n, [*proof, proof[-1]], ROOTS[n])
            other = (m + 1) % n
            assert LEAVES[other] == LEAVES[m] or not merkle.verify_inclusion(LEAVES[other], m, n, proof, ROOTS[n])
    assert not merkle.verify_inclusion(LEAVES[3], 3, 3, [], ROOTS[3])


def test_tampered_consistency_proofs_fail() -> None:
    for n in range(2, N + 1):
        for m in range(1, n):
            proof = merkle.consistency_proof(m, n, get)
            assert not merkle.verify_consistency(m, n, flip(ROOTS[m]), ROOTS[n], proof), (m, n)
            assert not merkle.verify_consistency(m, n, ROOTS[m], flip(ROOTS[n]), proof), (m, n)
            for i in range(len(proof)):
                bad = [*proof[:i], flip(proof[i]), *proof[i + 1:]]
                assert not merkle.verify_consistency(m, n, ROOTS[m], ROOTS[n], bad), (m, n, i)
            assert not merkle.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[:-1])
            assert not merkle.verify_consistency(m, n, ROOTS[m], ROOTS[n], [])
            # a tree that is not a prefix: the first m leaves of another history
            forked = reference_mth([b"forged", *DATA[1:m]])
            assert not merkle.verify_consistency(m, n, forked, ROOTS[n], proof)
    assert not merkle.verify_consistency(5, 4, ROOTS[5], ROOTS[4], [])
    assert not merkle.verify_consistency(4, 4, ROOTS[4], ROOTS[4], [LEAVES[0]])


def test_proofs_refuse_indexes_outside_the_tree() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(5, 5, get)
    with pytest.raises(ValueError):
        merkle.consistency_proof(6, 5, get)


def test_the_rfc_example_tree_of_seven_leaves() -> None:
    """RFC 9162 §2.1.5's worked example: the inclusion proof for d0 in the 7-leaf tree is [b, h, l]
    and the consistency proof from 3 to 7 is [c, d, g, l]."""
    a, b, c, d, e, f, j = LEAVES[:7]
    g, h, i = merkle.node_hash(a, b), merkle.node_hash(c, d), merkle.node_hash(e, f)
    k, l_ = merkle.node_hash(g, h), merkle.node_hash(i, j)
    assert merkle.inclusion_proof(0, 7, get) == [b, h, l_]
    assert merkle.consistency_proof(3, 7, get) == [c, d, g, l_]
    assert merkle.consistency_proof(4, 7, get) == [l_]
    assert merkle.consistency_proof(6, 7, get) == [i, j, k]
    assert merkle.root(7, get) == merkle.node_hash(k, l_)
