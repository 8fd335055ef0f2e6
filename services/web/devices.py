"""Device cookies: a browser that has signed in as an account before is recognised when it signs in
as that account again (OWASP, "Slow down online guessing attacks with device cookies").

The cookie is `<user name, base64url>.<random nonce>.<HMAC-SHA256 of both>`, the key from
`DEVICE_COOKIE_SECRET` or `var/device-cookie.key`. It proves only that this browser once knew the
password; it signs nobody in. `services.web.sessions` uses it to keep a guesser elsewhere from
locking the account's owner out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import cache

from services.engine.local_secret import local_secret

COOKIE = "carbon_device"
LIFETIME = timedelta(days=180)


@cache
def _key() -> bytes:
    return local_secret("DEVICE_COOKIE_SECRET", "device-cookie.key")


def _mac(username: str, nonce: str) -> str:
    return hmac.new(_key(), f"device\x00{username}\x00{nonce}".encode(), hashlib.sha256).hexdigest()


def issue(username: str) -> str:
    name = base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")
    nonce = secrets.token_urlsafe(18)
    return f"{name}.{nonce}.{_mac(username, nonce)}"


def device_of(cookie: str | None, username: str) -> str | None:
    """The device's nonce when the cookie is genuine and was issued for `username`; else None."""
    if not cookie or cookie.count(".") != 2:
        return None
    name, nonce, mac = cookie.split(".")
    try:
        issued_for = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if issued_for != username or not nonce or not hmac.compare_digest(mac.encode(), _mac(issued_for, nonce).encode()):
        return None
    return nonce
