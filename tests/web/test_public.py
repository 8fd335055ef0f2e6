"""The public pages, without signing in: publicity notices and objections, consultations and comments,
the registry, certificate verification, and reports (举报) with their receipt and follow-up."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from services.demo import Driver, application, drive_to
from services.orchestration.timers import run_due_timers
from services.store.engine import Database
from services.store.tables import Case, Certificate, Comment, Notice, Objection, ReportIdentity, Task
from tests.conftest import at
from tests.web.conftest import Browser, csrf_of

pytestmark = pytest.mark.e2e

OBJECTION = {"name": "张三", "contact": "13800000000", "text": "该项目与已登记项目重复，请核实。"}


def in_publicity(driver: Driver, code: str = "SH", title: str = "屋顶分布式光伏项目") -> int:
    cid = driver.open(f"{code.lower()}_applicant", code, application(code, title=title))
    assert drive_to(driver, code, cid, "publicity") == "publicity"
    return cid


def in_public_comment(driver: Driver) -> int:
    version = {"code": "SH-M-BIKE-001", "version": "1.0", "title": "共享单车骑行碳普惠方法学", "kind": "scenario",
               "tier": "class_I", "scope": "共享单车骑行"}
    cid = driver.open("sh_applicant", "SH", version, procedure="methodology_filing")
    assert drive_to(driver, "SH", cid, "public_comment") == "public_comment"
    return cid


def field_error(html: str, dom_id: str) -> str:
    """The reason shown beside a field (the `field()` macro's error paragraph)."""
    match = re.search(rf'id="{dom_id}-err"[^>]*>(.*?)</p>', html, re.S)
    assert match, f"no reason beside {dom_id}"
    return match.group(1)


# --- publicity and objections ------------------------------------------------------------------------


def test_open_notices_are_listed_with_their_period_in_both_languages(browser: Browser, driver: Driver,
                                                                   db: Database) -> None:
    cid = in_publicity(driver, title="滨江屋顶光伏")
    with db.write() as s:  # a year whose holiday notice is not out yet: the period is provisional
        notice = s.exec(select(Notice).where(Notice.case_id == cid)).one()
        notice.provisional = True
        s.add(notice)
        first, last = notice.first_day.isoformat(), notice.last_day.isoformat()
    listing = browser.get("/public")
    assert listing.status_code == 200
    assert f'href="/public/notices/{cid}"' in listing.text and "滨江屋顶光伏" in listing.text
    page = browser.get(f"/public/notices/{cid}")
    assert page.status_code == 200
    assert first in page.text and last in page.text and "截止时间（北京时间）" in page.text
    assert "※ 暂定" in page.text and "提出异议" in page.text
    # the location reads as its division's name and code, then the address (not the stored mapping)
    assert "'division'" not in page.text and re.search(r"[\u4e00-\u9fff]+（\d{6}） 示范区 1 号", page.text)
    assert re.search(r"SH-M-PV-001《[^》]+》", page.text)  # the methodology by its title too
    for name in ("name", "contact", "text"):  # every input has its label
        assert f'<label for="obj-f-{name}">' in page.text
    browser.client.cookies.set("lang", "en")
    english = browser.get(f"/public/notices/{cid}")
    assert "Publicity period" in english.text and "Lodge an objection" in english.text
    assert "※ provisional" in english.text and "提出异议" not in english.text
    assert "Open publicity notices" in browser.get("/public").text


def test_an_objection_is_lodged_with_a_receipt_and_a_double_submission_lodges_once(browser: Browser, driver: Driver,
                                                                                  db: Database) -> None:
    cid = in_publicity(driver)
    page = browser.get(f"/public/notices/{cid}").text
    token, idem = csrf_of(page), re.search(r'name="_idem" value="([^"]+)"', page).group(1)
    form = {"csrf": token, "_idem": idem, **OBJECTION}
    first = browser.client.post(f"/public/notices/{cid}/objections", data=form)
    assert first.status_code == 201, first.text
    receipt = re.search(r"OBJ-\d{8}-[0-9A-F]{8}", first.text).group(0)
    assert "异议已受理" in first.text
    again = browser.client.post(f"/public/notices/{cid}/objections", data=form)
    assert receipt in again.text  # the first receipt replayed
    with db.read() as s:
        rows = s.exec(select(Objection).where(Objection.case_id == cid)).all()
        assert [(o.receipt, o.name, o.contact) for o in rows] == [(receipt, "张三", "13800000000")]
        # it reached the officers' work: the case now has an objection review open
        assert s.exec(select(Task.kind).where(Task.case_id == cid, Task.status == "open")).all() == ["objection_review"]


def test_a_bad_objection_re_renders_with_values_and_reasons_beside_fields(browser: Browser, driver: Driver,
                                                                         db: Database) -> None:
    cid = in_publicity(driver)
    r = browser.post_form(f"/public/notices/{cid}", f"/public/notices/{cid}/objections",
                          {"name": "", "contact": "李四的邮箱", "text": "太短"})
    assert r.status_code == 422
    assert 'value="李四的邮箱"' in r.text and ">太短</textarea>" in r.text
    assert field_error(r.text, "obj-f-name") and field_error(r.text, "obj-f-text")
    assert 'aria-invalid="true"' in r.text
    with db.read() as s:
        assert s.exec(select(Objection).where(Objection.case_id == cid)).all() == []
    browser.client.cookies.set("lang", "en")
    r = browser.post_form(f"/public/notices/{cid}", f"/public/notices/{cid}/objections",
                          {"name": "Li", "contact": "li@example.cn", "text": "short"})
    assert r.status_code == 422 and "characters" in field_error(r.text, "obj-f-text")


def test_objections_need_the_public_csrf_token(browser: Browser, driver: Driver, db: Database) -> None:
    cid = in_publicity(driver)
    browser.get(f"/public/notices/{cid}")
    r = browser.client.post(f"/public/notices/{cid}/objections", data={"csrf": "forged", **OBJECTION})
    assert r.status_code == 403 and "安全令牌" in r.text
    with db.read() as s:
        assert s.exec(select(Objection).where(Objection.case_id == cid)).all() == []


def test_a_signed_in_visitor_objects_with_the_session_token(signed_in, driver: Driver, db: Database) -> None:
    cid = in_publicity(driver)
    person = signed_in("bj_applicant")
    r = person.post_form(f"/public/notices/{cid}", f"/public/notices/{cid}/objections", OBJECTION)
    assert r.status_code == 201, r.text


def test_after_the_period_objections_are_refused_and_unknown_notices_are_404(browser: Browser, driver: Driver,
                                                                            db: Database, test_clock) -> None:
    cid = in_publicity(driver)
    page = browser.get(f"/public/notices/{cid}").text
    with db.read() as s:
        last = s.exec(select(Notice).where(Notice.case_id == cid)).one().last_day
    test_clock.set(at(last.isoformat()) + timedelta(days=1))
    run_due_timers(db)
    r = browser.client.post(f"/public/notices/{cid}/objections", data={"csrf": csrf_of(page), **OBJECTION})
    assert r.status_code == 409 and "公示期已结束" in r.text
    assert "○ 已结束" in browser.get(f"/public/notices/{cid}").text
    assert f"/public/notices/{cid}" in browser.get("/public?closed=1").text
    missing = browser.get("/public/notices/999999")
    assert missing.status_code == 404 and "未找到" in missing.text


# --- consultations -------------------------------------------------------------------------------------


def test_a_comment_is_received_and_a_bad_one_keeps_its_values(browser: Browser, driver: Driver, db: Database) -> None:
    cid = in_public_comment(driver)
    assert f"/public/consultations/{cid}" in browser.get("/public").text
    page = browser.get(f"/public/consultations/{cid}")
    assert page.status_code == 200 and "共享单车骑行碳普惠方法学" in page.text and "提交意见" in page.text
    bad = browser.post_form(f"/public/consultations/{cid}", f"/public/consultations/{cid}/comments",
                            {"name": "赵六", "organisation": "某研究院", "contact": "", "text": "太短了"})
    assert bad.status_code == 422 and 'value="某研究院"' in bad.text and field_error(bad.text, "cmt-f-text")
    ok = browser.post_form(f"/public/consultations/{cid}", f"/public/consultations/{cid}/comments",
                           {"name": "赵六", "organisation": "某研究院", "contact": "zhao@example.cn",
                            "text": "建议明确骑行里程的数据来源与校验方式。"})
    assert ok.status_code == 201 and "意见已收到" in ok.text
    with db.read() as s:
        (comment,) = s.exec(select(Comment).where(Comment.case_id == cid)).all()
        assert (comment.name, comment.contact) == ("赵六", "zhao@example.cn")
    shown = browser.get(f"/public/consultations/{cid}").text
    assert "建议明确骑行里程的数据来源与校验方式。" in shown and "zhao@example.cn" not in shown  # contacts stay private
    browser.client.cookies.set("lang", "en")
    assert "Comments received" in browser.get(f"/public/consultations/{cid}").text


# --- the registry ----------------------------------------------------------------------------------------


def test_registry_lists_methodologies_and_registered_projects(browser: Browser, driver: Driver, db: Database,
                                                              test_clock) -> None:
    cid = in_publicity(driver, "SD", title="黄河口光伏电站")
    test_clock.advance(timedelta(days=20))
    run_due_timers(db, test_clock.now())
    with db.read() as s:
        case = s.get(Case, cid)
        assert case.state == "registered"
        project_id = case.project_id
    assert browser.get("/public/registry").status_code == 200
    methodologies = browser.get("/public/registry/methodologies", params={"jurisdiction": "SD"})
    assert methodologies.status_code == 200 and "SD-M-PV-001" in methodologies.text
    assert "SH-M-PV-001" not in methodologies.text
    version = re.search(r'href="/public/registry/methodologies/(\d+)"', methodologies.text).group(1)
    detail = browser.get(f"/public/registry/methodologies/{version}")
    assert detail.status_code == 200 and "电网排放因子" in detail.text and "关键参数" in detail.text
    projects = browser.get("/public/registry/projects", params={"jurisdiction": "SD"})
    assert "黄河口光伏电站" in projects.text and "已登记" in projects.text
    record = browser.get(f"/public/registry/projects/{project_id}")
    assert record.status_code == 200 and "黄河口光伏电站" in record.text
    assert f"/public/report?project_id={project_id}" in record.text
    browser.client.cookies.set("lang", "en")
    assert "Registered" in browser.get("/public/registry/projects").text
    assert browser.get("/public/registry/projects/999999").status_code == 404


def test_a_retirement_certificate_verifies_and_a_wrong_one_does_not(browser: Browser, driver: Driver, db: Database,
                                                                   test_clock) -> None:
    from tests.e2e.http import h
    from tests.e2e.test_issuance_http import registered_project, retire_and_certify, to_issued

    client = browser.client
    project = registered_project(db, driver, test_clock, "ORD")
    opened = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "ORD",
                                                "application": {"project_id": project, "vintage": 2025}},
                         headers=h("ord_applicant"))
    to_issued(client, db, driver, test_clock, "ORD", opened.json()["id"])
    cert = retire_and_certify(client, "ORD", 500)
    number, code = cert["number"], cert["fingerprint"][:12]
    good = browser.get("/public/certificates", params={"number": number.lower(), "code": code})
    assert good.status_code == 200 and "✔ 有效" in good.text and cert["serials"][0] in good.text
    assert cert["holder"] in good.text and "500 tCO2e" in good.text
    wrong = browser.get("/public/certificates", params={"number": number, "code": "00000000"})
    assert wrong.status_code == 200 and "✘ 无效" in wrong.text and field_error(wrong.text, "cert-code")
    unknown = browser.get("/public/certificates", params={"number": "ORD-RET-2026-999999"})
    assert unknown.status_code == 404 and "✘ 无效" in unknown.text
    malformed = browser.get("/public/certificates", params={"number": "not a number"})
    assert malformed.status_code == 422 and 'value="NOT A NUMBER"' in malformed.text
    assert field_error(malformed.text, "cert-number")
    assert number in browser.get("/public/registry/retirements").text
    assert "1,100" in browser.get("/public/registry/issuances", params={"jurisdiction": "ORD"}).text
    client.cookies.set("lang", "en")
    english = browser.get("/public/certificates", params={"number": number})
    assert "Valid: this certificate matches the registry" in english.text
    with db.write() as s:  # the registry's record altered behind the ledger's back no longer verifies
        row = s.exec(select(Certificate).where(Certificate.number == number)).one()
        row.data = {**row.data, "amount_tco2e": 5000}
        s.add(row)
    altered = browser.get("/public/certificates", params={"number": number})
    assert "Not valid" in altered.text and "no longer matches its fingerprint" in altered.text


