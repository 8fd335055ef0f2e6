"""The log's keys and its witness file, from the environment: what the database never holds.

- `LOG_SIGNING_KEY` (PEM text) or `LOG_SIGNING_KEY_FILE` (default `var/log-signing-key.pem`): the
  Ed25519 private key (PKCS#8 PEM) that signs heads. Only the process that sequences holds it.
- `LOG_TRUSTED_KEYS_FILE` (default `log-trusted-keys.txt` beside the key file): verifier keys, one
  "vkey" a line (`name+id+key`), of keys rotated out — heads they signed still verify — and, on
  processes without the private key, the current one.
- `LOG_WITNESS_FILE` (default `log-witness.txt` beside the key file): the newest checkpoint the
  signer signed; verification compares the database with it, so a truncated log is caught.
- `LOG_ORIGIN` (default `carbon-inclusion.local/log`): the log's name, also the key's name.

The same key signs what the system sends out for anyone to check with its published public key
(`GET /api/v1/public/log/key`): the on-call webhook's body (`sign_detached`).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.transparency.checkpoint import key_id, parse_vkey, vkey

DEFAULT_ORIGIN = "carbon-inclusion.local/log"
DEFAULT_KEY_FILE = "var/log-signing-key.pem"


def origin() -> str:
    return os.environ.get("LOG_ORIGIN") or DEFAULT_ORIGIN


def key_file() -> Path:
    return Path(os.environ.get("LOG_SIGNING_KEY_FILE") or DEFAULT_KEY_FILE)


def witness_file() -> Path:
    return Path(os.environ.get("LOG_WITNESS_FILE") or key_file().with_name("log-witness.txt"))


def trusted_keys_file() -> Path:
    return Path(os.environ.get("LOG_TRUSTED_KEYS_FILE") or key_file().with_name("log-trusted-keys.txt"))


@dataclass
class Keyring:
    name: str
    signer: Ed25519PrivateKey | None
    verifiers: dict[bytes, tuple[str, Ed25519PublicKey]] = field(default_factory=dict)

    @property
    def current(self) -> tuple[bytes, str, Ed25519PublicKey] | None:
        """The signing key's public half (else the last trusted key): what the public page shows."""
        if self.signer is not None:
            public = self.signer.public_key()
            return key_id(self.name, public), self.name, public
        if self.verifiers:
            kid, (name, public) = list(self.verifiers.items())[-1]
            return kid, name, public
        return None


def _load_private(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the log's signing key must be an Ed25519 key")
    return key


def keyring() -> Keyring:
    """Read now from the environment and files (cheap: a few hundred bytes), so a rotation or a
    test's temporary key takes effect without a restart."""
    pem = os.environ.get("LOG_SIGNING_KEY")
    path = key_file()
    signer = _load_private(pem.encode()) if pem else (_load_private(path.read_bytes()) if path.exists() else None)
    ring = Keyring(name=origin(), signer=signer)
    trusted = trusted_keys_file()
    if trusted.exists():
        for line in trusted.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                kid, name, public = parse_vkey(line)
                ring.verifiers[kid] = (name, public)
    if signer is not None:
        ring.verifiers[key_id(ring.name, signer.public_key())] = (ring.name, signer.public_key())
    return ring


def sign_detached(body: bytes, ring: Keyring | None = None) -> str | None:
    """`keyid=<key id, hex>,sig=<Ed25519 signature of the exact body, base64>` (the header
    `X-Carbon-Signature-Ed25519`), or None when this process holds no signing key."""
    ring = ring or keyring()
    if ring.signer is None:
        return None
    kid = key_id(ring.name, ring.signer.public_key())
    return f"keyid={kid.hex()},sig={base64.b64encode(ring.signer.sign(body)).decode()}"


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, even briefly
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def keygen(rotate: bool = False) -> tuple[bool, str]:
    """Create the signing key file if it is missing (mode 0600); with `rotate`, keep the old key's
    verifier key in the trusted keys file (its heads still verify) and create a new one.
    Returns (created, the current verifier key)."""
    if os.environ.get("LOG_SIGNING_KEY"):
        raise SystemExit("LOG_SIGNING_KEY is set: the key comes from the environment, not a file")
    path, name = key_file(), origin()
    created = False
    if path.exists() and rotate:
        old = _load_private(path.read_bytes())
        with trusted_keys_file().open("a", encoding="utf-8") as f:
            f.write(vkey(name, old.public_key()) + "\n")
        path.unlink()  # a retired private key is only a liability: its heads verify with the public half
    if not path.exists():
        _write_private(path, Ed25519PrivateKey.generate())
        created = True
    return created, vkey(name, _load_private(path.read_bytes()).public_key())


def export_verifiers(path: Path) -> int:
    """Write the verifier keys a process without the private key trusts (`LOG_TRUSTED_KEYS_FILE` of the API
    processes in the scaled-out mode): the keys rotated out, then the current one, last (what `current`
    shows). Written whole and renamed into place, so a reader never sees half a file. Returns the count."""
    ring = keyring()
    if ring.signer is None:
        raise SystemExit(f"no signing key at {key_file()}: run keygen first")
    kid = key_id(ring.name, ring.signer.public_key())
    lines = [vkey(n, p) for k, (n, p) in ring.verifiers.items() if k != kid]
    lines.append(vkey(ring.name, ring.signer.public_key()))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    partial.replace(path)
    return len(lines)


def read_witness() -> str | None:
    path = witness_file()
    return path.read_text(encoding="utf-8") if path.exists() else None


def write_witness(text: str) -> None:
    """Replace atomically: a crash leaves the old checkpoint or the new one, never half of one."""
    path = witness_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
