"""Sign-in throttling: per address, per account from unknown browsers, per known device; a guesser
elsewhere never locks the owner out of a browser they signed in with before."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

from services.engine import local_secret
from services.engine.clock import clock
from services.store.engine import Database
from services.store.tables import AuditEvent
from services.web import devices, sessions
from tests.web.conftest import Browser


def _events(db: Database, event: str) -> int:
    with db.read() as s:
        return s.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == event)).one()


def _known_browser(app: object, address: str, username: str = "sh_case_officer") -> Browser:
    """A browser that signed in as `username` before (so it holds a device cookie) and signed out."""
    b = Browser(app, address)
    assert b.sign_in(username).status_code == 303
    assert b.post_form("/work" if username != "sh_applicant" else "/applicant", "/logout", {}).status_code == 303
    return b


def test_guessing_from_an_unknown_browser_stops_after_five_and_is_not_processed(
        app: object, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = sessions.check_password
    monkeypatch.setattr(sessions, "check_password", lambda digest, password: checked.append(password) or
                        real(digest, password))
    guesser = Browser(app, "203.0.113.9")
    codes = [guesser.sign_in("sh_case_officer", f"guess-{i}").status_code for i in range(30)]
    assert codes == [422] * 5 + [429] * 25
    assert len(checked) == 5  # no argon2 for a refused attempt
    assert _events(db, "sign_in_failed") == 5 and _events(db, "sign_in_throttled") == 1
    r = guesser.sign_in("sh_case_officer")  # even the right password: unknown browsers wait for this account
    assert r.status_code == 429 and "登录失败次数过多，请15分钟后再试" in r.text
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60 + 1 and "carbon_session" not in r.headers.get("set-cookie", "")
    guesser.get("/lang/en?back=/login")
    assert "Too many failed sign-ins: try again in 15 minutes" in guesser.sign_in("sh_case_officer").text
    assert len(checked) == 5 and _events(db, "sign_in_throttled") == 1


def test_the_owner_in_a_browser_they_used_before_is_not_locked_out(app: object, db: Database) -> None:
    owner = _known_browser(app, "198.51.100.20")
    guesser = Browser(app, "203.0.113.9")
    for i in range(10):
        guesser.sign_in("sh_case_officer", f"guess-{i}")
    assert guesser.sign_in("sh_case_officer").status_code == 429
    assert Browser(app, "198.51.100.21").sign_in("sh_case_officer").status_code == 429  # any unknown browser
    assert owner.sign_in("sh_case_officer").status_code == 303


def test_a_known_browser_that_guesses_waits_alone_and_a_success_forgets_its_failures(app: object) -> None:
    owner = _known_browser(app, "198.51.100.20")
    for _ in range(9):
        assert owner.sign_in("sh_case_officer", "typo").status_code == 422
    assert owner.sign_in("sh_case_officer").status_code == 303  # the 10th attempt right: failures forgotten
    owner.post_form("/work", "/logout", {})
    codes = [owner.sign_in("sh_case_officer", "typo").status_code for _ in range(11)]
    assert codes == [422] * 10 + [429]
    assert owner.sign_in("sh_case_officer").status_code == 429  # this device waits…
    assert Browser(app, "198.51.100.20").sign_in("sh_case_officer").status_code == 303  # …not the account


def test_an_address_waits_after_twenty_failures_over_any_accounts(app: object) -> None:
    guesser = Browser(app, "203.0.113.50")
    for name in ("sh_case_officer", "sh_approver", "sh_operator", "sh_review_centre", "sh_expert1"):
        assert [guesser.sign_in(name, "guess").status_code for _ in range(4)] == [422] * 4
    assert guesser.sign_in("bj_case_officer", "guess").status_code == 429
    assert guesser.sign_in("bj_case_officer").status_code == 429
    assert Browser(app, "203.0.113.51").sign_in("bj_case_officer").status_code == 303  # another address may


def test_a_forged_or_borrowed_device_cookie_is_an_unknown_browser(app: object) -> None:
    owner = _known_browser(app, "198.51.100.20")
    genuine = owner.client.cookies.get(devices.COOKIE)
    name, nonce, mac = genuine.split(".")
    guesser = Browser(app, "203.0.113.9")
    for i in range(5):
        guesser.sign_in("sh_case_officer", f"guess-{i}")
    forged = Browser(app, "203.0.113.10")
    forged.client.cookies.set(devices.COOKIE, f"{name}.{nonce}.{'0' * len(mac)}", path="/login")
    assert forged.sign_in("sh_case_officer").status_code == 429
    other = _known_browser(app, "203.0.113.11", "sh_applicant")  # known, but for another account
    assert other.sign_in("sh_case_officer").status_code == 429
    assert devices.device_of(genuine, "sh_case_officer") == nonce
    assert devices.device_of(genuine, "sh_approver") is None
    assert devices.device_of("x.y", "sh_case_officer") is None and devices.device_of("é.é.é", "é") is None


def test_the_block_ends_with_its_window(app: object) -> None:
    guesser = Browser(app, "203.0.113.9")
    for i in range(5):
        guesser.sign_in("sh_case_officer", f"guess-{i}")
    assert guesser.sign_in("sh_case_officer").status_code == 429
    clock.advance(timedelta(minutes=15, seconds=1))
    assert guesser.sign_in("sh_case_officer").status_code == 303


def test_the_device_cookie_goes_only_to_sign_in_and_lasts(browser: Browser) -> None:
    r = browser.sign_in("sh_case_officer")
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(f"{devices.COOKIE}="))
    assert "Path=/login" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert f"Max-Age={180 * 86400}" in cookie


def test_the_device_key_is_made_once_and_kept_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_secret, "VAR", tmp_path / "var")
    monkeypatch.delenv("DEVICE_COOKIE_SECRET", raising=False)
    first = local_secret.local_secret("DEVICE_COOKIE_SECRET", "device-cookie.key")
    assert len(first) == 64 and first == local_secret.local_secret("DEVICE_COOKIE_SECRET", "device-cookie.key")
    assert stat.S_IMODE(os.stat(tmp_path / "var" / "device-cookie.key").st_mode) == 0o600
    assert os.listdir(tmp_path / "var") == ["device-cookie.key"]
    monkeypatch.setenv("DEVICE_COOKIE_SECRET", "configured")
    assert local_secret.local_secret("DEVICE_COOKIE_SECRET", "device-cookie.key") == b"configured"
