"""Secrets a deployment may configure and a laptop need not: from the environment when set, else from a
key file under `var/` that the first process to need it creates (0600, random 32 bytes).

The file is written aside and linked into place, so that two workers starting together end up with
one secret, never a half-written one. Several machines behind a load balancer must share the
secret: set the variable there.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

VAR = Path("var")


def local_secret(variable: str, file_name: str) -> bytes:
    configured = os.environ.get(variable, "")
    if configured:
        return configured.encode()
    path = VAR / file_name
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{file_name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # fails when another process got there first: theirs is kept
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip().encode()
