"""Signing in through the form as each role lands on that role's home page, which names the role."""

from __future__ import annotations

import pytest
from sqlmodel import select

from services.store.tables import WebSession
from services.web import sessions
from tests.browser.conftest import Site, Visitor

# username → (home page, its heading, the role as the header names it)
HOMES = {
    "sh_case_officer": ("/work", "工作台", "主管部门经办人"),
    "sh_review_centre": ("/work", "工作台", "核证中心/技术支撑机构"),
    "sh_approver": ("/work", "工作台", "主管部门审定人"),
    "sh_operator": ("/work", "工作台", "运营管理机构/交易所"),
    "sh_verifier": ("/work", "工作台", "第三方核查机构"),
    "sh_expert1": ("/expert", "专家工作台", "专家"),
    "sh_applicant": ("/applicant", "我的申请", "申请主体"),
    "sh_admin": ("/admin", "管理后台", "系统管理员"),
}


@pytest.mark.parametrize("username", list(HOMES))
def test_each_role_signs_in_to_its_home_page(visitor: Visitor, username: str) -> None:
    home, heading, role = HOMES[username]
    visitor.sign_in(username)
    page = visitor.page
    assert page.url.endswith(home)
    assert page.get_by_role("heading", level=1).first.inner_text().startswith(heading)
    assert f"{role} · SH" in page.locator("header").inner_text()
    assert page.get_by_role("button", name="退出").is_visible()


def test_a_wrong_password_re_renders_the_form_with_the_name_kept(visitor: Visitor) -> None:
    page = visitor.page
    page.goto("/login")
    page.get_by_label("用户名").fill("sh_case_officer")
    page.get_by_label("密码").fill("not-the-password")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="登录", exact=True).click()
    visitor.shot("wrong-password")
    assert posted.value.status == 422
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误。"
    assert page.get_by_label("用户名").input_value() == "sh_case_officer"
    assert page.get_by_label("密码").get_attribute("aria-invalid") == "true"


def test_a_signed_out_visit_goes_to_sign_in_and_back(visitor: Visitor) -> None:
    page = visitor.page
    visitor.goto("/work?view=mine", "sign-in-first")
    assert "/login?next=" in page.url
    page.get_by_label("用户名").fill("sh_case_officer")
    page.get_by_label("密码").fill("demo-password")
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_load_state()
    visitor.shot("back-where-i-was")
    assert page.url.endswith("/work?view=mine")
    assert page.get_by_role("link", name="我的任务").get_attribute("aria-current") == "page"


def test_the_sign_in_form_works_from_the_keyboard_alone(visitor: Visitor) -> None:
    page = visitor.page
    page.goto("/login")
    for _ in range(30):  # tab from the top of the page until the user name box has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "username":
            break
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("sh_case_officer")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("demo-password")
    page.keyboard.press("Enter")
    page.wait_for_url("**/work")
    visitor.shot("signed-in-by-keyboard")


def test_an_expired_session_goes_to_sign_in_and_back(visitor: Visitor, site: Site) -> None:
    visitor.sign_in("sh_case_officer")
    with site.db.write() as session:  # the session just opened outlives its idle time
        row = session.exec(select(WebSession).where(WebSession.user_id == site.driver.user_id("sh_case_officer"))
                           .order_by(WebSession.id.desc())).first()
        assert row is not None
        row.last_seen_at -= sessions.IDLE
        session.add(row)
    page = visitor.page
    visitor.goto("/work?view=overdue", "expired")
    assert "/login?next=" in page.url and "expired=1" in page.url
    assert "会话已过期" in page.get_by_role("status").inner_text()
    page.get_by_label("用户名").fill("sh_case_officer")
    page.get_by_label("密码").fill("demo-password")
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url("**/work?view=overdue")
    visitor.shot("back")


def test_a_page_for_another_role_is_a_403_page(visitor: Visitor) -> None:
    visitor.sign_in("sh_applicant")
    page = visitor.page
    response = visitor.goto("/work", "forbidden")
    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "无权访问 (403)"
    assert "此页面需以以下身份访问" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("button", name="退出").is_visible()  # still signed in, on the site's own page


def test_a_person_with_several_roles_switches_hats_in_the_header(visitor: Visitor) -> None:
    visitor.sign_in("demo_admin")  # the national administrator, and administrator of each jurisdiction
    page = visitor.page
    assert page.url.endswith("/admin")
    hats = page.get_by_label("身份")
    assert hats.input_value() == "admin:CN"  # the widest scope first
    assert page.get_by_role("heading", level=1).inner_text().endswith("系统管理员 · 全国")
    assert hats.locator("option").count() >= 6
    hats.select_option(label="系统管理员 · BJ")
    page.get_by_role("button", name="切换").click()
    page.wait_for_load_state()
    visitor.shot("wearing-bj")
    assert page.url.endswith("/admin")
    assert page.get_by_label("身份").input_value() == "admin:BJ"
    assert page.get_by_role("heading", level=1).inner_text().endswith("系统管理员 · BJ")
