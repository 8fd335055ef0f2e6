"""project_registration end to end over HTTP, in each of the five jurisdictions, time moved by the
test clock (the publicity end fires from its timer)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.api import create_app
from services.demo import application, commitments
from services.orchestration.timers import run_due_timers
from services.store.engine import Database
from tests.conftest import at
from tests.e2e.http import attach_required

pytestmark = pytest.mark.e2e


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def h(self, user: str | None, **extra: str) -> dict[str, str]:
        return {**({"Authorization": f"Bearer demo-{user}"} if user else {}), **extra}

    def post(self, user: str | None, path: str, body: Any = None, expect: int = 200, **headers: str) -> dict:
        r = self.client.post(path, json=body if body is not None else {}, headers=self.h(user, **headers))
        assert r.status_code == expect, r.text
        return r.json()

    def get(self, user: str | None, path: str, expect: int = 200, **params: Any) -> dict:
        r = self.client.get(path, params=params, headers=self.h(user))
        assert r.status_code == expect, r.text
        return r.json()

    def act(self, user: str | None, case_id: int, action: str, form: dict | None = None, expect: int = 200) -> dict:
        return self.post(user, f"/api/v1/cases/{case_id}/actions/{action}", form or {}, expect)

    def user_id(self, user: str, db: Database) -> int:
        from services.demo import Driver

        return Driver(db).user_id(user)


@pytest.fixture
def api(db: Database) -> Api:
    return Api(TestClient(create_app(db)))


def register_through(api: Api, db: Database, test_clock, code: str, *, kind: str = "project",
                     project_class: int | None = None) -> dict:
    low = code.lower()
    app = application(code, kind=kind, project_class=project_class)
    case = api.post(f"{low}_applicant", "/api/v1/cases",
                    {"procedure": "project_registration", "jurisdiction": code, "application": app}, 201)
    cid = case["id"]
    assert case["state"]["name"] == "draft"
    assert {a["action"] for a in case["allowed_actions"]} == {"edit", "submit", "withdraw"}
    attach_required(api.client, f"{low}_applicant", cid)
    assert api.act(f"{low}_applicant", cid, "submit", commitments(code))["state"]["name"] == "submitted"
    # the completeness check sits in the case officers' team queue
    queue = api.get(f"{low}_case_officer", "/api/v1/tasks", view="team", jurisdiction=code)
    task = next(t for t in queue["items"] if t["case_id"] == cid)
    assert task["kind"] == "completeness_check" and task["sla_days"] == 5
    api.post(f"{low}_case_officer", f"/api/v1/tasks/{task['id']}/claim")
    body = api.post(f"{low}_case_officer", f"/api/v1/tasks/{task['id']}/complete", {"action": "accept"})
    assert body["state"]["name"] == "technical_review"
    state = api.act(f"{low}_review_centre", cid, "pass_review", {"opinion": "方法学适用，数据可核查"})["state"]["name"]
    if code == "SH" and kind == "scenario":
        assert state == "technical_review"  # waiting for the exchange (art. 13)
        state = api.act(f"{low}_operator", cid, "pass_review", {"opinion": "数据对接校验通过"})["state"]["name"]
    assert state == "expert_review"
    experts = [api.user_id(f"{low}_expert{n}", db) for n in (1, 2, 3)]
    api.act(f"{low}_case_officer", cid, "compose_panel", {"members": experts, "chair": experts[0]})
    for n in (1, 2, 3):
        api.act(f"{low}_expert{n}", cid, "record_opinion", {"opinion": "agree", "score": 80 + n})
    case = api.act(f"{low}_expert1", cid, "panel_pass", {"conclusion": "同意"})
    assert case["state"]["name"] == "authority_decision"
    case = api.act(f"{low}_approver", cid, "approve", {"comments": "同意公示"})
    assert case["state"]["name"] == "publicity"
    notice = case["publicity"]
    assert notice["status"] == "open"
    # not yet: the day before the period closes
    test_clock.set(at(notice["last_day"] + " 23:59"))
    assert run_due_timers(db)["fired"] == []
    test_clock.advance(timedelta(minutes=1))
    fired = run_due_timers(db)["fired"]
    assert [f["state"] for f in fired if f["case_id"] == cid] == ["registered"]
    case = api.get(f"{low}_applicant", f"/api/v1/cases/{cid}")
    assert case["state"]["name"] == "registered"
    return case


@pytest.mark.parametrize("code", ["SH", "BJ", "ORD", "SD"])
def test_registration_draft_to_registered(api: Api, db: Database, test_clock, code: str) -> None:
    case = register_through(api, db, test_clock, code, project_class=1 if code == "BJ" else None)
    number = case["subject"]["registration_number"]
    assert number.startswith(f"{code}-2026-P")
    registry = api.get(None, "/api/v1/public/projects", jurisdiction=code)
    assert number in {p["registration_number"] for p in registry["items"]}
    events = api.get(f"{code.lower()}_case_officer", f"/api/v1/cases/{case['id']}/events")["items"]
    assert events[0]["event"] == "created" and events[-1]["event"] == "publicity_end"
    assert api.get("demo_admin", "/api/v1/audit/verify")["ok"] is True


def test_shanghai_scenario_needs_both_joint_reviews(api: Api, db: Database, test_clock) -> None:
    case = register_through(api, db, test_clock, "SH", kind="scenario")
    assert case["subject"]["registration_number"].startswith("SH-2026-S")


def test_beijing_class2_is_disclosed_not_registered(api: Api, db: Database, test_clock) -> None:
    app = application("BJ", project_class=2, methodology="BJ-M-LED-002")
    cid = api.post("bj_applicant", "/api/v1/cases",
                   {"procedure": "project_registration", "jurisdiction": "BJ", "application": app}, 201)["id"]
    attach_required(api.client, "bj_applicant", cid)
    api.act("bj_applicant", cid, "submit", commitments("BJ"))
    refused = api.act("bj_case_officer", cid, "accept", {}, expect=422)
    assert [r["code"] for r in refused["error"]["reasons"]] == ["class2_not_registered"]
    case = api.act("bj_case_officer", cid, "disclose", {})
    assert case["state"]["name"] == "disclosed" and case["subject"]["status"] == "disclosed"
    assert case["subject"]["registration_number"] is None


def test_jiaxing_has_no_separate_registration(api: Api) -> None:
    body = api.post("jx_applicant", "/api/v1/cases", {"procedure": "project_registration", "jurisdiction": "JX",
                                                      "application": application("JX")}, 422)
    reason = body["error"]["reasons"][0]
    assert reason["code"] == "no_separate_registration"
    assert "嘉兴" in reason["zh"] and "first reduction filing" in reason["en"]


def test_objection_during_publicity_goes_to_review_then_registered(api: Api, db: Database, test_clock) -> None:
    low = "sd"
    cid = api.post(f"{low}_applicant", "/api/v1/cases", {"procedure": "project_registration", "jurisdiction": "SD",
                                                         "application": application("SD")}, 201)["id"]
    from services.demo import Driver, drive_to

    assert drive_to(Driver(db), "SD", cid, "publicity") == "publicity"
    receipt = api.post(None, f"/api/v1/public/publicity/{cid}/objections",
                       {"name": "张三", "contact": "13800000000", "text": "该项目与已登记项目重复，请核实。"}, 201)
    assert receipt["receipt"].startswith("OBJ-")
    case = api.get("sd_case_officer", f"/api/v1/cases/{cid}")
    assert [t["kind"] for t in case["open_tasks"]] == ["objection_review"]
    # the objector's contact never reaches the audit trail
    events = api.get("sd_case_officer", f"/api/v1/cases/{cid}/events")["items"]
    assert "13800000000" not in str(events)
    notice = case["publicity"]
    test_clock.set(at(notice["last_day"]) + timedelta(days=1))
    run_due_timers(db)
    case = api.get("sd_case_officer", f"/api/v1/cases/{cid}")
    assert case["state"]["name"] == "objection_review"
    assert [t["kind"] for t in case["open_tasks"]] == ["objection_review"]  # carried over, not duplicated
    case = api.act("sd_case_officer", cid, "dismiss_objections", {"reasoning": "经核实不重复"})
    assert case["state"]["name"] == "registered"
    # objections only while the notice is open
    api.post(None, f"/api/v1/public/publicity/{cid}/objections",
             {"name": "李四", "contact": "x", "text": "too late to object now"}, 404)


def test_upheld_objection_sends_case_back_to_technical_review(api: Api, db: Database, test_clock) -> None:
    from services.demo import Driver, drive_to

    cid = api.post("ord_applicant", "/api/v1/cases", {"procedure": "project_registration", "jurisdiction": "ORD",
                                                      "application": application("ORD")}, 201)["id"]
    drive_to(Driver(db), "ORD", cid, "publicity")
    api.post(None, f"/api/v1/public/publicity/{cid}/objections",
             {"name": "王五", "contact": "w@example.cn", "text": "监测数据与实际运行不符。"}, 201)
    case = api.act("ord_case_officer", cid, "uphold_objection", {"reasoning": "数据存疑", "outcome": "re_review"})
    assert case["state"]["name"] == "technical_review"
    assert case["publicity"]["status"] == "closed" and case["timers"] == []


def test_the_objector_follows_the_objection_by_its_receipt(api: Api, db: Database) -> None:
    """Issue 15: the receipt leads to the objection's status and where the case stands; nothing about the
    objector (name, contact, text) nor anyone else's objection; unknown receipts are 404, zh and en, and an
    address that guesses too often waits (429)."""
    from services.demo import Driver, drive_to

    cid = api.post("ord_applicant", "/api/v1/cases", {"procedure": "project_registration", "jurisdiction": "ORD",
                                                      "application": application("ORD")}, 201)["id"]
    drive_to(Driver(db), "ORD", cid, "publicity")
    mine = api.post(None, f"/api/v1/public/publicity/{cid}/objections",
                    {"name": "王五", "contact": "w@example.cn", "text": "监测数据与实际运行不符。"}, 201)
    api.post(None, f"/api/v1/public/publicity/{cid}/objections",
             {"name": "赵六", "contact": "13800000000", "text": "另一份异议：公示材料中的地址有误。"}, 201)
    assert mine["check"] == f"/api/v1/public/objections/{mine['receipt']}"
    status = api.get(None, mine["check"])
    assert (status["status"]["name"], status["status"]["zh"], status["case_state"]["name"]) == (
        "open", "待处理", "publicity")
    assert status["case_id"] == cid and status["decided_at"] is None and status["notice_title"]
    said = str(status)
    assert not any(x in said for x in ("王五", "w@example.cn", "监测数据", "赵六", "13800000000", "另一份"))
    assert api.get(None, f"/api/v1/public/objections/{mine['receipt'].lower()} ")["receipt"] == mine["receipt"]
    api.act("ord_case_officer", cid, "uphold_objection", {"reasoning": "数据存疑", "outcome": "re_review"})
    status = api.get(None, mine["check"])
    assert (status["status"]["name"], status["case_state"]["name"]) == ("upheld", "technical_review")
    assert status["decided_at"] is not None
    unknown = api.get(None, "/api/v1/public/objections/OBJ-20260101-00000000", 404)["error"]["reasons"][0]
    assert unknown["code"] == "objection_receipt_unknown" and unknown["zh"] and unknown["en"]
    for _ in range(9):  # ten wrong receipts from one address: the next attempt waits, even a right one
        api.get(None, "/api/v1/public/objections/OBJ-20260101-00000000", 404)
    r = api.client.get(mine["check"])
    assert r.status_code == 429 and int(r.headers.get("Retry-After", "0")) > 0


def test_submit_without_the_required_documents_is_refused_with_the_list(api: Api) -> None:
    """Beijing 编制说明 4(二): the implementation plan is registration material (and 3 第五章 the project
    design document): a submission without them is refused with one reason a missing type, zh and en,
    and nothing moves; a document of a type the application does not have is refused too."""
    app = application("BJ", project_class=1)
    cid = api.post("bj_applicant", "/api/v1/cases",
                   {"procedure": "project_registration", "jurisdiction": "BJ", "application": app}, 201)["id"]
    refused = api.act("bj_applicant", cid, "submit", commitments("BJ"), expect=422)["error"]["reasons"]
    assert [(r["code"], r["field"]) for r in refused] == [("document_missing", "documents.project_design"),
                                                          ("document_missing", "documents.implementation_plan")]
    assert "组织实施方案" in refused[1]["zh"] and "Implementation plan" in refused[1]["en"]
    assert "北京编制说明 4(二)" in refused[1]["zh"]
    assert api.get("bj_applicant", f"/api/v1/cases/{cid}")["state"]["name"] == "draft"
    pdf = b"%PDF-1.4\n%%EOF\n"
    r = api.client.post(f"/api/v1/cases/{cid}/documents", headers=api.h("bj_applicant"), data={"kind": "nonsense"},
                        files={"file": ("x.pdf", pdf, "application/pdf")})
    assert r.status_code == 422 and r.json()["error"]["reasons"][0]["code"] == "document_kind"
    r = api.client.post(f"/api/v1/cases/{cid}/documents", headers=api.h("bj_applicant"),
                        data={"kind": "implementation_plan"}, files={"file": ("方案.pdf", pdf, "application/pdf")})
    assert r.status_code == 201 and r.json()["kind"] == "implementation_plan"
    refused = api.act("bj_applicant", cid, "submit", commitments("BJ"), expect=422)["error"]["reasons"]
    assert [r["field"] for r in refused] == ["documents.project_design"]
    attach_required(api.client, "bj_applicant", cid)
    assert api.act("bj_applicant", cid, "submit", commitments("BJ"))["state"]["name"] == "submitted"
