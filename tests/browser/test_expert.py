"""An expert records an opinion in the expert workspace (a bad score first comes back beside its field),
and the panel's chair, seeing the opinions side by side, records their own and concludes."""

from __future__ import annotations

from sqlmodel import select

from services.store.tables import PanelMember
from tests.browser.conftest import Site, Visitor, case_state, fresh_case


def _panel_case(site: Site, title: str) -> int:
    """A case before its expert panel, seated by the officer: expert1 chairs, experts 2 and 3 sit."""
    case_id = fresh_case(site, "SH", "expert_review", title)
    members = [site.driver.user_id(f"sh_expert{n}") for n in (1, 2, 3)]
    site.driver.act("sh_case_officer", case_id, "compose_panel", {"members": members, "chair": members[0]})
    return case_id


def _open_from_workspace(visitor: Visitor, case_id: int, title: str) -> None:
    page = visitor.page
    link = page.get_by_role("link", name=f"#{case_id} {title}")
    assert "评审中" in page.get_by_role("row").filter(has=link).inner_text()
    link.click()
    page.wait_for_load_state()
    visitor.shot("panel-case")


def _opinion(site: Site, case_id: int, username: str) -> tuple[str | None, int | None]:
    with site.db.read() as session:
        seat = session.exec(select(PanelMember).where(PanelMember.case_id == case_id,
                                                      PanelMember.user_id == site.driver.user_id(username))).one()
        return seat.opinion, seat.score


def test_an_expert_records_an_opinion_and_the_chair_concludes(visitor: Visitor, new_visitor, site: Site) -> None:
    title = "浏览器测试：专家评审"
    case_id = _panel_case(site, title)

    member = visitor
    member.sign_in("sh_expert2")
    assert member.page.url.endswith("/expert")
    _open_from_workspace(member, case_id, title)
    page = member.page
    opinion = page.get_by_role("region", name="提交专家意见")
    opinion.get_by_label("评审意见").select_option(label="修改后同意")
    opinion.get_by_label("评分（0–100）").fill("150")
    opinion.get_by_label("意见说明").fill("建议补充监测计划")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        opinion.get_by_role("button", name="提交意见").click()
    page.wait_for_load_state()
    member.shot("score-refused")
    assert posted.value.status == 422
    opinion = page.get_by_role("region", name="提交专家意见")
    score = opinion.get_by_label("评分（0–100）")
    assert score.get_attribute("aria-invalid") == "true" and score.input_value() == "150"
    assert page.locator(f"#{score.get_attribute('aria-describedby')}").inner_text() == "⚠ 必须小于或等于 100"
    assert opinion.get_by_label("评审意见").input_value() == "agree_with_changes"
    assert opinion.get_by_label("意见说明").input_value() == "建议补充监测计划"
    assert _opinion(site, case_id, "sh_expert2") == (None, None)
    score.fill("82")
    opinion.get_by_role("button", name="提交意见").click()
    page.wait_for_load_state()
    member.shot("opinion-recorded")
    assert page.get_by_role("status").inner_text() == "✔ 专家意见已提交"
    assert _opinion(site, case_id, "sh_expert2") == ("agree_with_changes", 82)

    chair = new_visitor("chair")
    chair.sign_in("sh_expert1")
    _open_from_workspace(chair, case_id, title)
    page = chair.page
    assert "我是组长" in page.locator(".lede").inner_text()
    # the chair sees the member's opinion beside the others (marked by a sign as well as a colour)
    assert "✎ 修改后同意" in page.get_by_role("region", name="专家组", exact=True).inner_text()
    opinion = page.get_by_role("region", name="提交专家意见")
    opinion.get_by_label("评审意见").select_option(label="同意")
    opinion.get_by_label("评分（0–100）").fill("90")
    opinion.get_by_role("button", name="提交意见").click()
    page.wait_for_load_state()
    chair.shot("chair-opinion")
    assert "已提交意见 2 / 3" in page.get_by_role("region", name="专家组", exact=True).inner_text()
    conclusion = page.get_by_role("region", name="专家组结论（组长）")
    conclusion.get_by_label("专家组结论：通过").check()
    conclusion.get_by_label("评审结论").fill("同意通过，按专家意见完善监测计划")
    conclusion.get_by_role("button", name="提交结论").click()
    page.wait_for_load_state()
    chair.shot("concluded")
    assert page.get_by_role("status").inner_text() == "✔ 专家组结论已提交"
    assert case_state(site, case_id) == "authority_decision"
    # the conclusion stays on the page, in its words, for the chair and the members alike
    assert "同意通过，按专家意见完善监测计划" in page.locator("#panel-conclusion").inner_text()
    member.page.reload()
    member.shot("member-sees-conclusion")
    assert "同意通过，按专家意见完善监测计划" in member.page.locator("#panel-conclusion").inner_text()
    # the application in labelled fields, the methodology by its title (not `methodology_code`)
    application = member.page.get_by_role("region", name="申请内容").inner_text()
    assert "《分布式光伏发电碳普惠方法学》" in application and "methodology_code" not in application


def test_the_drawn_panel_appears_without_a_reload(visitor: Visitor, site: Site) -> None:
    """The panel is drawn in the background (the dispatcher's `convene_panel`); the officer's case page
    shows it is being drawn and then the seats, polled (htmx), with no reload."""
    from services.orchestration.dispatch import Channels, convene_panel
    from services.store.tables import Outbox

    title = "浏览器测试：抽取专家组"
    case_id = fresh_case(site, "SH", "expert_review", title)
    visitor.sign_in("sh_case_officer")
    page = visitor.page
    visitor.goto(f"/cases/{case_id}", "drawing")
    panel = page.locator("#panel")
    assert "正在随机抽取专家组" in panel.inner_text()
    page.evaluate("window.__sameVisit = true")  # gone if the page were reloaded
    with site.db.read() as session:
        row = next(r for r in session.exec(select(Outbox).where(Outbox.kind == "convene_panel"))
                   if int(r.payload["case_id"]) == case_id)
    convene_panel(site.db, row, Channels())  # what the dispatcher does with the row
    panel.locator(".panel-table").wait_for(state="visible", timeout=15_000)
    visitor.shot("drawn")
    assert page.evaluate("window.__sameVisit === true")
    with site.db.read() as session:
        seated = session.exec(select(PanelMember).where(PanelMember.case_id == case_id)).all()
    assert len(seated) >= 3 and panel.locator("tr.seat").count() == len(seated)
    assert "正在随机抽取" not in panel.inner_text() and "★ 组长" in panel.inner_text()
    # the to-do list beside it moved on too: the composing task the draw cancelled is gone
    todo = page.locator("#todo").inner_text()
    assert "组建专家组" not in todo and "专家组结论" in todo  # nothing left to compose; the chair's task is open
    # each drawn expert's opinion task names the expert it is addressed to, not "unclaimed"
    assert todo.count("（待办）") >= len(seated) - 1
