"""Beijing class-2 operation reports on the pages (seeds/002_ed775c38b03cc2a5.txt, 编制说明 第四章): the developer
files the year's report from the case page; the registry's public page shows it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from services.demo import application, drive_to
from services.procedures.supervision import open_operation_reports
from services.store.engine import Database
from services.store.tables import Case

pytestmark = pytest.mark.e2e


def test_the_developer_files_from_the_case_page(db: Database, driver, test_clock, signed_in) -> None:
    cid = driver.open("bj_applicant", "BJ", application("BJ", project_class=2, methodology="BJ-M-LED-002"))
    drive_to(driver, "BJ", cid, "submitted")
    driver.act("bj_case_officer", cid, "disclose", {})
    open_operation_reports(db, "BJ", 2025)
    with db.read() as s:
        case = s.exec(select(Case).where(Case.procedure == "operation_report")).one().id
    owner = signed_in("bj_applicant")
    page = owner.get(f"/cases/{case}")
    assert page.status_code == 200 and 'name="revenue_management_plan"' in page.text
    filed = owner.post_form(f"/cases/{case}", f"/cases/{case}/actions/file_report", {
        "year": "2025", "revenue_management_plan": "扣除成本后全部返还用户", "operation_summary": "运行正常",
        "participants": "120", "reductions_tco2e": "12.5", "revenue_cny": "1000", "returned_to_users_cny": "950"})
    assert filed.status_code in (200, 303), filed.text
    with db.read() as s:
        assert s.get(Case, case).state == "published"
    assert "扣除成本后全部返还用户" in owner.get("/public/registry/operation-reports").text
