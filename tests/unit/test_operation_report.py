"""Beijing class-2 operation reports as pure rules; no database.

Seed: 002_ed775c38b03cc2a5.txt, 编制说明 第四章 (二类项目报告: 二类项目制定碳普惠收益管理方案、公开项目运行情况)
and 4(一) (二类项目仅公开项目信息及运行情况，不签发减排量). Reading: states/operation_report.py (yearly, due 30 June).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from forms.supervision import OperationReport
from states import operation_report
from states.machine import ProcedureUnavailable, procedure
from states.profiles import get_profile
from states.tasks import DueInput

REPORT = {"year": 2025, "revenue_management_plan": "返还用户", "operation_summary": "正常", "participants": 10,
          "reductions_tco2e": "1.5", "revenue_cny": "100.00", "returned_to_users_cny": "90.00"}


def test_only_beijing_and_only_disclosed_class_2_projects_owe_reports() -> None:
    bj = get_profile("BJ")
    assert operation_report.opening_reasons(bj, project_class=2, project_status="disclosed") == []
    for cls, status in ((1, "registered"), (2, "draft"), (None, "disclosed")):
        assert [r.code for r in operation_report.opening_reasons(bj, project_class=cls, project_status=status)] == [
            "operation_report_class_2_only"]
    for code in ("SH", "JX", "ORD", "SD"):
        assert [r.code for r in operation_report.opening_reasons(get_profile(code), project_class=2,
                                                                 project_status="disclosed")] == [
            "operation_report_not_here"]
        with pytest.raises(ProcedureUnavailable):
            procedure("operation_report", code)


def test_the_report_is_of_its_year_and_returns_no_more_than_it_took() -> None:
    bj = get_profile("BJ")
    assert operation_report.report_reasons(bj, 2025, OperationReport.model_validate(REPORT)) == []
    both = operation_report.report_reasons(bj, 2026, OperationReport.model_validate(
        {**REPORT, "returned_to_users_cny": "100.01"}))
    assert [r.code for r in both] == ["operation_report_year", "returned_over_revenue"]
    assert "Beijing note" in both[1].en and Decimal("100.01") == both[1].params["returned"]


def test_due_on_30_june_of_the_following_year_with_a_deadline_timer() -> None:
    spec = procedure("operation_report", "BJ")
    (due_state,) = [s for s in spec.states if s.name == "due"]
    (task,) = due_state.tasks
    (timer,) = due_state.timers
    assert (task.role, task.triggers, timer.trigger) == ("applicant", ("file_report",), "report_deadline")
    inp = DueInput(jurisdiction="BJ", application={}, vintage=2025, today=date(2026, 1, 5), profile=get_profile("BJ"),
                   calendar=None)
    assert operation_report.DUE(inp).on == date(2026, 6, 30)
    assert spec.arrows("file_report", "due")[0].owner_only
