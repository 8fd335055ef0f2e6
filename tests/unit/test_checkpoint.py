"""Signed heads as C2SP checkpoints: the note format and key ids other tlog tools read (checked against
the example of Go's golang.org/x/mod/sumdb/note), Ed25519 signing and every way a note is refused;
and the stand-alone checker (services/transparency/check.py) on signatures and RFC 9162 proofs."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.transparency import check, checkpoint, merkle

ORIGIN = "carbon-inclusion.local/log"
KEY = Ed25519PrivateKey.generate()
RING = {checkpoint.key_id(ORIGIN, KEY.public_key()): (ORIGIN, KEY.public_key())}

# golang.org/x/mod/sumdb/note's documented example: a verifier key and a note it signed
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n"
           "\n"
           "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
           "dngotpRZb6KE6RyyBwJnAM=\n")


def test_key_ids_and_signatures_agree_with_gos_note_package() -> None:
    kid, name, public = checkpoint.parse_vkey(GO_VKEY)
    assert (kid.hex(), name) == ("c74f20a3", "PeterNeumann")
    assert checkpoint.vkey(name, public) == GO_VKEY
    body, signatures = checkpoint.parse_note(GO_NOTE)
    assert checkpoint.verify_note(body, signatures, {kid: (name, public)}) == (kid, name)
    with pytest.raises(checkpoint.BadCheckpoint) as refused:
        checkpoint.verify_note(body.replace("answer", "question"), signatures, {kid: (name, public)})
    assert refused.value.code == "bad_signature"


def test_a_checkpoint_is_three_lines_a_blank_line_and_the_signature() -> None:
    root = hashlib.sha256(b"root").digest()
    text = checkpoint.sign(checkpoint.Checkpoint(ORIGIN, 12, root), ORIGIN, KEY)
    body, _, sig_line = text.partition("\n\n")
    assert body.split("\n") == [ORIGIN, "12", base64.b64encode(root).decode()]
    dash, name, blob = sig_line.rstrip("\n").split(" ")
    raw = base64.b64decode(blob)
    public = KEY.public_key().public_bytes_raw()
    assert (dash, name) == ("\u2014", ORIGIN)
    assert raw[:4] == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    KEY.public_key().verify(raw[4:], (body + "\n").encode())
    signed = checkpoint.verify(text, RING, ORIGIN)
    assert signed.checkpoint == checkpoint.Checkpoint(ORIGIN, 12, root) and signed.key_name == ORIGIN


def _code(text: str, ring: dict = RING) -> str:
    with pytest.raises(checkpoint.BadCheckpoint) as refused:
        checkpoint.verify(text, ring, ORIGIN)
    return refused.value.code


def test_altered_forged_foreign_and_malformed_checkpoints_are_refused() -> None:
    root = hashlib.sha256(b"root").digest()
    good = checkpoint.sign(checkpoint.Checkpoint(ORIGIN, 12, root), ORIGIN, KEY)
    assert _code(good.replace("\n12\n", "\n13\n")) == "bad_signature"
    assert _code(checkpoint.sign(checkpoint.Checkpoint(ORIGIN, 12, root), ORIGIN,
                                 Ed25519PrivateKey.generate())) == "unknown_key"
    assert _code(checkpoint.sign(checkpoint.Checkpoint("other.example/log", 12, root), "other.example/log",
                                 KEY)) == "other_log"
    for bad in ("", "just text", good.replace("\n\n", "\n"), good.split("\n\n")[0] + "\n\n",
                good.replace("\u2014", "-"), f"{ORIGIN}\nabc\n{base64.b64encode(root).decode()}\n\n"
                + good.split("\n\n")[1], f"{ORIGIN}\n12\nshort==\n\n" + good.split("\n\n")[1]):
        assert _code(bad) == "malformed", bad
    assert checkpoint.verify(good.replace("\n", "\r\n"), RING, ORIGIN).checkpoint.size == 12


# --- the stand-alone checker ----------------------------------------------------------------------


LEAVES = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(13)]
TREE = merkle.all_levels(LEAVES)


def get(level: int, index: int) -> bytes:
    return TREE[(level, index)]


def files(tmp_path: Path, size: int, key: Ed25519PrivateKey = KEY, name: str = "cp.txt") -> Path:
    path = tmp_path / name
    path.write_text(checkpoint.sign(checkpoint.Checkpoint(ORIGIN, size, merkle.root(size, get)), ORIGIN, key))
    return path


def test_the_checker_verifies_signatures_and_proofs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(checkpoint.public_pem(KEY.public_key()))
    vkey = tmp_path / "key.txt"
    vkey.write_text(checkpoint.vkey(ORIGIN, KEY.public_key()))
    new, old = files(tmp_path, 13), files(tmp_path, 6, name="old.txt")
    proof = ",".join(h.hex() for h in merkle.inclusion_proof(9, 13, get))
    consistency = " ".join(h.hex() for h in merkle.consistency_proof(6, 13, get))
    for key in (pem, vkey):
        assert check.main(["--checkpoint", str(new), "--key", str(key), "--leaf-hash", LEAVES[9].hex(),
                           "--index", "9", "--proof", proof, "--old", str(old), "--consistency", consistency]) == 0
    out = capsys.readouterr().out
    assert "leaf 9" in out and "extends your checkpoint of 6" in out
    # the checker's own RFC 9162 algorithms agree with the log's on every proof of a 13-leaf tree
    for n in range(1, 14):
        for m in range(n):
            assert check.verify_inclusion(LEAVES[m], m, n, merkle.inclusion_proof(m, n, get), merkle.root(n, get))
        for m in range(1, n + 1):
            assert check.verify_consistency(m, n, merkle.root(m, get), merkle.root(n, get),
                                            merkle.consistency_proof(m, n, get))


def test_the_checker_refuses_forged_heads_wrong_leaves_and_forks(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(checkpoint.public_pem(KEY.public_key()))
    new = files(tmp_path, 13)
    forged = files(tmp_path, 13, key=Ed25519PrivateKey.generate(), name="forged.txt")
    assert check.main(["--checkpoint", str(forged), "--key", str(pem)]) == 1
    assert "no valid signature" in capsys.readouterr().err
    proof = ",".join(h.hex() for h in merkle.inclusion_proof(9, 13, get))
    assert check.main(["--checkpoint", str(new), "--key", str(pem), "--leaf-hash", LEAVES[8].hex(),
                       "--index", "9", "--proof", proof]) == 1
    assert "NOT in the tree" in capsys.readouterr().err
    fork = tmp_path / "fork.txt"
    other = merkle.all_levels([merkle.leaf_hash(b"forged"), *LEAVES[1:6]])
    fork.write_text(checkpoint.sign(checkpoint.Checkpoint(ORIGIN, 6, merkle.root(6, lambda lv, ix: other[(lv, ix)])),
                                    ORIGIN, KEY))
    consistency = ",".join(h.hex() for h in merkle.consistency_proof(6, 13, get))
    assert check.main(["--checkpoint", str(new), "--key", str(pem), "--old", str(fork),
                       "--consistency", consistency]) == 1
    assert "does NOT extend" in capsys.readouterr().err
