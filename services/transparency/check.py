"""Check the registry's transparency log from outside, with nothing but Python and `cryptography`.

This file imports nothing of the application on purpose: copy it anywhere. It verifies

- a checkpoint's Ed25519 signature (C2SP signed note) with the log's public key (PEM, or the
  `name+id+key` verifier key from GET /api/v1/public/log/key);
- an inclusion proof (RFC 9162 §2.1.3.2) of a leaf in that checkpoint's tree — given by hand, or
  read from a retirement certificate's JSON (GET /api/v1/public/certificates/{number});
- a consistency proof (RFC 9162 §2.1.4.2) from an older checkpoint you kept to this one
  (GET /api/v1/public/log/consistency?first=<old size>&second=<size>).

    python -m services.transparency.check --checkpoint cp.txt --key key.pem \\
        [--certificate cert.json] [--leaf-hash HEX --index N --proof HEX,HEX,…] \\
        [--old old-cp.txt --consistency HEX,HEX,…]

Prints what it checked and exits 0, or says what failed and exits 1.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def load_key(text: str) -> tuple[str | None, Ed25519PublicKey]:
    """(key name or None, key) from a PEM public key or a signed-note verifier key."""
    if "BEGIN PUBLIC KEY" in text:
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 key")
        return None, key
    name, _, blob = text.strip().split("+", 2)
    raw = base64.b64decode(blob)
    if raw[:1] != b"\x01" or len(raw) != 33:
        raise ValueError("not an Ed25519 verifier key")
    return name, Ed25519PublicKey.from_public_bytes(raw[1:])


def check_checkpoint(text: str, name: str | None, key: Ed25519PublicKey) -> tuple[str, int, bytes]:
    """(origin, tree size, root) if a signature line by this key verifies over the body."""
    body, sep, signatures = text.replace("\r\n", "\n").partition("\n\n")
    if not sep:
        raise ValueError("not a signed note: no blank line before the signatures")
    body += "\n"
    origin, size, root = body.split("\n")[:3]
    name = name or origin  # the log signs with its origin as the key name
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]
    for line in signatures.strip("\n").split("\n"):
        dash, signer, blob = line.split(" ")
        sig = base64.b64decode(blob)
        if dash == "\u2014" and signer == name and sig[:4] == key_id:
            try:
                key.verify(sig[4:], body.encode())
            except InvalidSignature:
                break
            return origin, int(size), base64.b64decode(root)
    raise ValueError("no valid signature by this key: the checkpoint is forged, altered, or of another key")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2 (first == second: equal roots and no proof)."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def _hashes(text: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in text.replace(",", " ").split()]


def _entry(args: argparse.Namespace, cert: dict[str, Any]) -> tuple[bytes, int, list[bytes]]:
    """The leaf to prove, its index and its inclusion proof: from the options, else from the certificate."""
    index = args.index if args.index is not None else cert.get("leaf_index")
    if index is None:
        raise ValueError("give --index with --leaf-hash")
    if args.leaf_hash:
        return bytes.fromhex(args.leaf_hash), index, _hashes(args.proof)
    return bytes.fromhex(cert["leaf_hash"]), index, [bytes.fromhex(h) for h in cert["inclusion_proof"]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.transparency.check", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="the checkpoint (signed head) to check")
    p.add_argument("--key", type=Path, required=True, help="the log's public key: PEM, or its verifier key line")
    p.add_argument("--certificate", type=Path, help="a certificate's JSON: checks its entry's inclusion proof")
    p.add_argument("--leaf-hash", help="hex leaf hash (or use --certificate)")
    p.add_argument("--index", type=int, help="the leaf's index")
    p.add_argument("--proof", default="", help="inclusion proof: hex hashes, comma or space separated")
    p.add_argument("--old", type=Path, help="an older checkpoint of the same log you kept")
    p.add_argument("--consistency", default="", help="consistency proof from --old to --checkpoint: hex hashes")
    args = p.parse_args(argv)
    try:
        name, key = load_key(args.key.read_text(encoding="utf-8"))
        cert = json.loads(args.certificate.read_text(encoding="utf-8"))["log"] if args.certificate else None
        if args.certificate and cert is None:
            raise ValueError("the certificate's entry is not in the log yet (its `log` is null): fetch it again later")
        text = args.checkpoint.read_text(encoding="utf-8") if args.checkpoint else (cert or {}).get("checkpoint")
        if not text:
            raise ValueError("give --checkpoint (or --certificate, which carries one)")
        origin, size, root = check_checkpoint(text, name, key)
        print(f"OK   checkpoint of {origin}: tree size {size}, root {root.hex()}, signature valid")
        if cert is not None or args.leaf_hash:
            leaf, index, proof = _entry(args, cert or {})
            if not verify_inclusion(leaf, index, size, proof, root):
                raise ValueError(f"leaf {index} ({leaf.hex()}) is NOT in the tree of {size} with that root")
            print(f"OK   leaf {index} ({leaf.hex()}) is in the tree of {size}")
        if args.old:
            old_origin, old_size, old_root = check_checkpoint(args.old.read_text(encoding="utf-8"), name, key)
            proof = _hashes(args.consistency)
            if old_origin != origin or not verify_consistency(old_size, size, old_root, root, proof):
                raise ValueError(f"the tree of {size} does NOT extend your checkpoint of {old_size}: "
                                 "the log was rewritten or forked")
            print(f"OK   the tree of {size} extends your checkpoint of {old_size}")
    except (ValueError, KeyError, OSError) as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
