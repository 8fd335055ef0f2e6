"""A case officer claims a completeness check from the team queue and completes it on the case page;
a form refused by its rules comes back with the values typed and the reason beside the field."""

from __future__ import annotations

from sqlmodel import select

from services.store.tables import Task
from tests.browser.conftest import Site, Visitor, case_state, fresh_case


def _claim_from_queue(visitor: Visitor, case_id: int, title: str) -> None:
    page = visitor.page
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"#{case_id} {title}"))
    assert "完整性审查" in row.inner_text() and "未领取" in row.inner_text()
    row.get_by_role("button", name="领取").click()
    page.wait_for_load_state()
    visitor.shot("claimed")
    assert page.get_by_role("status").inner_text() == "✔ 已领取该任务"
    # back on the queue it was claimed from (its filters kept), not on an error page
    assert page.get_by_role("heading", level=1).inner_text().startswith("工作台"), page.locator("main").inner_text()
    row.get_by_role("link", name="办理").click()
    page.wait_for_load_state()
    visitor.shot("case-page")


def test_an_officer_claims_and_completes_a_completeness_check(visitor: Visitor, site: Site) -> None:
    title = "浏览器测试：完整性审查受理"
    case_id = fresh_case(site, "SH", "submitted", title)
    visitor.sign_in("sh_case_officer")
    _claim_from_queue(visitor, case_id, title)
    page = visitor.page
    assert page.get_by_role("heading", level=1).inner_text() == f"#{case_id} {title}"
    accept = page.locator("#action-accept")
    # "办理" brings the officer to the task's first action, its form open beside the material
    assert accept.get_attribute("open") is not None and page.url.endswith("#action-accept")
    accept.get_by_label("意见说明").fill("材料齐全，予以受理")
    accept.get_by_role("button", name="受理").click()
    page.wait_for_load_state()
    visitor.shot("accepted")
    assert page.get_by_role("status").inner_text() == "✔ 操作已完成"
    assert page.locator(".lede .state").inner_text() == "技术评估"
    assert case_state(site, case_id) == "technical_review"
    with site.db.read() as session:
        check = session.exec(select(Task).where(Task.case_id == case_id, Task.kind == "completeness_check")).one()
    assert check.status != "open" and check.assignee_id == site.driver.user_id("sh_case_officer")


def test_a_refused_form_shows_the_reason_beside_its_field_and_keeps_the_values(visitor: Visitor,
                                                                              site: Site) -> None:
    title = "浏览器测试：补正事项必填"
    case_id = fresh_case(site, "SH", "submitted", title)
    visitor.sign_in("sh_case_officer")
    _claim_from_queue(visitor, case_id, title)
    page = visitor.page
    supplement = page.locator("#action-request_supplement")
    supplement.locator("summary").click()
    supplement.get_by_label("意见说明").fill("请补充项目备案文件")
    page.once("dialog", lambda d: d.accept())  # sending the case back to the applicant asks first
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        supplement.get_by_role("button", name="要求补正材料").click()
    page.wait_for_load_state()
    visitor.shot("refused")
    assert posted.value.status == 422
    supplement = page.locator("#action-request_supplement")
    items = supplement.get_by_label("补正事项（每行一项）")
    assert items.get_attribute("aria-invalid") == "true"
    reason = page.locator(f"#{items.get_attribute('aria-describedby')}")
    assert reason.is_visible() and reason.inner_text().startswith("⚠")
    # beside the field: the reason sits in the same field block as the box it describes
    beside = supplement.locator(".field.has-error", has=page.get_by_label("补正事项（每行一项）"))
    assert beside.locator(".field-error").inner_text() == reason.inner_text()
    assert supplement.get_by_label("意见说明").input_value() == "请补充项目备案文件"
    assert case_state(site, case_id) == "submitted"


def test_the_queue_filters_by_task_kind_with_the_form(visitor: Visitor, site: Site) -> None:
    title = "浏览器测试：按任务类型筛选"
    case_id = fresh_case(site, "SH", "submitted", title)
    visitor.sign_in("sh_case_officer")
    page = visitor.page
    page.get_by_label("任务类型").select_option(label="完整性审查")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    visitor.shot("filtered")
    assert page.get_by_role("heading", level=1).inner_text().startswith("工作台"), page.locator("main").inner_text()
    assert page.get_by_label("任务类型").input_value() == "completeness_check"
    rows = page.locator("tbody tr")
    assert rows.count() >= 1 and page.get_by_role("link", name=f"#{case_id} {title}").is_visible()
    for text in rows.all_inner_texts():
        assert "完整性审查" in text
