"""Every mutating route is safe to retry (trust issue): a request sent again with the same
`Idempotency-Key` gets the first reply and acts once; a transfer's exchange reference names it even
without a key; a retried claim by the holder is not a new event."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from forms.common import uscc_check_char
from services.accounts.identity import create_user
from services.demo import Driver, application, drive_to
from services.procedures.ledger import account_for
from services.store.engine import Database
from services.store.tables import (
    AuditEvent,
    Case,
    Document,
    Evaluation,
    LedgerEntry,
    Objection,
    User,
    Verifier,
)
from tests.e2e.http import h
from tests.e2e.test_issuance_http import registered_project, to_issued

pytestmark = pytest.mark.e2e


def _key(user: str, key: str) -> dict[str, str]:
    return {**h(user), "Idempotency-Key": key}


def _count(db: Database, model: type, *where: object) -> int:
    with db.read() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def _events(db: Database, case_id: int, event: str) -> int:
    return _count(db, AuditEvent, AuditEvent.case_id == case_id, AuditEvent.event == event)


def _twice(client: TestClient, path: str, headers: dict[str, str], **kwargs: object) -> dict:
    first = client.post(path, headers=headers, **kwargs)
    again = client.post(path, headers=headers, **kwargs)
    assert first.status_code in (200, 201), first.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    return first.json()


def test_a_transfer_is_recorded_once_per_key_and_per_exchange_reference(client: TestClient, db: Database,
                                                                        driver: Driver, test_clock) -> None:
    project = registered_project(db, driver, test_clock, "ORD")
    cid = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "ORD", "application": {
        "project_id": project, "vintage": 2025}}, headers=h("ord_applicant")).json()["id"]
    to_issued(client, db, driver, test_clock, "ORD", cid)
    mine = client.get("/api/v1/ledger/accounts/mine", headers=h("ord_applicant")).json()["items"][0]
    with db.write() as s:  # the buyer's account (another firm of the demo set)
        buyer = s.exec(select(User.org_id).where(User.username == "ord_applicant2")).one()
        to = account_for(s, "ORD", buyer, test_clock.now()).id
    body = {"from_account_id": mine["id"], "to_account_id": to, "amount_tco2e": 100, "reference": "EX-1"}
    path = "/api/v1/jurisdictions/ORD/transfers"
    first = _twice(client, path, _key("ord_operator", "t-1"), json=body)
    # the same settlement recorded again without a key (a retry by another client): the first record
    again = client.post(path, headers=h("ord_operator"), json=body)
    assert again.status_code == 201 and again.json() == first
    assert _count(db, LedgerEntry, LedgerEntry.kind == "transfer") == 1
    # the reference names one transfer: another transfer under it is refused, naming the first
    other = client.post(path, headers=h("ord_operator"), json={**body, "amount_tco2e": 50})
    assert other.status_code == 422
    assert [r["code"] for r in other.json()["error"]["reasons"]] == ["transfer_reference_used"]
    assert f"#{first['entry_id']}" in other.json()["error"]["reasons"][0]["en"]
    # the same key with another body is refused, not answered with the first reply
    misuse = client.post(path, headers=_key("ord_operator", "t-1"), json={**body, "reference": "EX-2"})
    assert misuse.status_code == 422 and misuse.json()["error"]["reasons"][0]["code"] == "idempotency_mismatch"
    balance = client.get("/api/v1/ledger/accounts/mine", headers=h("ord_applicant")).json()["items"][0]
    assert balance["balance_tco2e"] == mine["balance_tco2e"] - 100


def test_an_evaluation_retried_opens_one_rectification(client: TestClient, db: Database, driver: Driver,
                                                       test_clock) -> None:
    project = registered_project(db, driver, test_clock, "SH")
    body = {"summary": "年度跟踪评估", "findings": [{"severity": "high", "category": "plan_deviation",
                                                 "description": "实际运行与项目设计文件不符"}]}
    first = _twice(client, f"/api/v1/projects/{project}/evaluations", _key("sh_case_officer", "e-1"), json=body)
    assert first["rectification_case_id"]
    assert _count(db, Evaluation) == 1
    assert _count(db, Case, Case.procedure == "rectification") == 1


def test_a_document_upload_retried_stores_one_document(client: TestClient, db: Database, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    files = {"file": ("设计文件.csv", b"a,b\n1,2\n", "text/csv")}
    _twice(client, f"/api/v1/cases/{cid}/documents", _key("sh_applicant", "d-1"), files=files)
    assert _count(db, Document, Document.case_id == cid) == 1
    assert _events(db, cid, "document_added") == 1


def test_public_report_objection_and_comment_retried_lodge_once(client: TestClient, db: Database,
                                                                driver: Driver) -> None:
    report = {"jurisdiction": "SH", "subject": "某光伏项目", "name": "张三", "contact": "zhang@example.com",
              "content": "监测数据与实际发电量明显不符，请主管部门核查。"}
    first = _twice(client, "/api/v1/public/reports", {"Idempotency-Key": "r-1"}, json=report)
    assert first["receipt"].startswith("RPT-") and first["secret"]
    assert _count(db, Case, Case.procedure == "report") == 1
    cid = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", cid, "publicity")
    objection = {"name": "李四", "contact": "li@example.com", "text": "该项目与已登记项目重复"}
    _twice(client, f"/api/v1/public/publicity/{cid}/objections", {"Idempotency-Key": "o-1"}, json=objection)
    assert _count(db, Objection, Objection.case_id == cid) == 1


def test_claim_unclaim_delegate_retried_are_one_event_each(client: TestClient, db: Database,
                                                           driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", cid, "submitted")
    task = client.get(f"/api/v1/cases/{cid}", headers=h("sh_case_officer")).json()["open_tasks"][0]["id"]
    for _ in range(2):  # a retried claim by the holder, with or without a key, is not a new event
        r = client.post(f"/api/v1/tasks/{task}/claim", headers=h("sh_case_officer"))
        assert r.status_code == 200 and r.json()["assignee"] == "sh_case_officer"
    assert _events(db, cid, "task_claimed") == 1
    _twice(client, f"/api/v1/tasks/{task}/unclaim", _key("sh_case_officer", "u-1"))
    assert _events(db, cid, "task_unclaimed") == 1
    with db.write() as s:
        colleague = create_user(s, username="sh_case_officer_b", display_name="另一经办人",
                                grants=[("case_officer", "SH")]).id
    _twice(client, f"/api/v1/tasks/{task}/delegate", _key("sh_case_officer", "g-1"), json={"user_id": colleague})
    assert _events(db, cid, "task_delegated") == 1


def test_suspend_and_resume_retried_act_once(client: TestClient, db: Database, driver: Driver,
                                             test_clock) -> None:
    project = registered_project(db, driver, test_clock, "SD")
    cid = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "SD", "application": {
        "project_id": project, "vintage": 2025}}, headers=h("sd_applicant")).json()["id"]
    first = _twice(client, f"/api/v1/projects/{project}/suspend", _key("sd_case_officer", "s-1"),
                   json={"reason": "数据异常"})
    assert first == {"project_id": project, "suspended": True, "cases": [cid]}
    # without a key, suspending a suspended project changes nothing
    again = client.post(f"/api/v1/projects/{project}/suspend", headers=h("sd_case_officer"),
                        json={"reason": "数据异常"})
    assert again.status_code == 200 and again.json()["cases"] == []
    assert _events(db, cid, "hold") == 1
    _twice(client, f"/api/v1/projects/{project}/resume", _key("sd_case_officer", "s-2"), json={"reason": "整改合格"})
    assert _events(db, cid, "release") == 1


def test_a_verifier_filing_retried_files_once(client: TestClient, db: Database) -> None:
    first17 = "91110000MA00ABCD4"
    body = {"uscc": first17 + uscc_check_char(first17), "name": "某核查机构", "scopes": ["project"],
            "valid_from": "2026-01-01", "valid_until": "2028-12-31"}
    before = _count(db, Verifier)
    _twice(client, "/api/v1/jurisdictions/BJ/verifiers", _key("bj_approver", "v-1"), json=body)
    assert _count(db, Verifier) == before + 1


# --- every mutating route takes a key ---------------------------------------------------------------

# Mutating methods whose routes do not take an Idempotency-Key, each with why (a new route must either
# take the key or be listed here with its reason).
NOT_RETRIED = {
    ("POST", "/api/v1/cases/{case_id}/reporter"):
        "a read of the reporter's identity: every read is its own audit event, and a reply holding the "
        "identity must not be stored for replay",
    ("POST", "/api/v1/public/log/check"): "a read (checks a kept checkpoint; POST only for its body)",
    ("POST", "/api/v1/scenarios/{project_id}/{kind}"):
        "idempotent by its batch id, the scenario data standard's own key: the same id with the same bytes "
        "answers the first receipt, with other bytes 409 (tests/e2e/test_scenario_intake_http.py)",
    ("POST", "/api/v1/scenarios/{project_id}/feed/credential"):
        "issues a secret shown once: a reply holding it must not be stored for replay; a retry rotates it "
        "again, so the credential the caller ends with is the one that works",
    ("POST", "/api/v1/scenarios/{scenario_id}/lookup-tokens"):
        "likewise a secret shown once (a user's lookup token); a retry replaces it",
    ("POST", "/api/v1/jurisdictions/{jurisdiction}/scenario-campaign"):
        "idempotent by construction: one case per scenario and period, a run again opens nothing "
        "(tests/e2e/test_scenario_issuance_http.py)",
}


def _mutating_routes() -> dict[tuple[str, str], object]:
    from fastapi.routing import APIRoute, iter_route_contexts

    from services.api import create_app

    return {(method, rc.path): rc.original_route for rc in iter_route_contexts(create_app().routes)
            if isinstance(rc.original_route, APIRoute) and rc.path.startswith("/api/")
            for method in rc.methods & {"POST", "PUT", "PATCH", "DELETE"}}


def test_every_mutating_api_route_takes_an_idempotency_key() -> None:
    routes = _mutating_routes()
    assert set(NOT_RETRIED) <= set(routes), "an exemption names a route that does not exist"
    missing = sorted(f"{m} {p}" for (m, p), route in routes.items() if (m, p) not in NOT_RETRIED
                     and "Idempotency-Key" not in {h.alias for h in route.dependant.header_params})
    assert missing == []
    assert len(routes) >= 25  # the walk found the routers (they are included lazily)


def test_administrators_commands_retried_act_once(client: TestClient, db: Database) -> None:
    notice = {"source": "国办发明电〔2027〕1号", "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}]}
    first = client.put("/api/v1/admin/calendar/years/2027", json=notice, headers=_key("demo_admin", "c-1"))
    again = client.put("/api/v1/admin/calendar/years/2027", json=notice, headers=_key("demo_admin", "c-1"))
    assert first.status_code == 200 and again.json() == first.json()
    with db.read() as s:
        loads = s.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.event == "calendar_year_loaded")).one()
    assert loads == 1
    hook = {"jurisdiction": "SH", "name": "政务门户", "url": "https://portal.example/hook", "secret": "s" * 20}
    made = _twice(client, "/api/v1/admin/webhooks", _key("sh_admin", "w-1"), json=hook)
    assert made["jurisdiction"] == "SH"
    with db.read() as s:
        from services.store.tables import WebhookEndpoint

        assert s.exec(select(func.count()).select_from(WebhookEndpoint)).one() == 1
