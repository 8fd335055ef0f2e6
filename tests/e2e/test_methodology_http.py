"""methodology_filing end to end over HTTP in each of the five profiles: draft to filed, Shanghai's
public comment round, Jiaxing's publicity, a revision that supersedes a version, and a registration
refused for citing a superseded version after its grace period."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.demo import Driver, application, commitments
from services.orchestration.timers import run_due_timers
from services.store.engine import Database
from services.store.tables import Case, Document, MethodologyVersion
from tests.conftest import at
from tests.e2e.http import act, attach_required, h

pytestmark = pytest.mark.e2e

TIER = {"SH": "class_I", "BJ": "level_1", "ORD": "local", "JX": None, "SD": None}
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def methodology(code: str, **extra) -> dict:
    return {"code": f"{code}-M-BIKE-001", "version": "1.0", "title": "共享单车骑行碳普惠方法学", "kind": "scenario",
            "tier": TIER[code], "scope": "共享单车骑行",
            "parameters": [{"name": "燃油乘用车排放因子", "value": "0.173", "unit": "kgCO2/km",
                            "source": "交通运输部公开数据", "source_date": "2024-06-30"}], **extra}


def open_filing(client: TestClient, code: str, **extra) -> int:
    r = client.post("/api/v1/cases", json={"procedure": "methodology_filing", "jurisdiction": code,
                                           "application": methodology(code, **extra)},
                    headers=h(f"{code.lower()}_applicant"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def through_panel(client: TestClient, driver: Driver, code: str, cid: int) -> dict:
    low = code.lower()
    attach_required(client, f"{low}_applicant", cid)
    act(client, f"{low}_applicant", cid, "submit", {"commitments": {}})
    act(client, f"{low}_case_officer", cid, "accept")
    act(client, f"{low}_review_centre", cid, "pass_review", {"opinion": "方法学科学、可操作"})
    experts = [driver.user_id(f"{low}_expert{n}") for n in (1, 2, 3)]
    act(client, f"{low}_case_officer", cid, "compose_panel", {"members": experts, "chair": experts[0]})
    for n in (1, 2, 3):
        act(client, f"{low}_expert{n}", cid, "record_opinion", {"opinion": "agree", "score": 88})
    return act(client, f"{low}_expert1", cid, "panel_pass", {"conclusion": "论证通过"})


@pytest.mark.parametrize("code", ["SH", "BJ", "JX", "ORD", "SD"])
def test_methodology_from_draft_to_filed(client: TestClient, db: Database, driver: Driver, test_clock,
                                         code: str) -> None:
    low = code.lower()
    cid = open_filing(client, code)
    up = client.post(f"/api/v1/cases/{cid}/documents", headers=h(f"{low}_applicant"),
                     files={"file": ("方法学文本.pdf", PDF, "application/pdf")}, data={"visibility": "public"})
    assert up.status_code == 201, up.text
    assert up.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    case = through_panel(client, driver, code, cid)
    if code == "SH":  # art. 11: public comment before the decision
        assert case["state"]["name"] == "public_comment"
        consult = client.get(f"/api/v1/public/consultations/{cid}").json()
        r = client.post(f"/api/v1/public/consultations/{cid}/comments",
                        json={"name": "赵六", "contact": "zhao@example.cn",
                              "text": "建议明确骑行里程的数据来源与校验方式。"})
        assert r.status_code == 201
        comment_id = r.json()["comment_id"]
        test_clock.set(at(consult["last_day"]) + timedelta(days=1))
        run_due_timers(db)
        case = client.get(f"/api/v1/cases/{cid}", headers=h("sh_review_centre")).json()
        assert case["state"]["name"] == "comment_disposition"
        refused = act(client, "sh_review_centre", cid, "disposition_done", {}, expect=422)
        assert refused["error"]["reasons"][0]["code"] == "comments_unanswered"
        public = client.get(f"/api/v1/public/consultations/{cid}").json()
        assert public["comments"][0]["answer"] is None and "contact" not in public["comments"][0]
        act(client, "sh_review_centre", cid, "answer_comment",
            {"comment_id": comment_id, "answer": "已补充数据来源说明", "disposition": "adopted"})
        case = act(client, "sh_review_centre", cid, "disposition_done", {"summary": "共1条意见，已采纳"})
        public = client.get(f"/api/v1/public/consultations/{cid}").json()
        assert public["comments"][0]["answer"] == "已补充数据来源说明" and public["status"] == "closed"
        late = client.post(f"/api/v1/public/consultations/{cid}/comments", json={"text": "期满之后提交的意见内容"})
        assert late.status_code == 409 and late.json()["error"]["reasons"][0]["code"] == "consultation_closed"
    assert case["state"]["name"] == "authority_decision"
    case = act(client, f"{low}_approver", cid, "approve", {"comments": "同意备案"})
    if code == "JX":  # art. 10: publicity before filing
        assert case["state"]["name"] == "publicity"
        test_clock.set(at(case["publicity"]["last_day"]) + timedelta(days=1))
        run_due_timers(db)
        case = client.get(f"/api/v1/cases/{cid}", headers=h("jx_applicant")).json()
    assert case["state"]["name"] == "filed"
    registry = client.get("/api/v1/public/methodologies", params={"jurisdiction": code, "code": f"{code}-M-BIKE-001"})
    (entry,) = registry.json()["items"]
    assert (entry["version"], entry["status"], entry["tier"]) == ("1.0", "filed", TIER[code])
    detail = client.get(f"/api/v1/public/methodologies/{entry['id']}").json()
    assert detail["parameters"][0]["source_date"] == "2024-06-30"
    assert [e["event"] for e in detail["history"]][0] == "submit" and detail["history"][-1]["to_state"] == "filed"
    (doc,) = detail["documents"]
    body = client.get(f"/api/v1/public/methodologies/{entry['id']}/documents/{doc['id']}")
    assert body.content == PDF and body.headers["x-content-sha256"] == doc["sha256"]


def test_shanghai_consultation_without_comments_goes_straight_to_decision(client: TestClient, db: Database,
                                                                          driver: Driver, test_clock) -> None:
    cid = open_filing(client, "SH")
    through_panel(client, driver, "SH", cid)
    test_clock.advance(timedelta(days=30))
    run_due_timers(db)
    assert client.get(f"/api/v1/cases/{cid}", headers=h("sh_approver")).json()["state"]["name"] == "authority_decision"


def test_revision_supersedes_and_grace_period_governs_registrations(client: TestClient, db: Database,
                                                                   driver: Driver, test_clock) -> None:
    # SD-M-PV-001 1.0 is filed (demo set); a revision files 2.0
    app = {"code": "SD-M-PV-001", "version": "2.0", "title": "分布式光伏发电碳普惠方法学（第二版）",
           "kind": "project", "scope": "分布式光伏发电", "revises": "1.0"}
    cid = client.post("/api/v1/cases", json={"procedure": "methodology_filing", "jurisdiction": "SD",
                                             "application": app}, headers=h("sd_applicant")).json()["id"]
    through_panel(client, driver, "SD", cid)
    assert act(client, "sd_approver", cid, "approve")["state"]["name"] == "filed"
    versions = {m["version"]: m for m in client.get("/api/v1/public/methodologies",
                                                     params={"code": "SD-M-PV-001"}).json()["items"]}
    assert versions["2.0"]["status"] == "filed"
    old = versions["1.0"]
    assert (old["status"], old["superseded_by"], old["superseded_on"]) == ("superseded", "2.0", "2026-03-02")
    assert old["grace_until"] == "2026-08-29"  # 180 days
    # within the grace period a new registration may still cite 1.0
    ok = driver.open("sd_applicant", "SD", application("SD"))
    assert act(client, "sd_applicant", ok, "submit", commitments("SD"))["state"]["name"] == "submitted"
    # after it, a registration citing 1.0 is refused, naming the current version: a draft saved within the
    # grace period at its submission, a new draft when it is saved
    late = driver.open("sd_applicant", "SD", application("SD"))
    test_clock.set(at("2026-08-31 09:00"))
    body = act(client, "sd_applicant", late, "submit", commitments("SD"), expect=422)
    (reason,) = body["error"]["reasons"]
    assert reason["code"] == "methodology_superseded" and "2.0" in reason["zh"] and "cite 2.0" in reason["en"]
    opened = client.post("/api/v1/cases", json={"procedure": "project_registration", "jurisdiction": "SD",
                                                "application": application("SD")}, headers=h("sd_applicant"))
    assert opened.status_code == 422
    assert [x["code"] for x in opened.json()["error"]["reasons"]] == ["methodology_superseded"]
    history = client.get(f"/api/v1/public/methodologies/{old['id']}").json()["history"]
    assert history[-1]["event"] == "superseded"


def _count(db: Database) -> tuple[int, int]:
    with db.read() as s:
        return len(list(s.exec(select(Case.id)))), len(list(s.exec(select(Document.id))))


@pytest.mark.parametrize("code,app,expected", [
    ("SH", {"code": "SH-M-PV-001", "version": "1.0"}, "duplicate_version"),
    ("SH", {"revises": "9.9"}, "revision_not_filed"),
    ("SH", {"revises": "1.0"}, "revision_same_version"),
    ("SH", {"tier": "gold"}, "tier_required"),
    ("SD", {"tier": "class_I"}, "tier_not_in_profile"),
    # Ordos art. 5: the scope is covered by a national standard (demo ORD-M-EV-001, national)
    ("ORD", {"tier": "group", "scope": "新能源汽车出行"}, "higher_standard"),
])
def test_bad_filings_are_refused_and_nothing_is_stored(client: TestClient, db: Database, code: str, app: dict,
                                                       expected: str) -> None:
    before = _count(db)
    r = client.post("/api/v1/cases", json={"procedure": "methodology_filing", "jurisdiction": code,
                                           "application": methodology(code) | app},
                    headers=h(f"{code.lower()}_applicant"))
    assert r.status_code == 422, r.text
    reasons = r.json()["error"]["reasons"]
    assert expected in [x["code"] for x in reasons] and all(x["zh"] and x["en"] for x in reasons)
    assert _count(db) == before


def test_second_open_filing_of_the_same_version_is_a_duplicate(client: TestClient) -> None:
    open_filing(client, "BJ")
    r = client.post("/api/v1/cases", json={"procedure": "methodology_filing", "jurisdiction": "BJ",
                                           "application": methodology("BJ")}, headers=h("bj_applicant"))
    assert r.status_code == 422 and r.json()["error"]["reasons"][0]["code"] == "duplicate_version"


@pytest.mark.parametrize("name,data,ctype,expected", [
    ("a.pdf", b"MZ\x90\x00 not a pdf", "application/pdf", "document_type"),   # mistyped
    ("a.exe", b"MZ\x90\x00", "application/x-msdownload", "document_type"),    # type not accepted
    ("a.pdf", b"", "application/pdf", "document_empty"),
])
def test_bad_documents_are_refused(client: TestClient, db: Database, name: str, data: bytes, ctype: str,
                                   expected: str) -> None:
    cid = open_filing(client, "SD")
    before = _count(db)
    r = client.post(f"/api/v1/cases/{cid}/documents", headers=h("sd_applicant"), files={"file": (name, data, ctype)})
    assert r.status_code == 422 and expected in [x["code"] for x in r.json()["error"]["reasons"]]
    assert _count(db) == before


def test_oversize_document_is_refused(client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.procedures import documents

    monkeypatch.setattr(documents, "MAX_BYTES", 1024)
    cid = open_filing(client, "SD")
    r = client.post(f"/api/v1/cases/{cid}/documents", headers=h("sd_applicant"),
                    files={"file": ("big.pdf", PDF + b"0" * 2048, "application/pdf")})
    assert r.status_code == 422 and r.json()["error"]["reasons"][0]["code"] == "document_too_large"
    with db.read() as s:
        assert list(s.exec(select(Document.id))) == []


def test_documents_only_while_editable_and_only_for_those_who_see_the_case(client: TestClient, driver: Driver) -> None:
    cid = open_filing(client, "SD")
    other = client.post(f"/api/v1/cases/{cid}/documents", headers=h("sd_applicant2"),
                        files={"file": ("a.pdf", PDF, "application/pdf")})
    assert other.status_code == 404
    act(client, "sd_applicant", cid, "submit", {"commitments": {}})
    late = client.post(f"/api/v1/cases/{cid}/documents", headers=h("sd_applicant"),
                       files={"file": ("a.pdf", PDF, "application/pdf")})
    assert late.status_code == 403
    staff = client.post(f"/api/v1/cases/{cid}/documents", headers=h("sd_case_officer"),
                        files={"file": ("核查意见.pdf", PDF, "application/pdf")}, data={"visibility": "case"})
    assert staff.status_code == 201
    listed = client.get(f"/api/v1/cases/{cid}/documents", headers=h("sd_applicant")).json()["items"]
    assert [d["name"] for d in listed] == ["核查意见.pdf"]  # shared with the applicant on purpose
    got = client.get(f"/api/v1/documents/{listed[0]['id']}", headers=h("sd_applicant"))
    assert got.content == PDF
    assert client.get(f"/api/v1/documents/{listed[0]['id']}", headers=h("bj_applicant")).status_code == 404


def test_unfiled_versions_are_not_public(client: TestClient, db: Database) -> None:
    cid = open_filing(client, "SH")
    with db.read() as s:
        assert s.exec(select(MethodologyVersion).where(MethodologyVersion.case_id == cid)).first() is None
    codes = [m["code"] for m in client.get("/api/v1/public/methodologies").json()["items"]]
    assert "SH-M-BIKE-001" not in codes and "SH-M-PV-001" in codes
    assert client.get("/api/v1/public/methodologies", params={"status": "withdrawn"}).status_code == 422


def test_a_withdrawn_version_leaves_the_registry_and_cannot_be_cited(client: TestClient, driver: Driver) -> None:
    listed = {m["code"]: m for m in client.get("/api/v1/public/methodologies", params={"jurisdiction": "SD"}).json()[
        "items"]}
    target = listed["SD-M-PV-001"]
    cid = driver.open("sd_applicant", "SD", application("SD"))  # a draft saved before the withdrawal
    assert client.post(f"/api/v1/methodologies/{target['id']}/withdraw", json={"reason": "x"},
                       headers=h("sd_case_officer")).status_code == 403
    r = client.post(f"/api/v1/methodologies/{target['id']}/withdraw", json={"reason": "排放因子过期"},
                    headers=h("sd_approver"))
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    again = client.post(f"/api/v1/methodologies/{target['id']}/withdraw", json={"reason": "x"},
                        headers=h("sd_approver"))
    assert again.status_code == 409
    codes = [m["code"] for m in client.get("/api/v1/public/methodologies", params={"jurisdiction": "SD"}).json()[
        "items"]]
    assert "SD-M-PV-001" not in codes
    body = act(client, "sd_applicant", cid, "submit", commitments("SD"), expect=422)
    assert [x["code"] for x in body["error"]["reasons"]] == ["methodology_not_filed"]
    # and a new draft cannot cite it at all
    opened = client.post("/api/v1/cases", json={"procedure": "project_registration", "jurisdiction": "SD",
                                                "application": application("SD")}, headers=h("sd_applicant"))
    assert opened.status_code == 422
    (why,) = opened.json()["error"]["reasons"]
    assert why["code"] == "methodology_not_filed" and why["field"] == "methodology_version"
    assert "SD-M-PV-001" in why["zh"] and "SD-M-PV-001" in why["en"]
