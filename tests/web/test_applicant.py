"""The applicant portal: organisation, new applications, drafts, submission with commitments,
answering requests, following cases and notices."""

from __future__ import annotations

from sqlmodel import select

from services.accounts.identity import create_user, hash_password
from services.demo import DEMO_PASSWORD, Driver, application, commitments, demo_uscc, drive_to
from services.orchestration.dispatch import Channels, drain
from services.store.engine import Database
from services.store.tables import Case, Notification, Organisation, User
from states.profiles import all_profiles

NEW = {"kind": "project", "title": "厂房屋顶光伏二期", "methodology_code": "SH-M-PV-001", "methodology_version": "1.0",
       "location.division": "310114", "location.address": "嘉定工业区 8 号", "start_date": "2025-06-01",
       "expected_annual_reduction_tco2e": "820.5", "other_schemes": "[]"}


def test_home_lists_my_cases_with_state_and_deadlines(signed_in, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH", title="园区光伏"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    other = driver.open("sh_applicant2", "SH", application("SH", title="别家的项目"))
    r = signed_in("sh_applicant").get("/applicant")
    assert r.status_code == 200
    assert f'href="/applicant/cases/{cid}"' in r.text and f'href="/cases/{cid}"' in r.text
    row = r.text.split(f'data-case="{cid}"')[1].split("</tr>")[0]
    assert "园区光伏" in row and "已提交" in row and "完整性审查" in row and "剩" in row  # state, task, due badge
    assert "别家的项目" not in r.text and f"/applicant/cases/{other}" not in r.text
    assert "SH 绿色能源有限公司" in r.text


def _newcomer(db: Database) -> None:
    with db.write() as s:
        create_user(s, username="sh_newcomer", display_name="新申请人", grants=[("applicant", "SH")],
                    password_hash=hash_password(DEMO_PASSWORD))


def test_registering_an_organisation_checks_the_credit_code(signed_in, db: Database) -> None:
    _newcomer(db)
    b = signed_in("sh_newcomer")
    page = b.get("/applicant").text
    assert 'action="/applicant/organisation"' in page and 'for="org-f-uscc"' in page
    bad = demo_uscc(901)[:-1] + ("0" if demo_uscc(901)[-1] != "0" else "1")  # wrong check character
    r = b.post_form("/applicant", "/applicant/organisation", {"uscc": bad, "name": "新能源科技有限公司"})
    assert r.status_code == 422 and f'value="{bad}"' in r.text and 'id="org-f-uscc-err"' in r.text
    assert 'value="新能源科技有限公司"' in r.text
    r = b.post_form("/applicant", "/applicant/organisation", {"uscc": demo_uscc(901), "name": "新能源科技有限公司"})
    assert r.status_code == 303 and r.headers["location"] == "/applicant?ok=registered"
    with db.read() as s:
        user = s.exec(select(User).where(User.username == "sh_newcomer")).one()
        org = s.get(Organisation, user.org_id)
        assert org is not None and org.uscc == demo_uscc(901)
    assert "新能源科技有限公司" in b.get("/applicant").text


def test_an_already_registered_code_is_refused_beside_the_field(signed_in, db: Database) -> None:
    _newcomer(db)
    b = signed_in("sh_newcomer")
    taken = demo_uscc(100)  # Shanghai's demo applicant organisation
    r = b.post_form("/applicant", "/applicant/organisation", {"uscc": taken, "name": "冒名单位"})
    assert r.status_code == 409 and "该统一社会信用代码已注册" in r.text and 'id="org-f-uscc-err"' in r.text


def test_starting_an_application_creates_a_draft(signed_in, db: Database) -> None:
    b = signed_in("sh_applicant")
    form = b.get("/applicant/new?procedure=project_registration").text
    assert 'for="new-f-title"' in form and 'name="expected_annual_reduction_tco2e"' in form
    r = b.post_form("/applicant/new", "/applicant/new", {"procedure": "project_registration", **NEW})
    assert r.status_code == 303 and r.headers["location"].endswith("?ok=created")
    cid = int(r.headers["location"].split("/")[3].split("?")[0])
    with db.read() as s:
        case = s.get(Case, cid)
        assert case.state == "draft" and case.application["title"] == "厂房屋顶光伏二期"
    assert "草稿" in b.get(r.headers["location"]).text


def test_a_bad_application_re_renders_with_values_and_reasons(signed_in, db: Database) -> None:
    b = signed_in("sh_applicant")
    bad = {**NEW, "title": "", "start_date": "2025-06-01", "end_date": "2024-01-01"}
    r = b.post_form("/applicant/new", "/applicant/new", {"procedure": "project_registration", **bad})
    assert r.status_code == 422
    # the division stays chosen in the GB/T 2260 list, the address typed
    assert 'id="new-f-title-err"' in r.text and 'value="310114" selected' in r.text and 'value="820.5"' in r.text
    assert 'value="嘉定工业区 8 号"' in r.text
    with db.read() as s:
        assert s.exec(select(Case).where(Case.application["title"].as_string() == "")).first() is None


def test_methodology_filing_draws_its_own_form(signed_in) -> None:
    text = signed_in("sh_applicant").get("/applicant/new?procedure=methodology_filing").text
    assert 'name="code"' in text and 'name="scope"' in text and 'name="parameters.0.name"' in text


def test_a_procedure_the_jurisdiction_does_not_run_is_not_offered(signed_in) -> None:
    b = signed_in("jx_applicant")  # Jiaxing files projects with their first issuance (arts. 14–17)
    assert "/applicant/new?procedure=project_registration" not in b.get("/applicant").text
    assert b.get("/applicant/new?procedure=project_registration").status_code == 404


def test_saving_a_draft_changes_only_what_was_changed(signed_in, db: Database, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH", title="旧名称"))
    b = signed_in("sh_applicant")
    page = f"/applicant/cases/{cid}"
    text = b.get(page).text
    assert 'value="旧名称"' in text  # the edit form starts from the application
    posted = {"title": "新名称", "location.division": "310115", "location.address": "示范区 1 号",
              "methodology_code": "SH-M-PV-001",
              "methodology_version": "1.0", "start_date": "2025-03-01", "expected_annual_reduction_tco2e": "1250.5",
              "other_schemes": "[]", "description": "", "project_class": ""}
    r = b.post_form(page, f"{page}/edit", posted)
    assert r.status_code == 303 and r.headers["location"] == f"{page}?ok=saved"
    with db.read() as s:
        app = s.get(Case, cid).application
        assert app["title"] == "新名称" and app["expected_annual_reduction_tco2e"]
        assert app["location"] == {"division": "310115", "address": "示范区 1 号"}


def test_submitting_needs_every_commitment(signed_in, db: Database, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    b = signed_in("sh_applicant")
    page = f"/applicant/cases/{cid}"
    keys = all_profiles()["SH"].registration.commitments
    assert len(keys) >= 2
    text = b.get(page).text
    assert all(f'name="commitment.{k}"' in text for k in keys)
    first, rest = keys[0], keys[1:]
    r = b.post_form(page, f"{page}/submit", {f"commitment.{first}": "on", "comments": "请审查"})
    assert r.status_code == 422
    assert f'id="cm-{first}" name="commitment.{first}" checked' in r.text and "请审查" in r.text
    assert all(f'id="cm-{k}-err"' in r.text for k in rest)
    with db.read() as s:
        assert s.get(Case, cid).state == "draft"
    r = b.post_form(page, f"{page}/submit", {f"commitment.{k}": "on" for k in keys})
    assert r.status_code == 303 and r.headers["location"] == f"{page}?ok=submitted"
    with db.read() as s:
        assert s.get(Case, cid).state == "submitted"


def test_answering_a_supplement_request_with_a_change(signed_in, db: Database, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    driver.act("sh_case_officer", cid, "request_supplement", {"items": ["补充项目地址的详细门牌号"]})
    b = signed_in("sh_applicant")
    page = f"/applicant/cases/{cid}"
    text = b.get(page).text
    assert "补充项目地址的详细门牌号" in text and 'name="response"' in text and "待我办理" in text
    where = {"location.division": "310115", "location.address": "张江路 1 号"}
    r = b.post_form(page, f"{page}/resubmit", {"response": "", **where})
    assert r.status_code == 422 and 'id="rs-f-response-err"' in r.text and 'value="张江路 1 号"' in r.text
    r = b.post_form(page, f"{page}/resubmit", {"response": "已补充详细地址", **where,
                                               "title": application("SH")["title"]})
    assert r.status_code == 303 and r.headers["location"] == f"{page}?ok=resubmitted"
    with db.read() as s:
        case = s.get(Case, cid)
        assert case.state == "submitted"
        assert case.application["location"] == {"division": "310115", "address": "张江路 1 号"}


def test_notices_are_listed_and_marked_read(signed_in, db: Database, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    driver.act("sh_case_officer", cid, "request_supplement", {"items": ["补充监测计划"]})
    drain(db, Channels(smtp_host=None))
    b = signed_in("sh_applicant")
    home = b.get("/applicant").text
    assert "待补正材料" in home and "1 条未读" in home
    r = b.post_form("/applicant/notices", "/applicant/notices/read", {})
    assert r.status_code == 303
    with db.read() as s:
        me = driver.user_id("sh_applicant")
        assert all(n.read_at is not None for n in s.exec(select(Notification).where(Notification.user_id == me)))
    assert "未读" not in b.get("/applicant/notices").text.split("<main")[1].split("全部标为已读")[1]


def test_another_organisations_case_is_not_found(signed_in, driver: Driver) -> None:
    cid = driver.open("sh_applicant2", "SH", application("SH"))
    b = signed_in("sh_applicant")
    assert b.get(f"/applicant/cases/{cid}").status_code == 404
    r = b.post_form("/applicant", f"/applicant/cases/{cid}/submit", {})
    assert r.status_code == 404


def test_the_wrong_hat_is_a_403_page(signed_in) -> None:
    r = signed_in("sh_case_officer").get("/applicant")
    assert r.status_code == 403 and "申请" in r.text and "Traceback" not in r.text


def test_english_mode_has_the_english_text(signed_in, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    b = signed_in("sh_applicant")
    b.client.cookies.set("lang", "en")
    home = b.get("/applicant").text
    assert "My organisation" in home and "Start an application" in home and "本单位的案件" not in home
    text = b.get(f"/applicant/cases/{cid}").text
    assert "Submit the application" in text and "Edit the draft" in text and "提交申请" not in text


def test_answering_the_panels_revision_request_goes_back_to_the_panel(signed_in, db: Database,
                                                                       driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", cid, "expert_review")
    experts = [driver.user_id(f"sh_expert{n}") for n in (1, 2, 3)]
    driver.act("sh_case_officer", cid, "compose_panel", {"members": experts, "chair": experts[0]})
    for n in (1, 2, 3):
        driver.act(f"sh_expert{n}", cid, "record_opinion", {"opinion": "agree_with_changes", "score": 70})
    driver.act("sh_expert1", cid, "panel_revise", {"conclusion": "请补充基准线情景的论证"})
    b = signed_in("sh_applicant")
    page = f"/applicant/cases/{cid}"
    text = b.get(page).text
    assert "请补充基准线情景的论证" in text and "修改材料" in text and f'action="{page}/resubmit"' in text
    answer = {"response": "已补充基准线论证", "description": "基准线：电网平均排放因子"}
    r = b.post_form(page, f"{page}/resubmit", answer)
    assert r.status_code == 303
    with db.read() as s:
        case = s.get(Case, cid)
        assert case.state == "expert_review" and case.application["description"] == "基准线：电网平均排放因子"


def test_a_page_without_a_session_goes_to_sign_in_and_back(browser) -> None:
    r = browser.get("/applicant/notices")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fapplicant%2Fnotices"
    r = browser.sign_in("sh_applicant", next_path="/applicant/notices")
    assert r.headers["location"] == "/applicant/notices" and browser.get("/applicant/notices").status_code == 200


def test_project_class_is_offered_only_where_projects_are_classed(signed_in) -> None:
    assert 'name="project_class"' not in signed_in("sh_applicant").get("/applicant/new").text
    assert 'name="project_class"' in signed_in("bj_applicant").get("/applicant/new").text


def test_the_methodology_is_picked_from_the_registry_not_typed(signed_in, db: Database, driver: Driver) -> None:
    b = signed_in("sh_applicant")
    page = b.get("/applicant/new?procedure=project_registration").text
    assert 'name="methodology_code"' not in page and 'name="methodology_version"' not in page
    assert 'name="methodology" required' in page and 'data-picker="new-f-methodology"' in page
    # Shanghai's filed versions, by kind; another jurisdiction's are not offered
    assert '<option value="SH-M-PV-001@1.0"' in page and '<option value="SH-M-EV-001@1.0"' in page
    assert "BJ-M-PV-001" not in page and "减排场景" in page
    # a version typed by hand ("v1.0") is refused when the draft is saved, beside the picker, in zh and en
    r = b.post_form("/applicant/new?procedure=project_registration", "/applicant/new",
                    {**{k: v for k, v in NEW.items() if not k.startswith("methodology_")},
                     "procedure": "project_registration", "methodology": "SH-M-PV-001@v1.0"})
    assert r.status_code == 422 and 'id="new-f-methodology-err"' in r.text
    assert "SH-M-PV-001" in r.text.split('id="new-f-methodology-err"')[1].split("</p>")[0]
    # the same in English; the other fields keep their values
    b.client.cookies.set("lang", "en")
    r = b.post_form("/applicant/new?procedure=project_registration", "/applicant/new",
                    {**{k: v for k, v in NEW.items() if not k.startswith("methodology_")},
                     "procedure": "project_registration", "methodology": "SH-M-EV-001@1.0"})
    assert r.status_code == 422 and 'value="厂房屋顶光伏二期"' in r.text
    error = r.text.split('id="new-f-methodology-err"')[1].split("</p>")[0]
    assert "scenario" in error  # a scenario methodology for a project
    with db.read() as s:
        assert not [c for c in s.exec(select(Case)) if c.application.get("title") == "厂房屋顶光伏二期"]
    b.client.cookies.delete("lang")
    r = b.post_form("/applicant/new?procedure=project_registration", "/applicant/new",
                    {**{k: v for k, v in NEW.items() if not k.startswith("methodology_")},
                     "procedure": "project_registration", "methodology": "SH-M-LED-002@1.0"})
    assert r.status_code == 303
    cid = int(r.headers["location"].split("/")[-1].split("?")[0])
    with db.read() as s:
        app = s.get(Case, cid).application
    assert (app["methodology_code"], app["methodology_version"]) == ("SH-M-LED-002", "1.0")
    # the draft's edit form shows the choice made, and an edit to another filed version is kept
    text = b.get(f"/applicant/cases/{cid}").text
    assert '<option value="SH-M-LED-002@1.0" selected>' in text
    r = b.post_form(f"/applicant/cases/{cid}", f"/applicant/cases/{cid}/edit", {"methodology": "SH-M-PV-001@1.0"})
    assert r.status_code == 303
    with db.read() as s:
        assert s.get(Case, cid).application["methodology_code"] == "SH-M-PV-001"
    r = b.post_form(f"/applicant/cases/{cid}", f"/applicant/cases/{cid}/edit", {"methodology": "NOPE@1.0"})
    assert r.status_code == 422 and "NOPE" in r.text.split('id="ed-f-methodology-err"')[1].split("</p>")[0]
