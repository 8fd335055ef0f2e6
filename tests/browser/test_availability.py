"""Without a browser the suite says why: a newcomer's laptop skips, CI fails (never a silent skip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import conftest


def test_a_missing_browser_skips_with_the_reason_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr(conftest, "_apt_prefix", lambda: None)  # not root, no password-less sudo
    reason = conftest._install_chromium()
    assert "cannot install it here" in reason
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="need Debian's chromium"):
        conftest._unavailable(reason)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI"):
        conftest._unavailable(reason)
