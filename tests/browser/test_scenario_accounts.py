"""Scenario issuance in the browser (issue 17): the approver approves and the case shows the minting queued
until the dispatcher records it; an individual opens their account with the lookup token their enterprise
handed them, reads their reductions per period, their points and the inclusion proof (checked here by RFC
9162 written out in tests/e2e/scenario_fixtures.py), sends points, and after a correction (Ordos art. 11)
sees what they owe; the public statistics page shows the period without a pseudonym; the enterprise reads
its batches, a batch's refused rows (downloaded as CSV) and its consent feed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from forms.scenarios import Correction
from services.engine.clock import clock
from services.orchestration.dispatch import drain
from services.procedures import supervision
from services.procedures.scenarios import accounts, correction
from services.procedures.scenarios.issuance import run_scenario_campaign
from services.store.tables import Case, Project, ScenarioAllocation
from tests.browser.conftest import Site, Visitor
from tests.e2e.scenario_fixtures import rfc9162_root, scenario_with_data
from tests.scenario_data import send_direct

FEB = (date(2026, 2, 1), date(2026, 2, 28))


def approved(site: Site, pid: int) -> int:
    """The campaign opens the period's case; the review centre passes it and the approver approves."""
    run_scenario_campaign(site.db, "ORD")
    with site.db.read() as s:
        cid = s.exec(select(Case.id).where(col(Case.procedure) == "scenario_issuance", col(Case.project_id) == pid,
                                           col(Case.application)["period"].as_string() == "2026-02")).one()
    site.driver.act("ord_review_centre", cid, "pass_review", {"opinion": "数字化核证报告审核通过"})
    assert site.driver.act("ord_approver", cid, "approve", {}) == "issued"
    return cid


def token(site: Site, pid: int, user: str) -> str:
    """What the enterprise's app hands the user (POST /api/v1/scenarios/{id}/lookup-tokens)."""
    with site.db.write() as s:
        project = s.get(Project, pid)
        assert project is not None
        return accounts.issue_token(s, project, user, None, clock.now())


def open_account(v: Visitor, lookup: str, name: str, english: bool = False) -> Any:
    page = v.page
    v.goto("/my-reductions", f"{name}-form")
    page.get_by_label("Lookup token" if english else "查询码").fill(lookup)
    page.get_by_role("button", name="Open" if english else "查询", exact=True).click()
    page.wait_for_load_state()
    v.shot(name)
    return page


def test_the_case_shows_the_minting_until_done_and_the_individual_reads_points_and_a_proof(
        new_visitor, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))
    pid = scenario_with_data(site.db, "ORD", *FEB, title="地铁出行（账户）")
    cid = approved(site, pid)
    approver: Visitor = new_visitor("approver")
    approver.sign_in("ord_approver")
    approver.goto(f"/cases/{cid}", "case-minting-queued")
    section = approver.page.locator("#scenario-report")
    assert "已批准，正在排队铸造并按用户分配" in section.get_by_test_id("minting").inner_text()
    # the header's state ("issued", the decision) says beside it that the minting is still to come
    assert "正在排队铸造" in approver.page.get_by_test_id("minting-badge").inner_text()
    assert section.get_by_test_id("allocation-root").count() == 0
    # every figure of the report has its label: no raw key on the page
    labels = section.locator("dt[data-figure]")
    assert labels.count() >= 10
    assert all(labels.nth(i).inner_text() != labels.nth(i).get_attribute("data-figure") for i in range(labels.count()))
    drain(site.db)  # the dispatch flow's loop
    approver.goto(f"/cases/{cid}", "case-issued")
    with site.db.read() as s:
        root = s.exec(select(ScenarioAllocation.root).where(col(ScenarioAllocation.case_id) == cid)).one()
    assert section.get_by_test_id("allocation-root").inner_text() == root
    assert section.get_by_test_id("minting").count() == 0
    assert approver.page.get_by_test_id("minting-badge").count() == 0
    # the enterprise sees the period it holds on its users' behalf
    enterprise = new_visitor("enterprise")
    enterprise.sign_in("ord_applicant")
    enterprise.goto(f"/applicant/scenarios/{pid}", "issued")
    issued = enterprise.page.locator('table[data-kind="issued"] tr[data-period="2026-02"] td')
    assert [issued.nth(i).inner_text() for i in range(3)] == ["2026-02", "9", "6"]

    alice = new_visitor("alice")
    page = open_account(alice, "spa_not-a-token", "wrong-token")
    assert "查询码无效" in page.locator("main").inner_text()
    page = open_account(alice, token(site, pid, "u-alice"), "account")
    assert "u-alice" in page.locator("main").inner_text()
    row = page.locator("table.grid tbody tr").first
    assert row.locator("td").first.inner_text() == "2026-02"
    available = int(page.get_by_test_id("points-balance").inner_text().replace(",", ""))
    assert available > 0 and page.get_by_test_id("points-owed").count() == 0
    # the proof, opened and checked apart from the system's code
    page.get_by_text("2026-02 期分配的包含证明").click()
    alice.shot("proof")
    proof = page.locator("details").first
    values = proof.locator("dd")
    leaf = values.nth(0).inner_text().strip()
    index, size = (int(x) for x in values.nth(1).inner_text().split("/"))
    path = [bytes.fromhex(c.inner_text()) for c in values.nth(2).locator("code").all()]
    shown_root = values.nth(3).inner_text().strip()
    assert shown_root == root and rfc9162_root(leaf.encode(), index, size, path).hex() == root
    # points sent to bob from the page (Ordos lets them move)
    page.get_by_label("接收人用户编号").fill("u-bob")
    page.get_by_role("textbox", name="积分", exact=True).fill(str(available - 10))
    page.get_by_role("button", name="转让", exact=True).click()
    page.wait_for_load_state()
    alice.shot("sent")
    assert f"已向 u-bob 转让 {available - 10} 积分" in page.get_by_role("status").inner_text()

    # Ordos art. 11: an evaluation finds alice's data anomalous; her points are withdrawn in full
    officer = site.driver.actor("ord_case_officer")
    evaluation = supervision.record_evaluation(site.db, pid, officer, "数据异常", [
        {"severity": "high", "category": "data_anomaly", "description": "u-alice 异常", "needs_action": False}])
    with site.db.write() as s:
        correction.apply(s, pid, Correction.model_validate({
            "evaluation_id": evaluation["id"], "period": "2026-02", "users": [{"user_id": "u-alice"}],
            "reason": "骑行记录异常"}), officer.user_id, clock.now())
    page = open_account(alice, token(site, pid, "u-alice"), "owed")
    owed = available - 10
    assert page.get_by_test_id("points-balance").inner_text() == "0"
    assert page.get_by_test_id("points-owed").inner_text() == f"{owed:,}"
    note = page.get_by_test_id("points-owed-note").inner_text()
    assert "鄂尔多斯办法第十一条" in note and "优先抵扣" in note and f"{owed:,}" in note
    # no transfer form while points are owed (the API refuses one: points_owed)
    assert "抵扣完毕前不能转出积分" in page.get_by_test_id("transfer-closed").inner_text()
    assert page.get_by_role("button", name="转让", exact=True).count() == 0
    # the same in English
    alice.page.context.add_cookies([{"name": "lang", "value": "en", "url": site.url}])
    page = open_account(alice, token(site, pid, "u-alice"), "owed-en", english=True)
    assert "Ordos art. 11" in page.get_by_test_id("points-owed-note").inner_text()
    assert "offset against the points you earn" in page.get_by_test_id("points-owed-note").inner_text()


