"""Web pages through the ASGI app: a signed-in browser is a TestClient holding the session cookie."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from services.api import create_app
from services.store.engine import Database

pytestmark = pytest.mark.e2e

PASSWORD = "demo-password"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


class Browser:
    """A TestClient that signs in through the login form, like a person would."""

    def __init__(self, app: object, address: str = "testclient", **kw: object) -> None:
        self.client = TestClient(app, follow_redirects=False, client=(address, 50000), **kw)

    def sign_in(self, username: str, password: str = PASSWORD, next_path: str = "") -> object:
        page = self.client.get("/login")
        return self.client.post("/login", data={"csrf": csrf_of(page.text), "username": username,
                                                "password": password, "next": next_path})

    def get(self, path: str, **kw: object):
        return self.client.get(path, **kw)

    def post_form(self, page_path: str, action: str, data: dict, **kw: object):
        """Post a form found on `page_path`, with that page's CSRF token."""
        token = csrf_of(self.client.get(page_path).text)
        return self.client.post(action, data={"csrf": token, **data}, **kw)


@pytest.fixture
def app(db: Database) -> object:
    return create_app(db)


@pytest.fixture
def browser(app: object) -> Browser:
    return Browser(app)


@pytest.fixture
def signed_in(app: object):
    """`signed_in("sh_case_officer")` → a Browser already signed in."""
    def make(username: str) -> Browser:
        b = Browser(app)
        r = b.sign_in(username)
        assert r.status_code == 303, r.text
        return b
    return make