# --- reports (举报) ---------------------------------------------------------------------------------------


def test_a_report_gets_a_receipt_and_a_secret_shown_once_and_can_be_followed(browser: Browser, db: Database) -> None:
    form = browser.get("/public/report")
    assert form.status_code == 200 and '<label for="rpt-jurisdiction">' in form.text
    assert "被举报的项目" in form.text and "The project, registration number" not in form.text  # help in zh too
    bad = browser.post_form("/public/report", "/public/report", {"jurisdiction": "", "subject": "某光伏项目",
                                                                 "content": "数据造假", "name": "", "contact": ""})
    assert bad.status_code == 422 and 'value="某光伏项目"' in bad.text and ">数据造假</textarea>" in bad.text
    assert field_error(bad.text, "rpt-jurisdiction") and field_error(bad.text, "rpt-f-content")
    r = browser.post_form("/public/report", "/public/report", {
        "jurisdiction": "JX", "subject": "某光伏项目", "project_id": "",
        "content": "该项目监测数据与现场运行记录明显不符，疑似虚报减排量。", "name": "王五", "contact": "w@example.cn"})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    receipt = re.search(r"RPT-\d{8}-[0-9A-F]{8}", r.text).group(0)
    secret = re.search(r'查询码</dt><dd><strong class="code">([^<]+)</strong>', r.text).group(1)
    with db.read() as s:
        identity = s.exec(select(ReportIdentity).where(
            ReportIdentity.receipt_sha256 == hashlib.sha256(receipt.encode()).hexdigest())).one()
        case = s.get(Case, identity.case_id)
        assert (case.procedure, case.jurisdiction, identity.name) == ("report", "JX", "王五")
        assert secret not in str(identity.secret_sha256)  # only its digest is kept
    checked = browser.post_form("/public/report/check", "/public/report/check",
                                {"receipt": receipt.lower(), "secret": secret})
    assert checked.status_code == 200 and "已受理" in checked.text and checked.headers["cache-control"] == "no-store"
    wrong = browser.post_form("/public/report/check", "/public/report/check", {"receipt": receipt, "secret": "guess"})
    assert wrong.status_code == 404 and "受理号或查询码错误" in wrong.text and f'value="{receipt}"' in wrong.text
    assert secret not in wrong.text


