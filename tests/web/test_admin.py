"""The administrators' pages: breaches and cycle times, flow runs, the outbox, the calendar, users and
grants, the profiles in force; and the read models and charts behind the dashboard."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from services.demo import Driver, application, commitments
from services.orchestration.sweep import record_breaches
from services.queries import flow_runs as runs
from services.store.engine import Database
from services.store.tables import AuditEvent, CalendarOverride, CalendarYear, Outbox, RoleGrant, User
from services.web import metrics
from services.web.charts import Bar, bar_chart
from states.messages import CATALOGUE, reason
from states.profiles import all_profiles
from tests.conftest import at
from tests.web.conftest import Browser

pytestmark = pytest.mark.e2e


def english(b: Browser) -> Browser:
    b.client.cookies.set("lang", "en")
    return b


def user_id(db: Database, username: str) -> int:
    with db.read() as s:
        return s.exec(select(User.id).where(User.username == username)).one()


def system_events(db: Database, event: str) -> list[AuditEvent]:
    with db.read() as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.event == event)))


# --- read models and charts (no I/O) --------------------------------------------------------------


def test_a_stay_runs_from_entering_a_state_to_leaving_it() -> None:
    t0 = at("2026-03-02 09:00")
    rows = [(1, t0, None, "draft"), (1, t0 + timedelta(days=1), "draft", "submitted"),
            (1, t0 + timedelta(days=2), "submitted", "submitted"),  # an event that stays put is no leave
            (1, t0 + timedelta(days=3), "submitted", "technical_review"),
            (2, t0, None, "draft")]  # still in draft: not a finished stay
    assert [(s.case_id, s.stage, s.days) for s in metrics.stays(rows)] == [(1, "draft", 1.0), (1, "submitted", 2.0)]


def test_weekly_medians_and_breaches_fall_in_the_week_they_happen() -> None:
    t0 = at("2026-03-02 09:00")  # a Monday
    finished = [metrics.Stay(1, "submitted", t0, t0 + timedelta(days=1)),
                metrics.Stay(2, "submitted", t0, t0 + timedelta(days=3)),
                metrics.Stay(3, "submitted", t0, t0 + timedelta(days=4)),
                metrics.Stay(4, "submitted", t0 - timedelta(days=200), t0 - timedelta(days=100))]  # before the window
    series = metrics.weekly(finished, [("technical_review", t0 + timedelta(days=8))], date(2026, 3, 10), weeks=4)
    assert series.weeks == [date(2026, 2, 16), date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)]
    by_stage = {r.stage: r for r in series.stages}
    assert by_stage["submitted"].medians == [None, None, 3.0, None]
    assert by_stage["submitted"].counts == [0, 0, 3, 0]
    assert by_stage["technical_review"].breaches == [0, 0, 0, 1]
    assert series.breaches == [0, 0, 0, 1]
    assert series.stages[0].stage == "technical_review"  # the stage missing deadlines comes first


def test_a_chart_names_itself_and_writes_every_figure() -> None:
    svg = str(bar_chart("c1", "Breaches <weekly>", "Twelve weeks", [
        Bar("03-02", 2, "2", "Week of 03-02: 2 breaches", "⚠2"), Bar("03-09", None, "", "Week of 03-09: none")]))
    assert 'role="img"' in svg and 'aria-labelledby="c1-t c1-d"' in svg
    assert '<title id="c1-t">Breaches &lt;weekly&gt;</title>' in svg and '<desc id="c1-d">Twelve weeks</desc>' in svg
    assert "<title>Week of 03-02: 2 breaches</title>" in svg and "⚠2" in svg
    assert svg.count("<rect") == 1 and ">–</text>" in svg  # nothing measured is a dash, not a zero bar


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin", "/admin/flows", "/admin/outbox", "/admin/calendar", "/admin/users",
                                  "/admin/profiles"])
def test_only_the_admin_hat_opens_the_pages(signed_in, browser: Browser, path: str) -> None:
    page = signed_in("sh_case_officer").get(path)
    assert page.status_code == 403 and "系统管理员" in page.text and "Traceback" not in page.text
    away = browser.get(path)
    assert away.status_code == 303 and away.headers["location"].startswith("/login?next=%2Fadmin")


def test_posting_without_the_forms_token_changes_nothing(signed_in, db: Database) -> None:
    admin = signed_in("sh_admin")
    r = admin.client.post("/admin/users/grant", data={"username": "sh_applicant2", "role": "expert"})
    assert r.status_code == 403
    with db.read() as s:
        assert s.exec(select(RoleGrant).where(RoleGrant.user_id == user_id(db, "sh_applicant2"),
                                              RoleGrant.role == "expert")).first() is None


# --- breaches and cycle times ---------------------------------------------------------------------


def _missed_completeness_check(db: Database, driver: Driver, test_clock) -> int:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    test_clock.set(at("2026-03-10 09:00"))  # the completeness check was due 03-09
    assert record_breaches(db, test_clock.now())["new"] == 1
    driver.act("sh_case_officer", cid, "accept", {})  # 8 days in `submitted`
    return cid


def test_the_dashboard_shows_breaches_and_cycle_times(signed_in, db: Database, driver: Driver,
                                                      test_clock) -> None:
    cid = _missed_completeness_check(db, driver, test_clock)
    page = signed_in("sh_admin").get("/admin")
    assert page.status_code == 200
    assert f'href="/cases/{cid}"' in page.text and "任务逾期" in page.text and "已升级给审批人" in page.text
    assert "<caption>按阶段</caption>" in page.text and "主管部门经办人" in page.text  # grouped by stage and role
    assert 'role="img"' in page.text and "<desc id=\"chart-breaches-d\">" in page.text
    row = re.search(r"<tr><th scope=\"row\">已提交</th>(.*?)</tr>", page.text, re.S)
    assert row and "8.0天" in row.group(1) and "⚠1" in row.group(1)  # the data table beside the charts
    assert f'href="/cases/{cid}"' in signed_in("sh_admin").get("/admin?procedure=project_registration").text
    assert f'href="/cases/{cid}"' not in signed_in("sh_admin").get("/admin?procedure=issuance").text
    resolved = signed_in("sh_admin").get("/admin?status=closed")
    assert f'href="/cases/{cid}"' not in resolved.text
    en = english(signed_in("sh_admin")).get("/admin").text
    assert "SLA breaches" in en and "Task overdue" in en and "Cycle time per stage" in en and "8.0 d" in en


def test_another_jurisdictions_admin_does_not_see_the_breach(signed_in, db: Database, driver: Driver,
                                                             test_clock) -> None:
    cid = _missed_completeness_check(db, driver, test_clock)
    assert f'href="/cases/{cid}"' not in signed_in("bj_admin").get("/admin").text
    national = signed_in("demo_admin")  # starts in the national hat: every jurisdiction
    assert f'href="/cases/{cid}"' in national.get("/admin").text
    national.post_form("/admin", "/hat", {"hat": "admin:BJ"})  # Beijing's hat shows Beijing only
    assert f'href="/cases/{cid}"' not in national.get("/admin").text
    assert f'href="/cases/{cid}"' in national.get("/admin?scope=all").text  # widened to every one held
    assert signed_in("sh_admin").get("/admin?procedure=teleport").status_code == 422


def test_the_national_hat_is_named_national(signed_in) -> None:
    page = signed_in("demo_admin").get("/admin").text
    assert '<option value="admin:CN" selected>系统管理员 · 全国</option>' in page
    assert "<small>系统管理员 · 全国</small>" in page
    assert "Administrator · National" in english(signed_in("demo_admin")).get("/admin").text


# --- flow runs ------------------------------------------------------------------------------------


def test_without_a_prefect_api_the_page_says_so(signed_in, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    async def unconfigured(limit: int = 50, jurisdictions: object = None) -> dict:
        raise runs.PrefectUnavailable([reason("prefect_not_configured")])

    monkeypatch.setattr(runs, "recent_runs", unconfigured)
    page = signed_in("sh_admin").get("/admin/flows")
    assert page.status_code == 200 and "未配置 Prefect API" in page.text
    assert "Prefect API not configured" in english(signed_in("sh_admin")).get("/admin/flows").text


def test_flow_runs_link_into_the_prefect_ui(signed_in, monkeypatch) -> None:
    asked = []

    async def recent(limit: int = 50, jurisdictions: object = None) -> dict:
        asked.append(jurisdictions)
        return {"prefect_ui": "http://prefect.example/ui", "items": [{
            "id": "r1", "name": "gentle-otter", "flow": "dispatch", "state": "FAILED", "tags": ["carbon"],
            "start": "2026-03-02T01:00:00+00:00", "duration_seconds": 1.5,
            "link": "http://prefect.example/ui/runs/flow-run/r1"}]}

    monkeypatch.setattr(runs, "recent_runs", recent)
    page = signed_in("sh_admin").get("/admin/flows")
    assert 'href="http://prefect.example/ui/runs/flow-run/r1"' in page.text and "✘ 失败" in page.text
    assert "2026-03-02 09:00:00" in page.text  # Beijing time
    signed_in("demo_admin").get("/admin/flows")
    assert asked == [frozenset({"SH"}), None]  # Shanghai's hat: the runs tagged SH; the national hat: every run


# --- outbox ---------------------------------------------------------------------------------------


def _dead_letter(db: Database, jurisdiction: str | None, case_id: int | None = None) -> int:
    from services.engine.clock import clock

    with db.write() as s:
        row = Outbox(key=f"webhook:test:{jurisdiction}:{case_id}", kind="notify", status="dead", attempts=8,
                     last_error="ConnectError: receiver down", case_id=case_id,
                     payload={"jurisdiction": jurisdiction} if jurisdiction else {},
                     created_at=clock.now(), available_at=clock.now())
        s.add(row)
        s.flush()
        return row.id


def test_a_dead_letter_is_listed_and_sent_again(signed_in, db: Database) -> None:
    row_id = _dead_letter(db, "SH")
    admin = signed_in("sh_admin")
    page = admin.get("/admin/outbox")
    assert f'id="outbox-{row_id}"' in page.text and "ConnectError: receiver down" in page.text
    row_html = page.text.split(f'id="outbox-{row_id}"')[1].split("</tr>")[0]
    with db.read() as s:
        kind = s.get(Outbox, row_id).kind
    assert CATALOGUE[f"outbox_kind.{kind}"][0] in row_html and f">{kind}<" not in row_html  # its label, not code
    assert f'id="outbox-{row_id}"' not in signed_in("bj_admin").get("/admin/outbox").text
    r = admin.post_form("/admin/outbox", f"/admin/outbox/{row_id}/retry", {})
    assert r.status_code == 303 and r.headers["location"].endswith("ok=retried")
    with db.read() as s:
        row = s.get(Outbox, row_id)
        assert (row.status, row.attempts) == ("pending", 0)
    assert [e.payload["outbox_id"] for e in system_events(db, "outbox_retried")] == [row_id]
    assert "已重新排队投递" in admin.get(r.headers["location"]).text


def test_a_row_without_a_jurisdiction_belongs_to_its_cases(signed_in, db: Database, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    row_id = _dead_letter(db, None, cid)
    assert f'id="outbox-{row_id}"' in signed_in("sh_admin").get("/admin/outbox").text
    assert f'id="outbox-{row_id}"' not in signed_in("bj_admin").get("/admin/outbox").text
    assert signed_in("bj_admin").post_form("/admin/outbox", f"/admin/outbox/{row_id}/retry", {}).status_code == 404
    english_page = english(signed_in("sh_admin")).get("/admin/outbox").text
    assert "Dead letters" in english_page and "Retry" in english_page


def test_another_jurisdiction_cannot_retry_the_row(signed_in, db: Database) -> None:
    row_id = _dead_letter(db, "SH")
    r = signed_in("bj_admin").post_form("/admin/outbox", f"/admin/outbox/{row_id}/retry", {})
    assert r.status_code == 404
    with db.read() as s:
        assert s.get(Outbox, row_id).status == "dead"


# --- calendar -------------------------------------------------------------------------------------

NOTICE = {"source": "国办发明电〔2027〕1号", "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
                                                   {"date": "2027-02-06", "kind": "workday", "name": "春节调休"}]}


def test_a_year_is_imported_from_pasted_json(signed_in, db: Database) -> None:
    admin = signed_in("demo_admin")  # the national hat loads the State Council's notice
    page = admin.get("/admin/calendar")
    assert "2027" in page.text and 'for="cal-year"' in page.text and 'for="cal-notice"' in page.text
    assert "国务院办公厅每年发布的放假安排" in page.text
    r = admin.post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": json.dumps(NOTICE)})
    assert r.status_code == 303 and r.headers["location"] == "/admin/calendar?ok=imported"
    with db.read() as s:
        assert s.get(CalendarYear, (2027, "CN")).source == "国办发明电〔2027〕1号"
    assert "国办发明电〔2027〕1号" in admin.get("/admin/calendar").text
    loaded = system_events(db, "calendar_year_loaded")[-1].payload
    assert (loaded["days"], loaded["jurisdiction"]) == (2, "CN")


def test_a_jurisdictions_hat_loads_its_own_days_only(signed_in, db: Database) -> None:
    national = signed_in("demo_admin")
    national.post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": json.dumps(NOTICE)})
    admin = signed_in("sh_admin")
    page = admin.get("/admin/calendar")
    assert "导入本辖区某年度的本地日期" in page.text and "国务院办公厅每年发布的放假安排" not in page.text
    local = {"source": "沪府办〔2027〕2号", "days": [{"date": "2027-03-05", "kind": "holiday", "name": "本地假日"}]}
    r = admin.post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": json.dumps(local)})
    assert r.status_code == 303
    with db.read() as s:
        rows = {(o.day.isoformat(), o.jurisdiction) for o in s.exec(select(CalendarOverride))}
        assert s.get(CalendarYear, (2027, "CN")).revision == 1  # the national load untouched
    assert rows == {("2027-01-01", None), ("2027-02-06", None), ("2027-03-05", "SH")}
    assert 'id="local-loads"' in admin.get("/admin/calendar").text


def test_a_year_is_imported_from_an_uploaded_file(signed_in, db: Database) -> None:
    admin = signed_in("demo_admin")
    body = json.dumps(NOTICE, ensure_ascii=False).encode()
    r = admin.post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": ""},
                        files={"file": ("notice.json", body, "application/json")})
    assert r.status_code == 303
    with db.read() as s:
        assert s.get(CalendarYear, (2027, "CN")) is not None


def test_a_bad_notice_comes_back_with_its_values_and_reasons(signed_in, db: Database) -> None:
    admin = signed_in("demo_admin")
    typed = '{"source": "x", "days": [{"date": "2027-13-01", "kind": "holiday"}]}'
    r = admin.post_form("/admin/calendar", "/admin/calendar", {"year": "27", "notice": typed})
    assert r.status_code == 422
    assert 'value="27"' in r.text and 'id="cal-year-err"' in r.text and "四位数字" in r.text
    assert 'id="cal-notice-err"' in r.text and "days.0.date" in r.text  # every reason at once
    assert "&#34;2027-13-01&#34;" in r.text  # the JSON as typed, kept
    wrong_year = json.dumps({"source": "x", "days": [{"date": "2028-01-01", "kind": "holiday"}]})
    r = english(admin).post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": wrong_year})
    assert r.status_code == 422 and 'id="cal-notice-err"' in r.text and "Not imported" in r.text
    r = admin.post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": "{not json"})
    assert r.status_code == 422 and "Not valid JSON" in r.text
    local = json.dumps({"source": "x", "days": [{"date": "2027-03-05", "kind": "holiday", "jurisdiction": "SH"}]})
    r = admin.post_form("/admin/calendar", "/admin/calendar", {"year": "2027", "notice": local})
    assert r.status_code == 422 and "holds national days only" in r.text  # a local day belongs to its own load
    with db.read() as s:
        assert s.exec(select(CalendarYear)).first() is None


# --- users and grants -----------------------------------------------------------------------------


def test_granting_and_revoking_a_role(signed_in, db: Database) -> None:
    admin = signed_in("sh_admin")
    page = admin.get("/admin/users")
    assert 'id="user-' in page.text and "sh_case_officer" in page.text and "bj_case_officer" not in page.text
    r = admin.post_form("/admin/users", "/admin/users/grant", {"username": "sh_applicant2", "role": "expert"})
    assert r.status_code == 303
    uid = user_id(db, "sh_applicant2")
    with db.read() as s:
        assert s.exec(select(RoleGrant).where(RoleGrant.user_id == uid, RoleGrant.role == "expert",
                                              RoleGrant.jurisdiction == "SH")).first() is not None
    granted = system_events(db, "role_granted")[-1]
    assert granted.payload == {"user_id": uid, "username": "sh_applicant2", "role": "expert", "jurisdiction": "SH"}
    assert granted.actor_id == user_id(db, "sh_admin")
    assert "已授予权限" in admin.get(r.headers["location"]).text
    r = admin.post_form("/admin/users", f"/admin/users/{uid}/revoke", {"role": "expert"})
    assert r.status_code == 303
    with db.read() as s:
        assert s.exec(select(RoleGrant).where(RoleGrant.user_id == uid, RoleGrant.role == "expert")).first() is None
    assert system_events(db, "role_revoked")[-1].payload["role"] == "expert"


def test_a_bad_grant_comes_back_with_its_values_and_reasons(signed_in, db: Database) -> None:
    admin = signed_in("sh_admin")
    r = admin.post_form("/admin/users", "/admin/users/grant", {"username": "nobody_here", "role": "expert"})
    assert r.status_code == 422 and 'value="nobody_here"' in r.text and 'id="grant-username-err"' in r.text
    assert "nobody_here" in r.text and '<option value="expert" selected>' in r.text
    r = admin.post_form("/admin/users", "/admin/users/grant", {"username": "sh_case_officer", "role": ""})
    assert r.status_code == 422 and 'id="grant-role-err"' in r.text and "请选择角色" in r.text
    r = english(admin).post_form("/admin/users", "/admin/users/grant",
                                 {"username": "sh_case_officer", "role": "case_officer"})
    assert r.status_code == 422 and "already holds that role" in r.text
    assert system_events(db, "role_granted") == []


def test_a_jurisdictions_admin_sees_and_changes_only_its_own_grants(signed_in, db: Database) -> None:
    admin = signed_in("sh_admin")
    page = admin.get("/admin/users").text
    row = re.search(rf'<tr id="user-{user_id(db, "demo_admin")}">.*?<ul class="grants">(.*?)</ul>', page, re.S)
    assert row and "系统管理员 · SH" in row.group(1) and "· BJ" not in row.group(1) and "全国" not in row.group(1)
    assert 'id="grant-jurisdiction"' not in page  # Shanghai's hat grants in Shanghai only
    r = admin.post_form("/admin/users", f"/admin/users/{user_id(db, 'demo_admin')}/revoke",
                        {"role": "admin", "jurisdiction": "BJ"})
    assert r.status_code == 403
    r = admin.post_form("/admin/users", "/admin/users/grant", {"username": "sh_applicant2", "role": "admin",
                                                               "jurisdiction": "CN"})
    assert r.status_code == 403 and system_events(db, "role_granted") == [] and system_events(db, "role_revoked") == []


def test_the_national_admin_grants_anywhere_and_nationally(signed_in, db: Database) -> None:
    admin = signed_in("demo_admin")
    page = admin.get("/admin/users").text
    assert '<option value="CN" >全国</option>' in page and '<option value="JX" >JX</option>' in page
    assert "bj_case_officer" in page and "sh_case_officer" in page  # everyone with a role
    r = admin.post_form("/admin/users", "/admin/users/grant", {"username": "sh_admin", "role": "admin",
                                                               "jurisdiction": "CN"})
    assert r.status_code == 303
    assert system_events(db, "role_granted")[-1].payload["jurisdiction"] == "CN"
    r = admin.post_form("/admin/users", "/admin/users/grant", {"username": "sh_admin", "role": "case_officer",
                                                               "jurisdiction": "CN"})
    assert r.status_code == 422 and "全国范围只能授予系统管理员角色" in r.text
    r = admin.post_form("/admin/users", "/admin/users/grant", {"username": "sh_admin", "role": "expert"})
    assert r.status_code == 422 and 'id="grant-jurisdiction-err"' in r.text and "请选择辖区" in r.text
    r = admin.post_form("/admin/users", f"/admin/users/{user_id(db, 'bj_expert1')}/revoke",
                        {"role": "expert", "jurisdiction": "BJ"})
    assert r.status_code == 303 and system_events(db, "role_revoked")[-1].payload["jurisdiction"] == "BJ"


def test_an_admin_cannot_revoke_their_own_admin_role(signed_in, db: Database) -> None:
    admin = signed_in("sh_admin")
    r = admin.post_form("/admin/users", f"/admin/users/{user_id(db, 'sh_admin')}/revoke", {"role": "admin"})
    assert r.status_code == 403
    with db.read() as s:
        assert s.exec(select(RoleGrant).where(RoleGrant.user_id == user_id(db, "sh_admin"))).first() is not None


# --- profiles -------------------------------------------------------------------------------------


def test_the_profile_in_force_is_shown_with_its_articles(signed_in) -> None:
    admin = signed_in("sh_admin")
    page = admin.get("/admin/profiles")
    assert page.status_code == 200 and "上海市" in page.text and 'id="profile-registration"' in page.text
    assert "arts. 12–13: 为期5个工作日的公示" in page.text and "与数据库中生效的一致" in page.text
    assert "完整性审查" in page.text  # stage time limits named as the task they limit
    jx = english(admin).get("/admin/profiles?code=JX").text
    assert "Jiaxing" in jx and "Revoke" in jx and "art. 26" in jx and "Stage time limits" in jx
    assert admin.get("/admin/profiles?code=XX").status_code == 404
    for code in all_profiles():
        assert english(admin).get(f"/admin/profiles?code={code}").status_code == 200


def test_every_outbox_kind_has_a_label_in_both_languages() -> None:
    from services.orchestration.dispatch import HANDLERS

    assert all(all(CATALOGUE.get(f"outbox_kind.{k}", ("", ""))) for k in HANDLERS), [
        k for k in HANDLERS if f"outbox_kind.{k}" not in CATALOGUE]
