"""Shanghai art. 17 over HTTP (seeds/001_b40c8518fbadbe3f.txt): reductions issued under a class-I
methodology may be retired for the Shanghai ETS's allowance compliance (配额履约清缴), class-II ones not;
the methodology class is shown on issuances and certificates; no other jurisdiction has the purpose."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.demo import Driver, application, drive_to
from services.orchestration.timers import run_due_timers
from services.procedures.issuance import run_campaign
from services.store.engine import Database
from services.store.tables import Case
from tests.e2e.http import act, h
from tests.e2e.test_issuance_http import to_issued

pytestmark = pytest.mark.e2e


def issued_project(client: TestClient, db: Database, driver: Driver, test_clock, title: str,
                   methodology: str) -> int:
    cid = driver.open("sh_applicant", "SH", application("SH", title=title, methodology=methodology))
    drive_to(driver, "SH", cid, "publicity")
    test_clock.advance(timedelta(days=20))
    run_due_timers(db, test_clock.now())
    with db.read() as s:
        project = s.get(Case, cid).project_id
    run_campaign(db, "SH", 2025)
    with db.read() as s:
        issuance = s.exec(select(Case.id).where(Case.procedure == "issuance", Case.project_id == project)).one()
    to_issued(client, db, driver, test_clock, "SH", issuance)
    return project


def retire(client: TestClient, code: str, **app) -> object:
    return client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": code, "application": {
        "amount_tco2e": 100, "purpose": "ets_compliance", "purpose_detail": "2025年度配额清缴", **app}},
        headers=h(f"{code.lower()}_applicant"))


def test_only_class_i_reductions_go_to_shanghai_allowance_compliance(client: TestClient, db: Database,
                                                                    driver: Driver, test_clock) -> None:
    class_1 = issued_project(client, db, driver, test_clock, "一类光伏", "SH-M-PV-001")
    class_2 = issued_project(client, db, driver, test_clock, "二类照明", "SH-M-LED-002")
    tiers = {i["project_id"]: i["methodology_tier"] for i in
             client.get("/api/v1/public/issuances", params={"jurisdiction": "SH"}).json()["items"]}
    assert tiers == {class_1: "class_I", class_2: "class_II"}
    refused = retire(client, "SH", project_id=class_2)
    assert refused.status_code == 422, refused.text
    (why,) = refused.json()["error"]["reasons"]
    assert why["code"] == "compliance_tier" and "第十七条" in why["zh"] and "art. 17" in why["en"]
    unnamed = retire(client, "SH").json()["error"]["reasons"]
    assert [r["code"] for r in unnamed] == ["compliance_needs_project"]
    r = retire(client, "SH", project_id=class_1)
    assert r.status_code == 201, r.text
    case = act(client, "sh_operator", r.json()["id"], "approve", {"comments": "同意清缴注销"})
    cert = client.get(f"/api/v1/public/certificates/{case['result']['certificate']}").json()
    assert cert["purpose"] == "ets_compliance" and cert["methodology_tiers"] == ["class_I"]
    # class-II units still serve every other use
    other = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": "SH", "application": {
        "amount_tco2e": 100, "purpose": "voluntary", "purpose_detail": "自愿注销", "project_id": class_2}},
        headers=h("sh_applicant"))
    assert other.status_code == 201, other.text
    page = client.get("/public/registry/issuances", params={"jurisdiction": "SH"})
    assert "I 类" in page.text


def test_no_compliance_purpose_where_the_seed_gives_none(client: TestClient) -> None:
    codes = [r["code"] for r in retire(client, "BJ").json()["error"]["reasons"]]
    assert "compliance_not_here" in codes
