"""The review centre verifies a scenario's month from the page and reads the report with its charts; the
approver opens the same report (Ordos art. 15: scenario reductions verified digitally, then approved)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import Site, Visitor
from tests.scenario_data import february


def test_the_review_centre_verifies_a_month_and_the_approver_reads_the_report(
        new_visitor, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))  # absolute paths the server reads
    pid = february(site.db, "ORD")
    centre: Visitor = new_visitor("review-centre")
    centre.sign_in("ord_review_centre")
    page = centre.page
    centre.goto(f"/scenarios/{pid}/verification", "verification")
    page.get_by_role("textbox", name="期间").fill("2026-13")
    page.get_by_role("button", name="运行核证").click()
    page.wait_for_load_state()
    centre.shot("unknown-period")
    assert "期间“2026-13”无法识别" in page.get_by_role("alert").inner_text()
    page.get_by_role("textbox", name="期间").fill("2026-02")
    page.get_by_role("button", name="运行核证").click()
    page.wait_for_load_state()
    centre.shot("report")
    assert re.search(rf"/scenarios/{pid}/reports/\d+$", page.url)
    assert page.locator('[data-figure="reduction_g"]').inner_text() == "34.7 kgCO2e"
    chart = page.get_by_role("img", name="每日减排量")
    assert chart.is_visible() and chart.locator("rect.bar.marked").count() == 1
    assert page.get_by_role("img", name="每日计入记录数").is_visible()
    assert page.locator('[data-anomaly="2026-02-04"]').is_visible()
    assert "疑似手机号" in page.locator('[data-rejection="pii_phone"]').inner_text()
    report_url = page.url
    approver: Visitor = new_visitor("approver")
    approver.sign_in("ord_approver")
    approver.goto(f"/scenarios/{pid}/verification", "reports")
    assert approver.page.get_by_role("textbox", name="期间").count() == 0  # the approver reads; the review centre runs
    approver.page.get_by_role("link", name="2026-02").click()
    approver.page.wait_for_load_state()
    approver.shot("report")
    assert approver.page.url == report_url
    assert approver.page.locator("code[data-digest]").inner_text() == page.locator("code[data-digest]").inner_text()
