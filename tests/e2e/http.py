"""Small HTTP helpers the end-to-end tests share."""

from __future__ import annotations

from fastapi.testclient import TestClient


def h(user: str) -> dict[str, str]:
    """The demo bearer token of a user (`demo-<username>`)."""
    return {"Authorization": f"Bearer demo-{user}"}


def act(client: TestClient, user: str, cid: int, action: str, form: dict | None = None, expect: int = 200) -> dict:
    """Fire an action on a case as a user and expect a status."""
    r = client.post(f"/api/v1/cases/{cid}/actions/{action}", json=form or {}, headers=h(user))
    assert r.status_code == expect, r.text
    return r.json()
