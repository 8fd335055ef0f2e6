"""The verification report page for the review centre and the approver (Ordos art. 15; issue 17 "Pages"):
the review centre verifies a period from the page (an unknown period refused beside the form, in words),
the report shows its counts, server-drawn SVG charts with the anomalous day marked, rejections and
exclusions by reason with their catalogue labels, anomalies and the input files' hashes."""

from __future__ import annotations

import re

import pytest

from services.store.engine import Database
from services.web.charts import Bar, bar_chart
from tests.scenario_data import february, scenario_files  # noqa: F401 - pytest fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("scenario_files")]


def test_the_review_centre_verifies_from_the_page_and_the_approver_reads_the_report(db: Database,
                                                                                   signed_in) -> None:
    pid = february(db, "ORD")
    centre = signed_in("ord_review_centre")
    assert f'href="/scenarios/{pid}/verification"' in centre.get(f"/projects/{pid}").text  # from the scenario's page
    page = centre.get(f"/scenarios/{pid}/verification")
    assert page.status_code == 200 and 'name="period"' in page.text and "尚无核证报告" in page.text
    bad = centre.post_form(f"/scenarios/{pid}/verification", f"/scenarios/{pid}/verification", {"period": "2026-13"})
    assert bad.status_code == 422 and "期间“2026-13”无法识别" in bad.text and "按月" in bad.text
    ok = centre.post_form(f"/scenarios/{pid}/verification", f"/scenarios/{pid}/verification", {"period": "2026-02"})
    assert ok.status_code == 303
    location = ok.headers["location"]
    assert re.fullmatch(rf"/scenarios/{pid}/reports/\d+", location)
    approver = signed_in("ord_approver")
    listed = approver.get(f"/scenarios/{pid}/verification")
    assert listed.status_code == 200 and 'name="period"' not in listed.text  # the approver reads, does not run
    assert location in listed.text and "34.7" in listed.text
    report = approver.get(location).text
    assert 'data-figure="reduction_g">34.7 kgCO2e' in report and 'data-figure="participants">2<' in report
    assert report.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2 and "<script" not in report.split("<main")[1]
    assert report.count('class="bar marked"') == 1  # 2026-02-04, the anomalous day
    assert 'data-anomaly="2026-02-04"' in report
    assert re.search(r'data-rejection="pii_phone"><td>疑似手机号[^<]*</td><td class="num">1<', report)
    assert re.search(r'data-exclusion="no_consent"><th scope="row">活动日无用户授权[^<]*</th><td class="num">3<',
                     report)
    assert 'data-input="d0205"' in report and 'data-input="d0302"' in report and "燃油车排放因子" in report
    # the counts reconcile on the page: the period's 9 records are 6 counted + 3 without consent; the one
    # back-dated record belongs to January; two batches of February plus one in the late window
    assert "核对：本期活动记录 9 = 计入 6 + 不计入 3（无授权 3、无有效参数 0、公式无定义 0）" in report
    assert "另有 1 条以往期间的补报超过截止日" in report
    # one day of history is no baseline: the page says the period's own days were used
    assert "历史数据不足 14 天" in report and "以本期各日为基准" in report
    assert re.search(r"补报期内接收的批次（含本期迟报记录）</th><td class=\"num\">1<", report)
    digest = re.search(r"<code data-digest>([0-9a-f]{64})</code>", report)
    assert digest and digest.group(1) in approver.get(f"/api/v1/scenarios/{pid}/reports",
                                                      headers={"Authorization": "Bearer demo-ord_approver"}).text
    # in English: the charts' titles, descriptions and tooltips too
    approver.client.cookies.set("lang", "en")
    english = approver.get(location).text
    assert "Reductions per day" in english and "Eligible reductions per day of the period" in english
    assert "2026-02-04 to 2026-02-04: 28.0 kg (anomalous, Ordos art. 11)" in english
    assert "No user consent on the activity date" in english
    # another jurisdiction's staff do not see the scenario
    assert signed_in("sh_review_centre").get(location).status_code == 404


def test_a_marked_bar_is_drawn_in_the_warning_colour_and_says_so() -> None:
    svg = str(bar_chart("c", "Reductions <per day>", "desc", [Bar("01", 1.0, "", "a"),
                                                               Bar("02", 9.0, "9.0", "b (anomalous)", "⚠", True)]))
    assert svg.count('class="bar marked"') == 1 and svg.count('class="bar"') == 1
    assert "&lt;per day&gt;" in svg and "b (anomalous)" in svg and ">⚠<" in svg
