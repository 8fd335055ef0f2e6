"""The API docs render in a real browser under their Content-Security-Policy (no inline script)."""

from __future__ import annotations

from tests.browser.conftest import Visitor


def test_the_api_docs_render_with_no_policy_violation(visitor: Visitor) -> None:
    page = visitor.page
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    response = visitor.page.goto("/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for()
    visitor.shot("docs")
    assert page.locator(".opblock").count() > 20
    assert not [text for text in console if "Content Security Policy" in text or "Refused" in text]
