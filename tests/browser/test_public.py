"""Anyone, without an account, finds a publicity notice and lodges an objection; it reaches the officers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from services.store.tables import Objection, Task
from tests.browser.conftest import Site, Visitor, fresh_case


def _object(page: Any, name: str, contact: str, text: str) -> None:
    """Lodge an objection through the notice page's form, as a member of the public types it."""
    form = page.get_by_role("region", name="提出异议")
    form.get_by_label("姓名").fill(name)
    form.get_by_label("联系方式").fill(contact)
    form.get_by_label("内容").fill(text)
    form.get_by_role("button", name="提交异议").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("javascript", [True, False], ids=["scripts-on", "scripts-off"])
def test_the_public_lodges_an_objection_during_publicity(new_visitor, site: Site, javascript: bool) -> None:
    title = f"浏览器测试：公示异议（{'有' if javascript else '无'}脚本）"
    case_id = fresh_case(site, "SH", "publicity", title)
    visitor = new_visitor(javascript=javascript)
    page = visitor.page
    visitor.goto("/public", "notices")
    page.get_by_role("link", name=title).click()
    page.wait_for_load_state()
    visitor.shot("notice")
    assert page.url.endswith(f"/public/notices/{case_id}")
    _object(page, "李四", "13900000000", "该项目的屋顶面积与现场不符，请核实。")
    visitor.shot("receipt")
    receipt = page.get_by_role("status")
    assert "异议已受理" in receipt.inner_text()
    number = receipt.locator(".code").inner_text()
    with site.db.read() as session:
        lodged = session.exec(select(Objection).where(Objection.case_id == case_id)).all()
        review = session.exec(select(Task.kind).where(Task.case_id == case_id, Task.status == "open")).all()
    assert len(lodged) == 1 and lodged[0].name == "李四"
    assert number == lodged[0].receipt
    assert review == ["objection_review"]


def test_the_objector_follows_the_receipt_on_the_public_pages(visitor: Visitor, site: Site) -> None:
    """Issue 15: from the receipt to the objection's status and the case's, before and after the officer
    decides; a mistyped receipt is said beside the field; nobody's name, contact or text is shown."""
    from services.demo import Driver

    title = "浏览器测试：异议查询"
    case_id = fresh_case(site, "SH", "publicity", title)
    page = visitor.page
    visitor.goto(f"/public/notices/{case_id}")
    _object(page, "王五", "w@example.cn", "监测数据与实际运行情况不符，请核实。")
    number = page.get_by_role("status").locator(".code").inner_text()
    page.get_by_role("link", name="查询异议处理情况").click()
    page.wait_for_load_state()
    page.get_by_label("异议受理号").fill("OBJ-20200101-DEADBEEF")
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state()
    visitor.shot("unknown-receipt")
    assert "没有这个异议受理号" in page.locator("#obj-receipt-err").inner_text()
    page.get_by_label("异议受理号").fill(f" {number.lower()} ")  # as typed: any case, stray spaces
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state()
    visitor.shot("open")
    status = page.get_by_role("region", name=f"处理情况 · {number}")
    assert "待处理" in status.inner_text() and title in status.inner_text()
    Driver(site.db).act("sh_case_officer", case_id, "dismiss_objections", {"reasoning": "经核实，监测数据真实。"})
    page.get_by_label("异议受理号").fill(number)
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state()
    visitor.shot("decided")
    shown = page.get_by_role("region", name=f"处理情况 · {number}").inner_text()
    assert "不成立" in shown and "处理于" in shown
    assert not any(x in page.locator("main").inner_text() for x in ("王五", "w@example.cn", "监测数据"))


def test_a_short_objection_comes_back_with_the_reason_beside_the_text(visitor: Visitor, site: Site) -> None:
    case_id = fresh_case(site, "SH", "publicity", "浏览器测试：异议过短")
    page = visitor.page
    visitor.goto(f"/public/notices/{case_id}", "notice")
    form = page.get_by_role("region", name="提出异议")
    form.get_by_label("姓名").fill("王五")
    form.get_by_label("联系方式").fill("wang@example.com")
    form.get_by_label("内容").fill("不同意")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.get_by_role("button", name="提交异议").click()
    page.wait_for_load_state()
    visitor.shot("refused")
    assert posted.value.status == 422
    text = page.get_by_role("region", name="提出异议").get_by_label("内容")
    assert text.get_attribute("aria-invalid") == "true" and text.input_value() == "不同意"
    assert page.locator(f"#{text.get_attribute('aria-describedby')}").is_visible()
    assert page.get_by_role("region", name="提出异议").get_by_label("姓名").input_value() == "王五"
    with site.db.read() as session:
        assert session.exec(select(Objection).where(Objection.case_id == case_id)).all() == []


def test_public_lists_are_cards_on_a_phone(visitor: Visitor, site: Site) -> None:
    """At 390 px a public list is one card a row, the title across the card (not squeezed to one or
    two characters a line); a publicity period says 进行中 only once its first day has come."""
    from services.engine.calendar import local_date
    from services.engine.clock import clock

    page = visitor.page
    page.set_viewport_size({"width": 390, "height": 844})
    visitor.goto("/public", "phone-notices")
    rows = page.locator("table.cards tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        title = rows.nth(i).locator("td").first
        assert title.bounding_box()["width"] >= 240, title.inner_text()
    # each other cell says which column it is, in the header's words (the header row is hidden on a phone)
    heads = page.locator("table.cards thead th").all_inner_texts()
    second = rows.first.locator("td").nth(1)
    assert second.get_attribute("data-label") == heads[1].strip()
    shown = second.evaluate("td => getComputedStyle(td, '::before').content")
    assert heads[1].strip() in shown, shown
    today = local_date(clock.now()).isoformat()
    for text in page.locator("table.cards tbody tr").all_inner_texts():
        first_day = next((w for w in text.split() if len(w) == 10 and w[4] == "-"), None)
        if first_day and first_day > today:
            assert "进行中" not in text and "已发布" in text and "起算" in text, text
    for path, name in (("/public/registry/projects", "phone-projects"),
                       ("/public/registry/methodologies", "phone-methodologies")):
        visitor.goto(path, name)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
