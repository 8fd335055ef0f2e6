"""Sign-in, sessions, CSRF, the hat switcher and the language switch."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from services.engine.clock import clock
from services.store.engine import Database
from services.store.tables import AuditEvent, WebSession
from tests.web.conftest import Browser, csrf_of


def test_sign_in_sets_an_httponly_samesite_cookie_and_goes_home(browser: Browser, db: Database) -> None:
    r = browser.sign_in("sh_case_officer")
    assert r.status_code == 303 and r.headers["location"] == "/work"
    cookie = r.headers["set-cookie"]
    assert "carbon_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    with db.read() as s:
        row = s.exec(select(WebSession)).one()
        assert len(row.token_sha256) == 64 and row.token_sha256 not in cookie  # only the digest is stored
        assert (row.role, row.jurisdiction) == ("case_officer", "SH")


def test_wrong_password_re_renders_with_the_name_kept(browser: Browser, db: Database) -> None:
    r = browser.sign_in("sh_case_officer", "wrong")
    assert r.status_code == 422
    assert "用户名或密码错误" in r.text and 'value="sh_case_officer"' in r.text
    assert "carbon_session" not in r.headers.get("set-cookie", "")
    with db.read() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.event == "sign_in_failed")).first() is not None


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(browser: Browser, db: Database) -> None:
    r = browser.client.post("/login", data={"username": "sh_case_officer", "password": "demo-password"})
    assert r.status_code == 403 and "安全令牌" in r.text
    with db.read() as s:
        assert s.exec(select(WebSession)).first() is None


def test_pages_need_a_session_and_come_back_after_sign_in(browser: Browser) -> None:
    r = browser.get("/work?view=mine")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fwork%3Fview%3Dmine"
    r = browser.sign_in("sh_case_officer", next_path="/work?view=mine")
    assert r.headers["location"] == "/work?view=mine"
    assert browser.get("/work?view=mine").status_code == 200


def test_an_expired_session_goes_to_sign_in_and_back(signed_in, db: Database) -> None:
    b = signed_in("sh_case_officer")
    clock.advance(timedelta(hours=3))  # longer than the idle limit
    r = b.get("/work")
    assert r.status_code == 303 and "expired=1" in r.headers["location"] and "next=%2Fwork" in r.headers["location"]
    assert "会话已过期" in b.get(r.headers["location"]).text


def test_an_off_site_next_is_ignored(browser: Browser) -> None:
    r = browser.sign_in("sh_case_officer", next_path="//evil.example/x")
    assert r.headers["location"] == "/work"


def test_sign_out_ends_the_session(signed_in, db: Database) -> None:
    b = signed_in("sh_case_officer")
    r = b.post_form("/work", "/logout", {})
    assert r.status_code == 303
    assert b.get("/work").status_code == 303
    with db.read() as s:
        assert s.exec(select(WebSession)).one().ended_at is not None


def test_a_person_with_several_roles_switches_hats(signed_in) -> None:
    b = signed_in("demo_admin")  # admin in every jurisdiction
    page = b.get("/work").text  # any page carries the switcher in its header
    assert 'name="hat"' in page
    r = b.client.post("/hat", data={"csrf": csrf_of(page), "hat": "admin:BJ"})
    assert r.status_code == 303
    r = b.client.post("/hat", data={"csrf": csrf_of(page), "hat": "case_officer:BJ"})
    assert r.status_code == 403 and "没有该身份" in r.text


def test_a_forbidden_page_is_a_403_page_in_both_languages(signed_in) -> None:
    b = signed_in("sh_applicant")
    r = b.get("/work")
    assert r.status_code == 403 and "text/html" in r.headers["content-type"] and "此页面需以以下身份访问" in r.text
    b.get("/lang/en?back=/work")
    r = b.get("/work")
    assert r.status_code == 403 and "This page is for" in r.text and 'lang="en"' in r.text


def test_language_switch_keeps_the_page_and_translates_it(signed_in) -> None:
    b = signed_in("sh_case_officer")
    assert "工作台" in b.get("/work").text
    r = b.get("/lang/en?back=/work")
    assert r.status_code == 303 and r.headers["location"] == "/work" and "lang=en" in r.headers["set-cookie"]
    page = b.get("/work").text
    assert "Work queue" in page and "工作台" not in page


def test_an_unknown_page_is_an_html_404_and_the_api_keeps_json(browser: Browser) -> None:
    r = browser.get("/no/such/page")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    r = browser.get("/api/v1/no/such")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


def test_pages_send_security_headers(browser: Browser) -> None:
    r = browser.get("/login")
    assert r.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in r.headers["content-security-policy"]
