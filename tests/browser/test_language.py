"""Chinese first; the switch in the header turns every page English (a cookie) and back."""

from __future__ import annotations

from tests.browser.conftest import Visitor


def test_the_language_switch_turns_the_pages_english_and_back(visitor: Visitor) -> None:
    visitor.sign_in("sh_case_officer")
    page = visitor.page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("heading", level=1).inner_text().startswith("工作台")
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    visitor.shot("work-english")
    assert page.url.endswith("/work")  # back on the page it was switched on
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Work queue")
    assert "Case officer · SH" in page.locator("header").inner_text()
    for name in ("My tasks", "Team tasks", "Unassigned", "Overdue"):
        assert page.get_by_role("link", name=name).is_visible()
    assert page.get_by_label("Procedure").is_visible() and page.get_by_label("Task kind").is_visible()
    assert page.get_by_role("button", name="Sign out").is_visible()

    visitor.goto("/public", "public-english")  # the choice holds on the next page
    assert page.get_by_role("heading", level=1).inner_text() == "Public notices"

    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()
    visitor.shot("public-chinese")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("heading", level=1).inner_text() == "公示公告"


def test_the_sign_in_page_reads_in_english_before_signing_in(visitor: Visitor) -> None:
    page = visitor.page
    visitor.goto("/login", "login-chinese")
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    visitor.shot("login-english")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    page.get_by_label("User name").fill("sh_applicant")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    visitor.shot("applicant-english")
    assert page.url.endswith("/applicant")
    assert page.get_by_role("heading", level=1).inner_text().startswith("My applications")
