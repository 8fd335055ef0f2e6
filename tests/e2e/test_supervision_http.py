"""Supervision end to end over HTTP: a finding → notice → suspension blocks issuance → an accepted
report resumes; a missed deadline revokes (or keeps the project suspended, per profile); Jiaxing's
false materials claw back issued units; a public report is substantiated and opens a rectification,
and its reporter stays invisible to everyone but the case officer assigned to handle it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.demo import commitments
from services.orchestration.dispatch import Channels, drain
from services.orchestration.timers import run_due_timers
from services.store.engine import Database
from services.store.tables import Case, Organisation
from tests.conftest import at
from tests.e2e.http import act, h
from tests.e2e.test_issuance_http import registered_project, report, to_issued, upload_sheet

pytestmark = pytest.mark.e2e

FINDING = {"severity": "high", "category": "plan_deviation", "description": "实际运行与项目设计文件不符"}


def evaluate(client: TestClient, code: str, project: int, finding: dict | None = None) -> int:
    r = client.post(f"/api/v1/projects/{project}/evaluations", json={
        "summary": "年度跟踪评估", "findings": [finding or FINDING]}, headers=h(f"{code.lower()}_case_officer"))
    assert r.status_code == 201, r.text
    return r.json()["rectification_case_id"]


def open_issuance(client: TestClient, code: str, project: int) -> int:
    r = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": code, "application": {
        "project_id": project, "vintage": 2025, **commitments("JX")}}, headers=h(f"{code.lower()}_applicant"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.parametrize("code", ["SH", "BJ", "ORD", "SD"])
def test_finding_notice_suspension_blocks_issuance_then_resumes(client: TestClient, db: Database, driver,
                                                                test_clock, code: str) -> None:
    low = code.lower()
    project = registered_project(db, driver, test_clock, code)
    issuance = open_issuance(client, code, project)
    upload_sheet(client, code, issuance)
    rect = evaluate(client, code, project)
    case = act(client, f"{low}_case_officer", rect, "issue_notice", {"required_actions": ["按设计文件恢复运行"]})
    assert case["state"]["name"] == "rectifying"
    # suspended at once: the issuance case cannot advance, not even before the dispatcher holds it
    blocked = act(client, f"{low}_applicant", issuance, "submit_monitoring_report", report(client, code), expect=422)
    suspended = next(r for r in blocked["error"]["reasons"] if r["code"] == "project_suspended")
    assert f"#{rect}" in suspended["zh"] and f"#{rect}" in suspended["en"]  # names the rectification case
    drain(db, Channels(smtp_host=None))
    held = client.get(f"/api/v1/cases/{issuance}", headers=h(f"{low}_applicant")).json()
    assert held["state"]["name"] == "on_hold"
    record = client.get(f"/api/v1/public/projects/{project}").json()
    assert record["suspended"] is True and any(n["kind"] == "suspension" for n in record["notices"])
    act(client, f"{low}_applicant", rect, "submit_report", {"summary": "已整改", "actions_taken": ["恢复运行"]})
    act(client, f"{low}_case_officer", rect, "reject_report", {"opinion": "证据不足", "deadline_days": 10})
    act(client, f"{low}_applicant", rect, "submit_report", {"summary": "补充证据", "actions_taken": ["提交监测数据"]})
    case = act(client, f"{low}_case_officer", rect, "accept_report", {"opinion": "整改合格"})
    assert case["state"]["name"] == "resumed"
    drain(db, Channels(smtp_host=None))
    back = client.get(f"/api/v1/cases/{issuance}", headers=h(f"{low}_applicant")).json()
    assert back["state"]["name"] == "open"
    assert act(client, f"{low}_applicant", issuance, "submit_monitoring_report",
               report(client, code))["state"]["name"] == "verification"
    assert client.get(f"/api/v1/public/projects/{project}").json()["suspended"] is False


@pytest.mark.parametrize("code,ends", [("ORD", "revoked"), ("JX", "revoked"), ("BJ", "suspended"),
                                       ("SH", "suspended")])
def test_a_missed_deadline_revokes_or_keeps_suspended(client: TestClient, db: Database, driver, test_clock,
                                                      code: str, ends: str) -> None:
    low = code.lower()
    if code == "JX":
        cid = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "JX", "application": {
            "new_project": __import__("services.demo", fromlist=["application"]).application("JX"),
            "vintage": 2025, **commitments("JX")}}, headers=h("jx_applicant")).json()["id"]
        to_issued(client, db, driver, test_clock, "JX", cid)
        with db.read() as s:
            project = s.get(Case, cid).project_id
    else:
        project = registered_project(db, driver, test_clock, code)
    rect = evaluate(client, code, project)
    case = act(client, f"{low}_case_officer", rect, "issue_notice", {"required_actions": ["整改"], "deadline_days": 5})
    deadline = case["timers"][0]["fire_at"]
    test_clock.set(at("2027-06-01 09:00"))
    assert [f["state"] for f in run_due_timers(db, test_clock.now())["fired"] if f["case_id"] == rect] == [ends]
    record = client.get(f"/api/v1/public/projects/{project}").json()
    assert record["status"] == ("revoked" if ends == "revoked" else "registered")
    assert record["suspended"] is (ends == "suspended")
    assert deadline
    if ends == "revoked":
        assert any(n["kind"] == "revocation" for n in client.get(
            "/api/v1/public/notices", params={"jurisdiction": code}).json()["items"])


def test_jiaxing_false_materials_claw_back_and_disqualify(client: TestClient, db: Database, driver,
                                                          test_clock) -> None:
    from services.demo import application

    cid = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "JX", "application": {
        "new_project": application("JX"), "vintage": 2025, **commitments("JX")}},
        headers=h("jx_applicant")).json()["id"]
    to_issued(client, db, driver, test_clock, "JX", cid)
    with db.read() as s:
        project = s.get(Case, cid).project_id
    rect = evaluate(client, "JX", project, {**FINDING, "category": "false_materials",
                                           "description": "监测数据系伪造（嘉兴办法第二十六条）"})
    act(client, "jx_case_officer", rect, "issue_notice", {"required_actions": ["说明并更正"]})
    act(client, "jx_applicant", rect, "submit_report", {"summary": "说明", "actions_taken": ["无"]})
    case = act(client, "jx_approver", rect, "revoke", {"reasons": "提供虚假材料，逾期未改正"})
    assert case["state"]["name"] == "revoked"
    assert case["result"]["clawback"] == {"cancelled": 1100, "debt": 0, "entry_id": case["result"]["clawback"][
        "entry_id"]}
    assert client.get("/api/v1/ledger/accounts/mine", headers=h("jx_applicant")).json()["items"][0][
        "balance_tco2e"] == 0
    assert client.get("/api/v1/admin/ledger/verify", headers=h("demo_admin")).json()["ok"] is True
    with db.read() as s:
        from services.store.tables import User

        org = s.exec(select(Organisation).join(User, User.org_id == Organisation.id).where(
            User.username == "jx_applicant")).one()
        assert org.disqualified_at is not None


def test_ordos_anomalous_data_is_corrected_by_an_adjustment(client: TestClient, db: Database, driver,
                                                           test_clock) -> None:
    project = registered_project(db, driver, test_clock, "ORD")
    to_issued(client, db, driver, test_clock, "ORD", open_issuance(client, "ORD", project))
    rect = evaluate(client, "ORD", project, {**FINDING, "category": "data_anomaly", "excess_tco2e": "200",
                                            "description": "异常数据导致多计"})
    act(client, "ord_case_officer", rect, "issue_notice", {"required_actions": ["修正数据"]})
    act(client, "ord_applicant", rect, "submit_report", {"summary": "无法修正", "actions_taken": ["无"]})
    case = act(client, "ord_approver", rect, "revoke", {"reasons": "整改未达到要求（鄂尔多斯办法第十一条）"})
    assert case["result"]["adjustment"]["cancelled"] == 200
    assert client.get("/api/v1/ledger/accounts/mine", headers=h("ord_applicant")).json()["items"][0][
        "balance_tco2e"] == 900
    assert client.get("/api/v1/admin/ledger/verify", headers=h("demo_admin")).json()["ok"] is True


def test_a_public_report_is_substantiated_and_the_reporter_stays_confidential(client: TestClient, db: Database,
                                                                            driver, test_clock) -> None:
    project = registered_project(db, driver, test_clock, "SD")
    r = client.post("/api/v1/public/reports", json={
        "jurisdiction": "SD", "subject": "某光伏项目", "project_id": project, "name": "匿名群众乙",
        "contact": "13900001111", "content": "该项目实际装机容量远低于申报数据，存在虚报减排量的情况。"})
    assert r.status_code == 201, r.text
    receipt, secret = r.json()["receipt"], r.json()["secret"]
    with db.read() as s:
        case_id = s.exec(select(Case.id).where(Case.procedure == "report")).one()
    # everyone but the handling officer: no identity anywhere
    for user in ("sd_case_officer", "sd_approver", "sd_review_centre", "sd_operator", "demo_admin"):
        body = client.get(f"/api/v1/cases/{case_id}", headers=h(user)).text
        assert "匿名群众乙" not in body and "13900001111" not in body, user
    assert client.get(f"/api/v1/cases/{case_id}", headers=h("sd_applicant")).status_code == 404  # the reported party
    assert client.get(f"/api/v1/cases/{case_id}", headers=h("sd_expert1")).status_code == 404
    events = client.get(f"/api/v1/cases/{case_id}/events", headers=h("sd_case_officer")).text
    assert "匿名群众乙" not in events and "13900001111" not in events
    tasks = client.get("/api/v1/tasks", params={"view": "team"}, headers=h("sd_case_officer")).json()["items"]
    triage = next(t for t in tasks if t["case_id"] == case_id)
    assert "13900001111" not in str(tasks)
    client.post(f"/api/v1/tasks/{triage['id']}/claim", headers=h("sd_case_officer"))
    handled = client.get(f"/api/v1/cases/{case_id}", headers=h("sd_case_officer"))
    assert "13900001111" not in handled.text and handled.json()["reporter_access"]["may_read"] is False
    act(client, "sd_approver", case_id, "assign_handlers", {"officers": [driver.user_id("sd_case_officer")]})
    identity = client.post(f"/api/v1/cases/{case_id}/reporter", headers=h("sd_case_officer")).json()
    assert (identity["name"], identity["contact"]) == ("匿名群众乙", "13900001111")  # the assigned handler, audited
    act(client, "sd_case_officer", case_id, "triage", {"notes": "转调查"})
    case = act(client, "sd_case_officer", case_id, "substantiate", {
        "findings": [{**FINDING, "description": "装机容量虚报"}], "internal_notes": "内部：与企业约谈记录"})
    rect = case["result"]["rectification_case_id"]
    assert client.get(f"/api/v1/cases/{rect}", headers=h("sd_case_officer")).json()["state"]["name"] == "opened"
    act(client, "sd_case_officer", case_id, "send_feedback", {"message": "经核查，举报属实，已责令整改。"})
    status = client.get(f"/api/v1/public/reports/{receipt}", headers={"X-Report-Secret": secret}).json()
    assert status["state"]["name"] == "feedback_sent" and status["feedback"] == "经核查，举报属实，已责令整改。"
    assert "约谈" not in str(status)  # internal notes never reach the reporter
    wrong = client.get(f"/api/v1/public/reports/{receipt}", headers={"X-Report-Secret": "guess"})
    unknown = client.get("/api/v1/public/reports/RPT-00000000-XXXX", headers={"X-Report-Secret": secret})
    assert wrong.status_code == unknown.status_code == 404 and wrong.json() == unknown.json()
    codes = [client.get(f"/api/v1/public/reports/{receipt}", headers={"X-Report-Secret": "guess"}).status_code
             for _ in range(6)]
    assert codes[-1] == 429


def test_bad_supervision_input(client: TestClient, db: Database, driver, test_clock) -> None:
    from services.demo import application

    draft = driver.open("sd_applicant", "SD", application("SD"))
    with db.read() as s:
        unregistered = s.get(Case, draft).project_id
    r = client.post(f"/api/v1/projects/{unregistered}/evaluations", json={"summary": "评估", "findings": [FINDING]},
                    headers=h("sd_case_officer"))
    assert r.status_code == 422 and r.json()["error"]["reasons"][0]["code"] == "project_not_registered"
    empty = client.post("/api/v1/public/reports", json={"jurisdiction": "SD", "subject": "x", "content": ""})
    assert empty.status_code == 422 and {x["field"] for x in empty.json()["error"]["reasons"]} == {"content"}
    nowhere = client.post("/api/v1/public/reports", json={"jurisdiction": "XX", "subject": "x",
                                                          "content": "足够长的举报内容，用于测试辖区校验。"})
    assert nowhere.status_code == 422
    with db.read() as s:
        assert s.exec(select(Case).where(Case.procedure.in_(("report", "rectification")))).first() is None
    project = registered_project(db, driver, test_clock, "SD")
    rect = evaluate(client, "SD", project)
    act(client, "sd_case_officer", rect, "issue_notice", {"required_actions": ["整改"]})
    for _ in range(2):
        act(client, "sd_applicant", rect, "submit_report", {"summary": "整改", "actions_taken": ["做了"]})
        act(client, "sd_case_officer", rect, "reject_report", {"opinion": "不合格"}) if _ == 0 else None
    third = act(client, "sd_case_officer", rect, "reject_report", {"opinion": "不合格"}, expect=422)
    assert third["error"]["reasons"][0]["code"] == "rounds_exhausted"
    assert test_clock.now() > at("2026-01-01 00:00") - timedelta(days=1)


def test_an_upheld_objection_on_a_registered_project_opens_a_rectification(client: TestClient, db: Database,
                                                                          driver, test_clock) -> None:
    """Shandong publicises issuances: an objection then concerns an already registered project."""
    project = registered_project(db, driver, test_clock, "SD")
    cid = open_issuance(client, "SD", project)
    upload_sheet(client, "SD", cid)
    act(client, "sd_applicant", cid, "submit_monitoring_report", report(client, "SD"))
    act(client, "sd_verifier", cid, "verify", {"verified_tco2e": "1000", "opinion": "ok"})
    act(client, "sd_case_officer", cid, "accept")
    act(client, "sd_review_centre", cid, "pass_review", {"opinion": "ok"})
    assert act(client, "sd_approver", cid, "approve", {"issued_tco2e": 1000})["state"]["name"] == "publicity"
    r = client.post(f"/api/v1/public/publicity/{cid}/objections", json={
        "name": "村民丙", "contact": "x", "text": "项目设备去年已停运，减排量不实。"})
    assert r.status_code == 201
    case = act(client, "sd_case_officer", cid, "uphold_objection", {"reasoning": "核实设备停运", "outcome": "rectify"})
    assert case["state"]["name"] == "rejected"
    rect = case["result"]["rectification_case_id"]
    assert client.get(f"/api/v1/cases/{rect}", headers=h("sd_case_officer")).json()["state"]["name"] == "opened"


def test_beijing_revenue_audits_open_rectifications_when_short_or_missing(client: TestClient, db: Database,
                                                                        driver, test_clock) -> None:
    from services.procedures.supervision import open_revenue_audits

    good, short, silent = (registered_project(db, driver, test_clock, "BJ", title=t) for t in ("甲", "乙", "丙"))
    assert open_revenue_audits(db, "BJ", 2025) == {"opened": 3, "skipped": 0}
    assert open_revenue_audits(db, "BJ", 2025) == {"opened": 0, "skipped": 3}
    assert open_revenue_audits(db, "SH", 2025)["opened"] == 0  # Beijing only
    with db.read() as s:
        audits = {c.project_id: c.id for c in s.exec(select(Case).where(Case.procedure == "revenue_audit"))}
    pdf = b"%PDF-1.7\naudit\n%%EOF\n"
    import hashlib

    for project, returned in ((good, "95000"), (short, "80000")):
        up = client.post(f"/api/v1/cases/{audits[project]}/documents", headers=h("bj_applicant"),
                         files={"file": ("审计报告.pdf", pdf, "application/pdf")})
        assert up.status_code == 201, up.text
        case = act(client, "bj_applicant", audits[project], "file_audit", {
            "year": 2025, "proceeds_cny": "120000", "costs_cny": "20000", "returned_to_users_cny": returned,
            "auditor": "某会计师事务所", "report_sha256": hashlib.sha256(pdf).hexdigest()})
        assert case["state"]["name"] == ("filed" if project == good else "below_threshold")
    test_clock.set(at("2026-07-01 09:00"))  # the 2025 audit was due 2026-06-30
    run_due_timers(db, test_clock.now())
    published = {a["project_id"]: a for a in client.get("/api/v1/public/revenue-audits").json()["items"]}
    assert published[good]["returned_share"] == "0.9500" and published[short]["returned_share"] == "0.8000"
    assert published[silent]["state"]["name"] == "missed"
    with db.read() as s:
        rectified = {c.project_id for c in s.exec(select(Case).where(Case.procedure == "rectification"))}
    assert rectified == {short, silent}