def test_report_checks_are_rate_limited_and_missing_fields_are_named(browser: Browser) -> None:
    empty = browser.post_form("/public/report/check", "/public/report/check", {"receipt": "", "secret": ""})
    assert empty.status_code == 422
    assert field_error(empty.text, "chk-receipt") and field_error(empty.text, "chk-secret")
    statuses = [browser.post_form("/public/report/check", "/public/report/check",
                                  {"receipt": "RPT-20260302-00000000", "secret": f"guess{n}"}).status_code
                for n in range(7)]
    assert statuses[:5] == [404] * 5 and statuses[-1] == 429
    browser.client.cookies.set("lang", "en")
    limited = browser.post_form("/public/report/check", "/public/report/check",
                                {"receipt": "RPT-20260302-00000000", "secret": "again"})
    assert limited.status_code == 429 and "Too many attempts" in limited.text


def test_wrong_guesses_elsewhere_do_not_lock_the_reporter_out_of_the_check_page(app: object) -> None:
    from fastapi.testclient import TestClient

    reporter, attacker = Browser(app), Browser(app)
    reporter.client = TestClient(app, follow_redirects=False, client=("198.51.100.9", 40000))
    attacker.client = TestClient(app, follow_redirects=False, client=("192.0.2.20", 40000))
    r = reporter.post_form("/public/report", "/public/report", {
        "jurisdiction": "JX", "subject": "某光伏项目", "project_id": "",
        "content": "该项目监测数据与现场运行记录明显不符，疑似虚报减排量。", "name": "", "contact": ""})
    receipt = re.search(r"RPT-\d{8}-[0-9A-F]{8}", r.text).group(0)
    secret = re.search(r'查询码</dt><dd><strong class="code">([^<]+)</strong>', r.text).group(1)
    guesses = [attacker.post_form("/public/report/check", "/public/report/check",
                                  {"receipt": receipt, "secret": f"guess{n}"}) for n in range(10)]
    assert guesses[-1].status_code == 429 and "15分钟后再试" in guesses[-1].text
    assert int(guesses[-1].headers["retry-after"]) > 0
    checked = reporter.post_form("/public/report/check", "/public/report/check", {"receipt": receipt, "secret": secret})
    assert checked.status_code == 200 and "已受理" in checked.text


def test_report_this_project_names_it_for_the_reporter(browser: Browser, driver: Driver, db: Database,
                                                       test_clock) -> None:
    cid = in_publicity(driver, "ORD", title="康巴什屋顶光伏")
    test_clock.advance(timedelta(days=20))
    run_due_timers(db, test_clock.now())
    with db.read() as s:
        project_id = s.get(Case, cid).project_id
    page = browser.get("/public/report", params={"project_id": project_id})
    assert "康巴什屋顶光伏" in page.text and f'value="{project_id}"' in page.text
    assert '<option value="ORD" selected>' in page.text
