"""The scenario pages (issue 17): the individual's account opened with a lookup token (reductions per period,
points, the inclusion proof; Shandong refuses moving points, 编制说明 二(二)), the public statistics with no
personal data (Shanghai art. 22), and the officer's view of a scenario issuance case (the report summary and
the allocation root)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from services.orchestration.dispatch import drain
from services.store.tables import Case
from states.messages import CATALOGUE
from tests.conftest import at
from tests.e2e.http import h
from tests.e2e.scenario_fixtures import approve_period, issue_period, scenario_with_data, token_for
from tests.web.conftest import Browser

pytestmark = pytest.mark.e2e


@pytest.fixture
def issued(app, db, test_clock, tmp_path, monkeypatch):
    def make(code: str) -> tuple[int, dict, TestClient]:
        monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))
        api = TestClient(app)
        pid = scenario_with_data(db, code, date(2026, 2, 1), date(2026, 2, 28))
        test_clock.set(at("2026-03-10 09:00"))
        _, allocation = issue_period(api, db, code, pid)
        return pid, allocation, api
    return make


def test_an_individual_opens_their_account_with_the_token_and_sees_points_and_proof(
        issued, browser: Browser) -> None:
    pid, allocation, api = issued("ORD")
    token = token_for(api, "ORD", pid, "u-alice")
    form = browser.get("/my-reductions")
    assert form.status_code == 200 and 'name="token"' in form.text
    wrong = browser.post_form("/my-reductions", "/my-reductions", {"token": "spa_not-a-token"})
    assert wrong.status_code == 404 and "查询码无效" in wrong.text
    page = browser.post_form("/my-reductions", "/my-reductions", {"token": token})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "u-alice" in page.text and "2026-02" in page.text and allocation["root"] in page.text
    assert "RFC 9162" in page.text and token not in page.url.path
    # a transfer from the page: Ordos allows it
    sent = browser.post_form("/my-reductions", "/my-reductions/transfer",
                             {"token": token, "to_user_id": "u-bob", "points": "5", "_idem": "p1"})
    assert sent.status_code == 201 and "u-bob" in sent.text
    again = browser.post_form("/my-reductions", "/my-reductions/transfer",
                              {"token": token, "to_user_id": "u-bob", "points": "5", "_idem": "p1"})
    assert again.status_code == 201  # the same form sent twice moves the points once
    points = api.get("/api/v1/scenario-account", headers={"X-Lookup-Token": token}).json()["points"]
    assert points["sent"] == 5


def test_a_transfer_sent_while_points_are_owed_is_refused_saying_why(issued, browser: Browser) -> None:
    pid, _, api = issued("ORD")
    token = token_for(api, "ORD", pid, "u-alice")
    sent = browser.post_form("/my-reductions", "/my-reductions/transfer",
                             {"token": token, "to_user_id": "u-bob", "points": "100", "_idem": "p1"})
    assert sent.status_code == 201
    ev = api.post(f"/api/v1/projects/{pid}/evaluations", headers=h("ord_case_officer"), json={
        "summary": "数据异常", "findings": [{"severity": "high", "category": "data_anomaly",
                                            "description": "u-alice 异常", "needs_action": False}]}).json()
    assert api.post(f"/api/v1/scenarios/{pid}/corrections", headers=h("ord_case_officer"), json={
        "evaluation_id": ev["id"], "period": "2026-02", "users": [{"user_id": "u-alice"}],
        "reason": "异常"}).status_code == 201
    page = browser.post_form("/my-reductions", "/my-reductions", {"token": token})
    assert 'data-testid="points-owed">100<' in page.text and 'action="/my-reductions/transfer"' not in page.text
    # a form drawn before the correction, sent after it
    stale = browser.post_form("/my-reductions", "/my-reductions/transfer",
                              {"token": token, "to_user_id": "u-bob", "points": "1", "_idem": "p2"})
    assert stale.status_code == 422 and "尚欠 100 积分" in stale.text and "鄂尔多斯办法第十一条" in stale.text


def test_shandong_refuses_a_transfer_on_the_page_in_both_languages(issued, browser: Browser) -> None:
    pid, _, api = issued("SD")
    token = token_for(api, "SD", pid, "u-alice")
    refused = browser.post_form("/my-reductions", "/my-reductions/transfer",
                                {"token": token, "to_user_id": "u-bob", "points": "5", "_idem": "p1"})
    assert refused.status_code == 422 and "不可在个人之间转让" in refused.text
    browser.client.cookies.set("lang", "en")
    refused = browser.post_form("/my-reductions", "/my-reductions/transfer",
                                {"token": token, "to_user_id": "u-bob", "points": "5", "_idem": "p2"})
    assert refused.status_code == 422 and "cannot move between individuals" in refused.text


def test_public_statistics_show_periods_without_personal_data(issued, browser: Browser) -> None:
    pid, allocation, _ = issued("ORD")
    page = browser.get(f"/public/scenarios/{pid}")
    assert page.status_code == 200
    assert "2026-02" in page.text and allocation["root"] in page.text and ">6<" in page.text
    assert "u-alice" not in page.text and "u-bob" not in page.text
    assert browser.get("/public/scenarios/999999").status_code == 404


def test_the_officer_sees_the_report_summary_and_the_allocation_root(issued, db, signed_in) -> None:
    pid, allocation, _ = issued("ORD")
    with db.read() as s:
        cid = s.exec(select(Case.id).where(col(Case.procedure) == "scenario_issuance")).one()
    page = signed_in("ord_review_centre").get(f"/cases/{cid}")
    assert page.status_code == 200
    assert "数字化核证报告与分配" in page.text and allocation["root"] in page.text


def test_the_case_shows_the_minting_queued_then_done_and_every_figure_labelled(app, db, test_clock, tmp_path,
                                                                                monkeypatch, signed_in) -> None:
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))
    api = TestClient(app)
    pid = scenario_with_data(db, "ORD", date(2026, 2, 1), date(2026, 2, 28))
    test_clock.set(at("2026-03-10 09:00"))
    cid = approve_period(api, db, "ORD", pid)
    officer = signed_in("ord_review_centre")
    page = officer.get(f"/cases/{cid}")
    assert page.status_code == 200 and "正在排队铸造并按用户分配" in page.text
    assert 'data-testid="allocation-root"' not in page.text
    # every figure of the report the case carries has its label, none shows a raw key
    keys = re.findall(r'<dt data-figure="([^"]+)">([^<]*)</dt>', page.text)
    assert {"participants", "records.counted", "totals.reduction_g", "exclusions.no_consent"} <= {k for k, _ in keys}
    assert all(shown and shown != key and CATALOGUE[f"figure.{key}"][0] == shown for key, shown in keys)
    drain(db)
    page = officer.get(f"/cases/{cid}")
    assert 'data-testid="allocation-root"' in page.text and 'data-testid="minting"' not in page.text
