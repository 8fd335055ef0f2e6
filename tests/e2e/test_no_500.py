"""Inputs that once made the API answer 500 (found by fuzzing): each is now a 4xx with reasons."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from services.api import create_app
from services.demo import Driver, application, commitments
from services.store.engine import Database

pytestmark = pytest.mark.e2e
HUGE = 2**63
ADMIN = {"Authorization": "Bearer demo-demo_admin"}


@pytest.fixture
def client(db: Database) -> TestClient:
    return TestClient(create_app(db), raise_server_exceptions=False)


def is_4xx_with_reasons(r) -> bool:
    return 400 <= r.status_code < 500 and all(x["zh"] and x["en"] for x in r.json()["error"]["reasons"])


@pytest.mark.parametrize("method,path,body", [
    ("get", f"/api/v1/cases/{HUGE}", None),
    ("get", f"/api/v1/cases/{2**31}", None),
    ("post", f"/api/v1/cases/{HUGE}/actions/submit", {}),
    ("get", f"/api/v1/public/projects/{HUGE}", None),
    ("get", f"/api/v1/public/methodologies/{HUGE}", None),
    ("post", f"/api/v1/public/consultations/{HUGE}/comments", {"text": "一条足够长的意见内容用于测试"}),
    ("get", f"/api/v1/public/issuances?vintage={HUGE}", None),
    ("get", f"/api/v1/cases?before={HUGE}", None),
    ("post", "/api/v1/jurisdictions/SH/transfers", {"from_account_id": HUGE, "to_account_id": 2, "amount_tco2e": 1,
                                                    "reference": "r"}),
    ("post", "/api/v1/cases", {"procedure": "retirement", "jurisdiction": "SH", "application": {
        "amount_tco2e": 1, "purpose": "voluntary", "purpose_detail": "x", "project_id": HUGE}}),
])
def test_huge_identifiers(client: TestClient, method: str, path: str, body: dict | None) -> None:
    headers = {"Authorization": "Bearer demo-sh_operator"} if "transfers" in path else ADMIN
    if "retirement" in str(body):
        headers = {"Authorization": "Bearer demo-sh_applicant"}
    r = getattr(client, method)(path, json=body, headers=headers) if body is not None else \
        getattr(client, method)(path, headers=headers)
    assert is_4xx_with_reasons(r), (r.status_code, r.text)


@pytest.mark.parametrize("query", [
    "add-working-days?start=2101-06-01&days=1", "add-working-days?start=1899-06-01&days=1",
    "add-working-days?start=9999-12-31&days=1", "add-working-days?start=2099-12-30&days=30",
    "working-days-between?start=1899-06-01&end=1899-06-02", "publicity?published=2101-01-01&days=1&jurisdiction=SH",
])
def test_calendar_edges(client: TestClient, query: str) -> None:
    r = client.get(f"/api/v1/calendar/{query}")
    assert is_4xx_with_reasons(r) and r.json()["error"]["reasons"][0]["code"] == "date_range"


def test_deep_json_odd_if_match_and_surrogates(client: TestClient, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    deep = "[" * 5000 + "]" * 5000
    r = client.post("/api/v1/public/reports", content=deep, headers={"Content-Type": "application/json"})
    assert is_4xx_with_reasons(r)
    for value in ("\xb2".encode("latin-1"), ("1" * 5000).encode()):
        r = client.post(f"/api/v1/cases/{cid}/actions/submit", json=commitments("SH"),
                        headers={"Authorization": "Bearer demo-sh_applicant", "If-Match": value})
        assert r.status_code == 409
    r = client.post("/api/v1/public/reports", content=b'{"jurisdiction":"\\ud800"}',
                    headers={"Content-Type": "application/json"})
    assert is_4xx_with_reasons(r)
    raw = b'{"jurisdiction":"SH","name":"n","url":"http://x","secret":"ssssssssssssssss","events":["\\ud800"]}'
    r = client.post("/api/v1/admin/webhooks", content=raw, headers={**ADMIN, "Content-Type": "application/json"})
    assert is_4xx_with_reasons(r)


def test_calendar_load_with_a_day_twice(client: TestClient) -> None:
    body = {"source": "x", "days": [{"date": "2027-01-01", "kind": "holiday", "jurisdiction": "SH"},
                                    {"date": "2027-01-01", "kind": "workday", "jurisdiction": "SH"},
                                    {"date": "2027-01-02", "kind": "holiday"},
                                    {"date": "2027-01-02", "kind": "holiday"}]}
    r = client.put("/api/v1/admin/calendar/years/2027/jurisdictions/SH", json=body, headers=ADMIN)
    assert is_4xx_with_reasons(r) and [x["code"] for x in r.json()["error"]["reasons"]] == ["calendar_duplicate"] * 2


@pytest.mark.parametrize("raw", ["2026-01-01|1", "9999-12-31T23:59:59-12:00|1", "0001-01-01T00:00:00+14:00|1",
                                 "2026-01-01T00:00:00+00:00|99999999999999999999"])
def test_odd_cursors(client: TestClient, raw: str) -> None:
    cursor = base64.urlsafe_b64encode(raw.encode()).decode()
    r = client.get("/api/v1/tasks", params={"view": "team", "cursor": cursor},
                   headers={"Authorization": "Bearer demo-sh_case_officer"})
    assert is_4xx_with_reasons(r) and r.json()["error"]["reasons"][0]["code"] == "bad_cursor"


def test_anonymous_idempotency_keys_are_per_caller(db: Database) -> None:
    from services.engine.actors import public_actor

    assert public_actor("10.0.0.1").key != public_actor("10.0.0.2").key
