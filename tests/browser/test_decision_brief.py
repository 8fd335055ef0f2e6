"""The people who decide see what they decide on (issue 15): the approver's decision brief shows the
review centre's opinion and the panel's opinions with the dissent marked and the chair's conclusion
before approving; an objection lodged in publicity goes to an officer, who reads its text and the
objector's contact beside the forms that settle it (the approver reads the text, never the contact);
the queue searches by case number, applicant or project and keeps what I did under 已办 (done).

Seeds: Shanghai art. 13 (technical assessment, expert review), art. 14 (publicity and objections)."""

from __future__ import annotations

from services.engine.actors import PUBLIC_ACTOR
from services.engine.command import Command, fire
from services.orchestration.dispatch import drain
from tests.browser.conftest import Site, Visitor, case_state, fresh_case

DISSENT = "监测方案缺少电表校准记录，不同意通过"
CONCLUSION = "多数专家同意通过，请完善计量校准"
OBJECTION = "该项目屋顶光伏组件实际装机量小于申报值，请核实。"


def _case_before_decision(site: Site, title: str) -> int:
    """Reviewed, then a panel of three: one disagrees; the chair passes it with the dissent on record."""
    case_id = fresh_case(site, "SH", "expert_review", title)
    d = site.driver
    experts = [d.user_id(f"sh_expert{n}") for n in (1, 2, 3)]
    d.act("sh_case_officer", case_id, "compose_panel", {"members": experts, "chair": experts[0]})
    d.act("sh_expert1", case_id, "record_opinion", {"opinion": "agree", "score": 88})
    d.act("sh_expert2", case_id, "record_opinion", {"opinion": "agree_with_changes", "score": 80,
                                                      "comments": "补充计量校准"})
    d.act("sh_expert3", case_id, "record_opinion", {"opinion": "disagree", "score": 52, "comments": DISSENT})
    assert d.act("sh_expert1", case_id, "panel_pass", {"conclusion": CONCLUSION, "dissent": DISSENT}) \
        == "authority_decision"
    return case_id


def test_the_approver_reads_the_review_opinion_and_the_dissent_before_approving(visitor: Visitor,
                                                                                site: Site) -> None:
    title = "浏览器测试：审定要点"
    case_id = _case_before_decision(site, title)
    visitor.sign_in("sh_approver")
    page = visitor.page
    page.goto(f"/cases/{case_id}")
    visitor.shot("brief")
    review = page.get_by_role("region", name="④ 技术评估意见")
    assert "材料齐全，方法学适用" in review.inner_text()
    panel = page.get_by_role("region", name="⑤ 专家评审")
    dissenting = panel.locator("tr.dissent")
    assert dissenting.count() == 1 and DISSENT in dissenting.inner_text() and "⚑ 不同意见" in dissenting.inner_text()
    assert "SH 专家3" in dissenting.inner_text() or "专家" in dissenting.inner_text()
    assert CONCLUSION in panel.locator(".conclusion").inner_text()
    assert "#" not in panel.locator("tbody").inner_text()  # people by name, never by number
    # the application in words: no field codes, no None
    application = page.get_by_role("region", name="① 申请内容").inner_text()
    assert "methodology_code" not in application and "None" not in application and "适用方法学" in application
    # the forms sit beside the material: approve is in the decision section, after the brief above it
    decision = page.get_by_role("region", name="⑥ 审定决定")
    assert "1 位专家持不同意见" in decision.inner_text()
    approve = decision.locator("#action-approve")
    approve.locator("summary").click()
    approve.get_by_label("意见说明").fill("同意登记，按专家意见完善计量")
    approve.get_by_role("button", name="审定通过").click()
    page.wait_for_load_state()
    visitor.shot("approved")
    assert page.get_by_role("status").first.inner_text() == "✔ 操作已完成"
    assert case_state(site, case_id) == "publicity"
    # the timeline reads as sentences, not JSON
    page.locator("#timeline > summary").click()
    timeline = page.locator("#timeline").inner_text()
    assert "{" not in timeline and "task_id" not in timeline and "意见说明：同意登记" in timeline
    page.locator("#procedure > summary").click()
    page.locator("#procedure svg").first.wait_for()
    visitor.shot("diagram")
    assert "✓" in (page.locator("#procedure svg").first.text_content() or "")


def test_an_objection_goes_to_an_officer_who_reads_it_beside_the_forms(new_visitor, site: Site) -> None:
    title = "浏览器测试：公示异议"
    case_id = _case_before_decision(site, title)
    site.driver.act("sh_approver", case_id, "approve", {"comments": "同意"})
    fire(site.db, Command(case_id, "lodge_objection", PUBLIC_ACTOR,
                          {"name": "李异议", "contact": "13900001111", "text": OBJECTION}), lambda s, o: (200, {}))
    drain(site.db)  # the dispatcher: the objection review goes to the least-loaded officer, who is told

    officer = new_visitor("officer")
    officer.sign_in("sh_case_officer")
    page = officer.page
    assert page.locator(".bell .count").inner_text() != ""  # the bell says something is new
    page.get_by_label("搜索（案件编号、申请主体、项目名称）").fill(f"#{case_id}")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    officer.shot("searched")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and "异议" in rows.inner_text() and title in rows.inner_text()
    rows.get_by_role("link", name="办理").click()
    page.wait_for_load_state()
    officer.shot("objection-brief")
    assert "有 1 件异议待处理" in page.locator(".lede .state").inner_text()
    objections = page.get_by_role("region", name="⑦ 公示与异议")
    text = objections.inner_text()
    assert OBJECTION in text and "李异议" in text and "13900001111" in text
    assert objections.locator("#action-dismiss_objections").count() == 1  # the form beside the material

    approver = new_visitor("approver")
    approver.sign_in("sh_approver")
    approver.page.goto(f"/cases/{case_id}")
    approver.shot("objection-as-approver")
    seen = approver.page.get_by_role("region", name="⑦ 公示与异议").inner_text()
    assert OBJECTION in seen and "13900001111" not in seen and "李异议" not in seen


def test_the_queue_searches_and_keeps_what_i_did_under_done(visitor: Visitor, site: Site) -> None:
    title = "浏览器测试：已办查询"
    case_id = fresh_case(site, "SH", "technical_review", title)  # the officer accepted it: done
    other = fresh_case(site, "SH", "submitted", "浏览器测试：另一件")
    visitor.sign_in("sh_case_officer")
    page = visitor.page
    page.get_by_role("link", name="已办").click()
    page.wait_for_load_state()
    page.get_by_label("搜索（案件编号、申请主体、项目名称）").fill("已办查询")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    visitor.shot("done-searched")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and f"#{case_id} {title}" in rows.inner_text() and "受理" in rows.inner_text()
    assert "个工作日" not in rows.inner_text()  # work done has no days left to count
    assert "办理结果" in page.locator("thead").inner_text()
    assert page.locator("nav.tabs a.current").inner_text().startswith("已办")
    # a release asks first, and says 放弃领取 (not 退回, which reads as "back to the applicant")
    page.goto(f"/work?view=team&q=%23{other}")
    row = page.locator("tbody tr")
    row.get_by_role("button", name="领取").click()
    page.wait_for_load_state()
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.locator("tbody tr").get_by_role("button", name="放弃领取").click()
    page.wait_for_load_state()
    visitor.shot("released")
    assert asked and "放弃领取" in asked[0]
    assert "未领取" in page.locator("tbody tr").inner_text()
