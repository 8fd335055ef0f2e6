"""Jiaxing arts. 12–13 and Ordos arts. 5 and 9 through the API, each in its own jurisdiction.

Seeds: 003_4691f5d268057b21.txt (Jiaxing) arts. 12, 13; 004_81a3b90dcbf20f97.txt (Ordos) arts. 5, 9.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from services.demo import application, commitments, demo_location
from services.store.engine import Database
from services.store.tables import MethodologyVersion
from tests.e2e.http import h

pytestmark = pytest.mark.e2e


def _open(client: TestClient, user: str, code: str, procedure: str, app: dict) -> object:
    return client.post("/api/v1/cases", json={"procedure": procedure, "jurisdiction": code, "application": app},
                       headers=h(user))


def test_jiaxing_first_filing_lies_in_jiaxing_and_declares_art_13(client: TestClient, test_clock) -> None:
    shanghai = {**application("JX"), "location": {"division": "310114", "address": "嘉定工业区"}}
    r = _open(client, "jx_applicant", "JX", "issuance", {"new_project": shanghai, "vintage": 2025,
                                                          **commitments("JX")})
    assert r.status_code == 422
    (why,) = r.json()["error"]["reasons"]
    assert why["code"] == "location_outside_area" and why["field"] == "new_project.location.division"
    assert "嘉兴办法第十二条" in why["zh"] and "Jiaxing art. 12" in why["en"]
    # free text is no location: the form refuses it
    r = _open(client, "jx_applicant", "JX", "issuance", {"new_project": {**application("JX"), "location": "嘉兴"},
                                                          "vintage": 2025, **commitments("JX")})
    assert r.status_code == 422
    assert r.json()["error"]["reasons"][0]["field"].startswith("application.new_project.location")
    # art. 13: the four declarations, and the national ETS named as a scheme
    ets = {**application("JX"), "other_schemes": [{"scheme": "CN_ETS", "reference": "重点排放单位 2025"}]}
    r = _open(client, "jx_applicant", "JX", "issuance", {"new_project": ets, "vintage": 2025})
    assert r.status_code == 422
    codes = sorted(x["code"] for x in r.json()["error"]["reasons"])
    assert codes == ["commitment_missing"] * 4 + ["prohibited_national_ets"]
    assert all(x["zh"] and x["en"] for x in r.json()["error"]["reasons"])
    r = _open(client, "jx_applicant", "JX", "issuance", {"new_project": application("JX"), "vintage": 2025,
                                                          **commitments("JX")})
    assert r.status_code == 201, r.text
    assert r.json()["application"]["new_project"]["location"] == demo_location("JX")


def test_shanghai_keeps_accepting_a_location_outside_jiaxing(client: TestClient, test_clock) -> None:
    app = {**application("SH"), "location": {"division": "330402"}}  # no seed but Jiaxing's limits the area
    assert _open(client, "sh_applicant", "SH", "project_registration", app).status_code == 201


def test_ordos_applies_only_once_running(client: TestClient, test_clock) -> None:
    ahead = {**application("ORD"), "start_date": "2026-05-01"}  # the test clock stands at 2026-03-02
    cid = _open(client, "ord_applicant", "ORD", "project_registration", ahead).json()["id"]
    r = client.post(f"/api/v1/cases/{cid}/actions/submit", json=commitments("ORD"), headers=h("ord_applicant"))
    assert r.status_code == 422
    (why,) = r.json()["error"]["reasons"]
    assert why["code"] == "not_running_yet" and "鄂尔多斯办法第九条" in why["zh"] and "Ordos art. 9" in why["en"]
    r = client.post(f"/api/v1/cases/{cid}/actions/edit", json={"start_date": "2026-03-01"}, headers=h("ord_applicant"))
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/cases/{cid}/actions/submit", json=commitments("ORD"), headers=h("ord_applicant"))
    assert r.status_code == 200 and r.json()["state"]["name"] == "submitted"


def test_shandong_may_apply_before_it_runs(client: TestClient, test_clock) -> None:
    cid = _open(client, "sd_applicant", "SD", "project_registration",
                {**application("SD"), "start_date": "2026-05-01"}).json()["id"]
    r = client.post(f"/api/v1/cases/{cid}/actions/submit", json=commitments("SD"), headers=h("sd_applicant"))
    assert r.status_code == 200, r.text


def test_ordos_adopts_the_national_standard_once_it_covers_the_scope(client: TestClient, db: Database,
                                                                     test_clock) -> None:
    group = {**application("ORD", methodology="ORD-M-LED-002"), "start_date": "2026-01-05"}
    first = _open(client, "ord_applicant", "ORD", "project_registration", group).json()["id"]
    r = client.post(f"/api/v1/cases/{first}/actions/submit", json=commitments("ORD"), headers=h("ord_applicant"))
    assert r.status_code == 200, r.text  # no higher standard for public lighting yet
    with db.write() as s:  # a national standard for the same scope is filed
        s.add(MethodologyVersion(jurisdiction="ORD", code="GB-T-LED", version="2026", title="公共照明国家标准",
                                 kind="project", tier="national", scope="公共照明节能改造", status="filed",
                                 filed_on=date(2026, 2, 1), parameters=[]))
    second = _open(client, "ord_applicant", "ORD", "project_registration", group).json()["id"]
    r = client.post(f"/api/v1/cases/{second}/actions/submit", json=commitments("ORD"), headers=h("ord_applicant"))
    assert r.status_code == 422
    (why,) = r.json()["error"]["reasons"]
    assert why["code"] == "higher_standard_applies" and "GB-T-LED" in why["zh"] and "Ordos art. 5" in why["en"]
