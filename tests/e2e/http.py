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


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def attach_required(client: TestClient, user: str, cid: int) -> list[str]:
    """Upload one small PDF for each document type the case's submission requires (profile
    `[documents]`: Beijing 编制说明 4(二), Jiaxing arts. 9, 14, 16); returns the types uploaded."""
    from states.profiles import get_profile

    case = client.get(f"/api/v1/cases/{cid}", headers=h(user)).json()
    profile = get_profile(case["jurisdiction"])
    kinds = list(profile.documents.required_for(case["procedure"]["name"])) if profile else []
    for kind in kinds:
        r = client.post(f"/api/v1/cases/{cid}/documents", headers=h(user), data={"kind": kind},
                        files={"file": (f"{kind}.pdf", PDF, "application/pdf")})
        assert r.status_code == 201, r.text
    return kinds