def test_the_public_reads_a_scenarios_periods_without_personal_data(
        visitor: Visitor, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))
    pid = scenario_with_data(site.db, "ORD", *FEB, title="地铁出行（统计）")
    cid = approved(site, pid)
    visitor.goto(f"/public/scenarios/{pid}", "statistics-before")
    assert "尚无签发" in visitor.page.locator("main").inner_text()
    drain(site.db)
    visitor.goto(f"/public/scenarios/{pid}", "statistics")
    with site.db.read() as s:
        a = s.exec(select(ScenarioAllocation).where(col(ScenarioAllocation.case_id) == cid)).one()
    cells = visitor.page.locator("table.grid tbody tr").first.locator("td")
    assert [cells.nth(i).inner_text() for i in range(4)] == ["2026-02", "9", "6,077.960", "6"]
    assert cells.nth(6).inner_text() == a.root
    text = visitor.page.locator("main").inner_text()
    assert "u-alice" not in text and "u-bob" not in text
    visitor.page.get_by_role("link", name="查询我的个人减排账户").click()
    visitor.page.wait_for_load_state()
    assert visitor.page.url.endswith("/my-reductions")


def test_the_enterprise_reads_its_batches_refused_rows_and_consent_feed(
        visitor: Visitor, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))
    pid = scenario_with_data(site.db, "ORD", date(2026, 2, 1), date(2026, 2, 7), title="地铁出行（批次）")
    send_direct(site.db, pid, "records", "bad-day", date(2026, 2, 8), [
        ("x1", "u-alice", "metro_trip", "12", "2026-02-08"),
        ("x2", "13812345678", "metro_trip", "5", "2026-02-08"),  # a phone number as the user (Shanghai art. 22)
        ("x3", "u-bob", "teleport", "1", "2026-02-08")])
    visitor.sign_in("ord_applicant")
    visitor.goto("/applicant/scenarios", "scenarios")
    visitor.page.locator(f'a[href="/applicant/scenarios/{pid}"]').first.click()
    visitor.page.wait_for_load_state()
    visitor.shot("scenario")
    page = visitor.page
    bad = page.locator('table[data-kind="records"] tr[data-batch="bad-day"]')
    cells = bad.locator("td")
    assert [cells.nth(i).inner_text() for i in (3, 4, 5)] == ["3", "1", "2"]
    assert "疑似手机号" in bad.locator('li[data-code="pii_phone"]').inner_text()
    with page.expect_download() as download:
        bad.get_by_role("link", name="下载拒收记录（CSV）").click()
    csv = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "13812345678" in csv and "teleport" in csv and "x1" not in csv
    assert "尚无签发" in page.locator("#issued").inner_text()
    consents = page.locator('table[data-kind="consents"] tbody tr')
    assert consents.count() == 1 and consents.first.locator("td").nth(3).inner_text() == "9"
    page.get_by_role("button", name="签发凭证").click()
    page.wait_for_load_state()
    visitor.shot("credential")
    assert page.locator("code.token").inner_text().startswith("scn_")
