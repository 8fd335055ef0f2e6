"""Jiaxing art. 26 end to end: false materials not corrected by the deadline → the owner's reductions are
clawed back and the organisation is disqualified in Jiaxing: no new case, no transfer to or from it, no
retirement on its own behalf (even one asked for before), each refused with 422 citing art. 26; the
disqualification is public (list, page, the project's record) with its reason and date, and the
officials' project page shows it. Another organisation of Jiaxing is not affected."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.demo import application, commitments
from services.engine.calendar import local_date
from services.procedures import ledger
from services.store.engine import Database
from services.store.tables import Case, User
from tests.e2e.http import act, h
from tests.e2e.test_issuance_http import to_issued
from tests.e2e.test_supervision_http import FINDING, evaluate

pytestmark = pytest.mark.e2e


def _codes(r) -> list[str]:
    assert r.status_code == 422, r.text
    return [x["code"] for x in r.json()["error"]["reasons"]]


def _filing(client: TestClient, user: str) -> object:
    return client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "JX", "application": {
        "new_project": application("JX"), "vintage": 2025, **commitments("JX")}}, headers=h(user))


def test_a_disqualified_jiaxing_organisation_is_barred_and_published(client: TestClient, db: Database, driver,
                                                                     test_clock) -> None:
    cid = _filing(client, "jx_applicant").json()["id"]
    to_issued(client, db, driver, test_clock, "JX", cid)
    pending = client.post("/api/v1/cases", json={"procedure": "retirement", "jurisdiction": "JX", "application": {
        "amount_tco2e": 100, "purpose": "voluntary", "purpose_detail": "自愿注销"}}, headers=h("jx_applicant"))
    assert pending.status_code == 201, pending.text
    with db.write() as s:
        project = s.get(Case, cid).project_id
        owner_org, other_org = (s.exec(select(User.org_id).where(User.username == u)).one()
                                for u in ("jx_applicant", "jx_applicant2"))
        owner_account = ledger.account_for(s, "JX", owner_org, test_clock.now()).id
        other_account = ledger.account_for(s, "JX", other_org, test_clock.now()).id
    assert client.get("/api/v1/public/disqualifications", params={"jurisdiction": "JX"}).json()["items"] == []

    rect = evaluate(client, "JX", project, {**FINDING, "category": "false_materials",
                                           "description": "监测数据系伪造（嘉兴办法第二十六条）"})
    act(client, "jx_case_officer", rect, "issue_notice", {"required_actions": ["说明并更正"]})
    act(client, "jx_applicant", rect, "submit_report", {"summary": "说明", "actions_taken": ["无"]})
    act(client, "jx_approver", rect, "revoke", {"reasons": "提供虚假材料，逾期未改正"})
    today = local_date(test_clock.now()).isoformat()

    # no new case: every reason at once, the first citing art. 26 in both languages
    refused = _filing(client, "jx_applicant")
    assert _codes(refused)[0] == "party_disqualified"
    why = refused.json()["error"]["reasons"][0]
    assert "嘉兴办法第二十六条" in why["zh"] and "Jiaxing art. 26" in why["en"]
    assert today in why["zh"] and "提供虚假材料，逾期未改正" in why["zh"]
    assert "party_disqualified" in _codes(client.post("/api/v1/cases", json={
        "procedure": "retirement", "jurisdiction": "JX", "application": {
            "amount_tco2e": 1, "purpose": "voluntary", "purpose_detail": "x"}}, headers=h("jx_applicant")))
    # the retirement asked for before the decision is not carried out for it either
    body = act(client, "jx_operator", pending.json()["id"], "approve", {"comments": "同意"}, expect=422)
    assert "party_disqualified" in [r["code"] for r in body["error"]["reasons"]]
    # transfers neither out of nor into its account (the refusal comes before any balance is looked at)
    for src, dst, field in ((owner_account, other_account, "from_account_id"),
                            (other_account, owner_account, "to_account_id")):
        r = client.post("/api/v1/jurisdictions/JX/transfers", json={
            "from_account_id": src, "to_account_id": dst, "amount_tco2e": 1, "reference": f"EX-{src}-{dst}"},
            headers=h("jx_operator"))
        assert _codes(r) == ["party_disqualified"]
        assert r.json()["error"]["reasons"][0]["field"] == field
    # another organisation of Jiaxing files as before
    assert _filing(client, "jx_applicant2").status_code == 201

    # published: the list, its page, the project's public record; and the officials' project page
    (listed,) = client.get("/api/v1/public/disqualifications", params={"jurisdiction": "JX"}).json()["items"]
    assert (listed["org_id"], listed["jurisdiction"], listed["case_id"], listed["project_id"]) == (
        owner_org, "JX", rect, project)
    assert listed["reason"] == "提供虚假材料，逾期未改正" and listed["decided_on"] == today
    assert listed["basis"] == "嘉兴办法第二十六条"
    assert client.get("/api/v1/public/disqualifications", params={"jurisdiction": "SH"}).json()["items"] == []
    assert client.get(f"/api/v1/public/projects/{project}").json()["owner_disqualified"]["decided_on"] == today
    staff = client.get(f"/api/v1/projects/{project}/oversight", headers=h("jx_case_officer")).json()
    assert staff["owner_disqualified"]["reason"] == "提供虚假材料，逾期未改正"
    html = client.get("/public/registry/disqualifications", params={"jurisdiction": "JX"}).text
    assert listed["organisation"] in html and today in html and "嘉兴办法第二十六条" in html
    assert f'data-disqualified="{owner_org}"' in client.get(f"/public/registry/projects/{project}").text
