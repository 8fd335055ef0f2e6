"""Beijing class-2 projects report how they run (seeds/002_ed775c38b03cc2a5.txt, 编制说明 第四章 二类项目报告:
二类项目制定碳普惠收益管理方案、公开项目运行情况; reading in states/operation_report.py): the yearly campaign opens
a report for each disclosed class-2 project (not the registered class-1 ones, and nowhere else), due on 30
June of the following year with the sweep's reminders and a deadline timer; the developer files the
revenue-management plan and the year's operation (every reason at once when it does not fit); the public
page shows it, and a missed report as missed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.demo import application, drive_to
from services.orchestration.sweep import send_reminders
from services.orchestration.timers import run_due_timers
from services.procedures.supervision import open_operation_reports
from services.store.engine import Database
from services.store.tables import Case, Outbox, Task, Timer
from tests.conftest import at
from tests.e2e.http import act
from tests.e2e.test_issuance_http import registered_project

pytestmark = pytest.mark.e2e

REPORT = {"year": 2025, "revenue_management_plan": "收益扣除运营成本后全部以积分形式返还参与用户",
          "operation_summary": "全年运行正常，覆盖12个社区", "participants": 5200, "reductions_tco2e": "310.5",
          "revenue_cny": "42000.00", "returned_to_users_cny": "39000.00"}


def test_class_2_projects_file_a_yearly_operation_report_that_is_published(client: TestClient, db: Database,
                                                                             driver, test_clock) -> None:
    registered_project(db, driver, test_clock, "BJ")  # class 1: audits, not operation reports
    cid = driver.open("bj_applicant", "BJ", application("BJ", project_class=2, methodology="BJ-M-LED-002"))
    drive_to(driver, "BJ", cid, "submitted")
    driver.act("bj_case_officer", cid, "disclose", {})
    with db.read() as s:
        project = s.get(Case, cid).project_id
    assert open_operation_reports(db, "BJ", 2025) == {"opened": 1, "skipped": 0}
    assert open_operation_reports(db, "BJ", 2025) == {"opened": 0, "skipped": 1}  # idempotent
    assert open_operation_reports(db, "SH", 2025)["opened"] == 0  # Beijing only
    with db.read() as s:
        case = s.exec(select(Case).where(Case.procedure == "operation_report", Case.project_id == project)).one()
        task = s.exec(select(Task).where(Task.case_id == case.id, Task.status == "open")).one()
        timer = s.exec(select(Timer).where(Timer.case_id == case.id, Timer.status == "pending")).one()
    assert (case.state, task.kind, task.role, task.due_on.isoformat()) == ("due", "operation_report", "applicant",
                                                                           "2026-06-30")
    assert timer.trigger == "report_deadline"
    (listed,) = client.get("/api/v1/public/operation-reports", params={"jurisdiction": "BJ"}).json()["items"]
    assert (listed["year"], listed["state"]["name"], listed["due_on"], listed["report"]) == (2025, "due",
                                                                                          "2026-06-30", None)
    # the sweep reminds the developer before the day
    test_clock.set(at("2026-06-26 09:00"))
    assert send_reminders(db, test_clock.now()) >= 1
    with db.read() as s:
        assert s.exec(select(Outbox).where(Outbox.key == f"reminder:task:{task.id}:2")).first() is not None

    # every reason at once, in both languages; only the owner files
    bad = act(client, "bj_applicant", case.id, "file_report",
              {**REPORT, "year": 2024, "returned_to_users_cny": "50000.00"}, expect=422)["error"]["reasons"]
    assert {r["code"] for r in bad} == {"operation_report_year", "returned_over_revenue"}
    assert all(r["zh"] and r["en"] for r in bad)
    act(client, "bj_applicant2", case.id, "file_report", REPORT, expect=404)  # not even seen by another firm
    done = act(client, "bj_applicant", case.id, "file_report", REPORT)
    assert done["state"]["name"] == "published"
    (listed,) = client.get("/api/v1/public/operation-reports", params={"project_id": project}).json()["items"]
    assert listed["report"]["revenue_management_plan"] == REPORT["revenue_management_plan"]
    page = client.get("/public/registry/operation-reports", params={"jurisdiction": "BJ"}).text
    assert REPORT["revenue_management_plan"] in page and REPORT["operation_summary"] in page

    # a year not reported by its deadline is published as missed
    assert open_operation_reports(db, "BJ", 2024)["opened"] == 1  # due 2025-06-30, already past
    run_due_timers(db, test_clock.now())
    years = {r["year"]: r for r in client.get("/api/v1/public/operation-reports",
                                              params={"project_id": project}).json()["items"]}
    assert years[2024]["state"]["name"] == "missed" and years[2024]["report"] is None
    assert "逾期未报告" in client.get("/public/registry/operation-reports").text
