"""Beijing's supervision of how projects use their proceeds and how class-2 projects run, over HTTP
(seeds/002_ed775c38b03cc2a5.txt, 编制说明 3 第四章、第五章 and 4(二)).

Revenue-use audits open on demand, outside the campaign's window: the developer files the audit of an
ended year whenever it is due, an officer asks for one at any time; the ≥ 90% rule and the rectification
a short or missing report opens are unchanged."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.orchestration.timers import run_due_timers
from services.store.engine import Database
from services.store.tables import Case, Task
from tests.conftest import at
from tests.e2e.http import act, h
from tests.e2e.test_issuance_http import registered_project

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.7\naudit\n%%EOF\n"


def audit_form(year: int, returned: str) -> dict:
    return {"year": year, "proceeds_cny": "120000", "costs_cny": "20000", "returned_to_users_cny": returned,
            "auditor": "某会计师事务所", "report_sha256": hashlib.sha256(PDF).hexdigest()}


def ask(client: TestClient, user: str, project: int, body: dict, expect: int = 201) -> dict:
    r = client.post(f"/api/v1/projects/{project}/revenue-audits", json=body, headers=h(user))
    assert r.status_code == expect, r.text
    return r.json()


def test_audits_on_demand_in_september_without_the_campaign(client: TestClient, db: Database, driver,
                                                            test_clock) -> None:
    project = registered_project(db, driver, test_clock, "BJ")
    test_clock.set(at("2026-09-15 09:00"))  # after the 30 June deadline, no campaign running
    # the developer files the 2025 audit on its own motion: late, so it gets the profile's 20 working days
    opened = ask(client, "bj_applicant", project, {"year": 2025})
    assert opened["requested_by"] == "owner" and opened["due_days"] == 20
    with db.read() as s:
        due = s.exec(select(Task).where(Task.case_id == opened["id"], Task.kind == "revenue_report")).one().due_at
    assert due is not None and due.date() > at("2026-10-01 00:00").date()  # 20 working days after 15 September
    up = client.post(f"/api/v1/cases/{opened['id']}/documents", headers=h("bj_applicant"),
                     files={"file": ("审计报告.pdf", PDF, "application/pdf")})
    assert up.status_code == 201, up.text
    assert act(client, "bj_applicant", opened["id"], "file_audit",
               audit_form(2025, "95000"))["state"]["name"] == "filed"
    # every reason at once, in both languages: the year 2026 has not ended, and 2025 is already filed
    refused = ask(client, "bj_applicant", project, {"year": 2026}, expect=422)["error"]["reasons"]
    assert [r["code"] for r in refused] == ["revenue_audit_year_open"] and all(r["zh"] and r["en"] for r in refused)
    again = ask(client, "bj_applicant", project, {"year": 2025}, expect=422)["error"]["reasons"]
    assert again[0]["code"] == "revenue_audit_exists" and f"#{opened['id']}" in again[0]["zh"]
    # another firm may not open the developer's audit
    assert client.post(f"/api/v1/projects/{project}/revenue-audits", json={"year": 2024},
                       headers=h("bj_applicant2")).status_code == 403
    # the officer asks for the current year to date, 10 working days; unanswered, it opens a rectification
    asked = ask(client, "bj_case_officer", project, {"year": 2026, "due_days": 10, "note": "核查收益去向"})
    assert asked["requested_by"] == "officer" and asked["due_days"] == 10
    case = client.get(f"/api/v1/cases/{asked['id']}", headers=h("bj_applicant")).json()
    assert case["state"]["name"] == "open"
    test_clock.advance(timedelta(days=20))
    run_due_timers(db, test_clock.now())
    with db.read() as s:
        assert s.get(Case, asked["id"]).state == "missed"
        rect = s.exec(select(Case).where(Case.procedure == "rectification", Case.project_id == project)).one()
    assert rect.application["origin"] == {"revenue_audit": asked["id"]}
    published = {a["year"]: a for a in client.get("/api/v1/public/revenue-audits").json()["items"]}
    assert published[2025]["returned_share"] == "0.9500" and published[2026]["state"]["name"] == "missed"


def test_audits_on_demand_only_where_the_seed_has_them(client: TestClient, db: Database, driver,
                                                       test_clock) -> None:
    project = registered_project(db, driver, test_clock, "SH")
    refused = ask(client, "sh_case_officer", project, {"year": 2025}, expect=422)["error"]["reasons"]
    assert [r["code"] for r in refused] == ["revenue_audit_not_here"]
