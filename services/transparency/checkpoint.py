"""Signed tree heads as C2SP checkpoints in signed notes (https://c2sp.org/tlog-checkpoint,
https://c2sp.org/signed-note), Ed25519, with no I/O.

A checkpoint's body is three lines — the log's origin, the tree size, the root hash in base64 —
and the signature lines follow a blank line: `— <key name> <base64(key id || signature)>`, where the
key id is the first 4 bytes of SHA-256(key name || "\\n" || 0x01 || public key). The signature covers
the body's bytes exactly. The same text is what `sigsum`, Go's `golang.org/x/mod/sumdb/note` and
other tlog tools read; the public key is published in their "vkey" form too
(`<name>+<hex key id>+<base64(0x01 || public key)>`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"
DASH = "\u2014"  # the signature line's em dash
NAME = re.compile(r"^[^\s+]+$")  # a key name has no spaces and no '+'


class BadCheckpoint(ValueError):
    """The text is not a checkpoint (`malformed`), is another log's (`other_log`), carries no
    signature by a key we hold (`unknown_key`) or one that does not verify (`bad_signature`)."""

    def __init__(self, message: str, code: str = "malformed") -> None:
        super().__init__(message)
        self.code = code


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + raw_public(key)).digest()[:4]


def vkey(name: str, key: Ed25519PublicKey) -> str:
    """The verifier key as signed-note tools take it."""
    return f"{name}+{key_id(name, key).hex()}+{base64.b64encode(ED25519 + raw_public(key)).decode()}"


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def parse_vkey(line: str) -> tuple[bytes, str, Ed25519PublicKey]:
    """`name+hex key id+base64(0x01 || key)`: the key, checked against its id."""
    name, kid_hex, blob = line.strip().split("+", 2)  # base64 may hold "+" too
    raw = base64.b64decode(blob, validate=True)
    if raw[:1] != ED25519 or len(raw) != 33:
        raise ValueError(f"not an Ed25519 verifier key: {line.strip()[:60]}")
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_id(name, public).hex() != kid_hex:
        raise ValueError(f"the key id does not match the key: {line.strip()[:60]}")
    return bytes.fromhex(kid_hex), name, public


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class Signed:
    """A checkpoint with the text it was read from and the id of the key whose signature verified."""
    checkpoint: Checkpoint
    text: str
    key_id: bytes
    key_name: str


def sign(checkpoint: Checkpoint, name: str, key: Ed25519PrivateKey) -> str:
    if not NAME.match(name):
        raise ValueError(f"a key name has no spaces or '+': {name!r}")
    body = checkpoint.body()
    signature = key.sign(body.encode())
    kid = key_id(name, key.public_key())
    return f"{body}\n{DASH} {name} {base64.b64encode(kid + signature).decode()}\n"


def parse_note(text: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """A signed note's body (with its final newline) and its signatures [(key name, key id, signature)]."""
    text = text.replace("\r\n", "\n")
    body, sep, rest = text.partition("\n\n")
    if not sep:
        raise BadCheckpoint("no blank line between the body and the signatures")
    signatures = []
    for line in rest.rstrip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise BadCheckpoint(f"not a signature line: {line[:80]!r}")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError as exc:
            raise BadCheckpoint("a signature is not base64") from exc
        if len(blob) != 4 + 64:
            raise BadCheckpoint("an Ed25519 signature line carries 4 + 64 bytes")
        signatures.append((parts[1], blob[:4], blob[4:]))
    if not signatures:
        raise BadCheckpoint("the note carries no signature")
    return body + "\n", signatures


def parse(text: str) -> tuple[Checkpoint, str, list[tuple[str, bytes, bytes]]]:
    """(checkpoint, signed body, signatures); raises BadCheckpoint."""
    body, signatures = parse_note(text)
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise BadCheckpoint("the body needs an origin, a tree size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not origin or not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text):
        raise BadCheckpoint("the origin is empty or the tree size is not a number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError as exc:
        raise BadCheckpoint("the root hash is not base64") from exc
    if len(root) != 32:
        raise BadCheckpoint("the root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root), body, signatures


def verify_note(body: str, signatures: list[tuple[str, bytes, bytes]],
                keys: dict[bytes, tuple[str, Ed25519PublicKey]]) -> tuple[bytes, str]:
    """(key id, key name) of the first signature by one of `keys` that verifies over `body`."""
    known = [(name, kid, sig) for name, kid, sig in signatures if kid in keys and keys[kid][0] == name]
    if not known:
        raise BadCheckpoint("no signature by a key of this log", "unknown_key")
    for name, kid, sig in known:
        try:
            keys[kid][1].verify(sig, body.encode())
        except InvalidSignature:
            continue
        return kid, name
    raise BadCheckpoint("the signature does not verify: the checkpoint was altered or forged", "bad_signature")


def verify(text: str, keys: dict[bytes, tuple[str, Ed25519PublicKey]], origin: str | None = None) -> Signed:
    """The checkpoint, if a signature by one of `keys` (key id -> (name, key)) verifies and (when
    given) its origin is ours; raises BadCheckpoint saying why not."""
    checkpoint, body, signatures = parse(text)
    if origin is not None and checkpoint.origin != origin:
        raise BadCheckpoint(f"the checkpoint is of another log ({checkpoint.origin!r}, ours is {origin!r})",
                            "other_log")
    kid, name = verify_note(body, signatures, keys)
    return Signed(checkpoint, text, kid, name)
