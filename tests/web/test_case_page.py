"""The case page: what it shows, and actions through schema-drawn forms with reasons beside fields."""

from __future__ import annotations

import re

from sqlmodel import select

from services.demo import Driver, application, drive_to
from services.store.engine import Database
from services.store.tables import Case, Document, Task
from services.web.routes.cases import diagram
from tests.web.conftest import csrf_of


def _case_in(driver: Driver, state: str) -> int:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", cid, state)
    return cid


def _state(db: Database, cid: int) -> str:
    with db.read() as s:
        return s.get(Case, cid).state


def test_the_page_shows_summary_clock_diagram_tasks_documents_and_timeline(driver: Driver, signed_in) -> None:
    cid = _case_in(driver, "submitted")
    page = signed_in("sh_case_officer").get(f"/cases/{cid}").text
    assert "屋顶分布式光伏项目" in page and "SH 绿色能源有限公司" in page  # subject and applicant
    assert "已提交" in page  # the current state, in words
    assert 'class="clockbar"' in page and "时限" in page
    # drawn when its fold opens (mermaid cannot measure a hidden diagram); marked by text, not colour alone
    assert 'class="mermaid-later"' in page and "▶ 已提交（当前）" in page
    assert "完整性审查" in page  # the open task
    assert "提交申请" in page  # the timeline's submit event
    assert f'action="/cases/{cid}/actions/accept"' in page
    assert f'action="/cases/{cid}/actions/request_supplement"' in page


def test_an_officer_completes_the_completeness_check_from_the_page(driver: Driver, signed_in, db: Database) -> None:
    cid = _case_in(driver, "submitted")
    b = signed_in("sh_case_officer")
    r = b.post_form(f"/cases/{cid}", f"/cases/{cid}/actions/accept", {"comments": "材料齐全"})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{cid}?ok=done"
    assert _state(db, cid) == "technical_review"
    assert "操作已完成" in b.get(r.headers["location"]).text


def test_a_bad_form_re_renders_with_the_values_and_the_reason_beside_the_field(driver: Driver, signed_in,
                                                                              db: Database) -> None:
    cid = _case_in(driver, "submitted")
    b = signed_in("sh_case_officer")
    r = b.post_form(f"/cases/{cid}", f"/cases/{cid}/actions/request_supplement",
                    {"items": "", "comments": "请补充监测计划"})
    assert r.status_code == 422, r.text[r.text.find('class="errors"'):][:600]
    assert _state(db, cid) == "submitted"  # nothing happened
    html = r.text
    field = html.index('id="request_supplement-f-items"')
    error = html.index('id="request_supplement-f-items-err"')
    assert 0 < error - field < 600  # the reason sits right under its field
    assert 'aria-invalid="true"' in html[field - 200:field + 200]
    assert "请补充监测计划" in html  # what was typed is kept
    b.get("/lang/en?back=/")
    r = b.post_form(f"/cases/{cid}", f"/cases/{cid}/actions/request_supplement", {"items": ""})
    assert "List should have at least 1 item" in r.text or "at least 1" in r.text


def test_a_stale_page_is_told_the_case_moved_on(driver: Driver, signed_in, db: Database) -> None:
    cid = _case_in(driver, "submitted")
    b = signed_in("sh_case_officer")
    stale = b.get(f"/cases/{cid}").text
    driver.act("sh_case_officer", cid, "accept", {})
    r = b.client.post(f"/cases/{cid}/actions/accept", data={"csrf": csrf_of(stale), "_version": "1", "comments": ""})
    assert r.status_code in (409, 422)
    assert _state(db, cid) == "technical_review"


def test_an_applicant_cannot_see_another_firms_case(driver: Driver, signed_in) -> None:
    cid = _case_in(driver, "submitted")
    r = signed_in("sh_applicant2").get(f"/cases/{cid}")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


def test_the_applicant_sees_no_officer_actions(driver: Driver, signed_in) -> None:
    cid = _case_in(driver, "submitted")
    page = signed_in("sh_applicant").get(f"/cases/{cid}").text
    assert "/actions/accept" not in page and "/actions/withdraw" in page


def test_upload_and_download_a_document(driver: Driver, signed_in, db: Database) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))  # a draft: the applicant may add material
    b = signed_in("sh_applicant")
    token = csrf_of(b.get(f"/cases/{cid}").text)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    r = b.client.post(f"/cases/{cid}/documents", data={"csrf": token},
                      files={"file": ("监测计划.pdf", pdf, "application/pdf")})
    assert r.status_code == 303
    with db.read() as s:
        doc = s.exec(select(Document).where(Document.case_id == cid)).one()
    assert "监测计划.pdf" in b.get(f"/cases/{cid}").text
    got = b.get(f"/documents/{doc.id}")
    assert got.status_code == 200 and got.content == pdf
    assert signed_in("sh_applicant2").get(f"/documents/{doc.id}").status_code == 404


def test_no_upload_form_once_the_case_is_out_of_the_applicants_hands(driver: Driver, signed_in) -> None:
    cid = _case_in(driver, "submitted")
    assert f'action="/cases/{cid}/documents"' not in signed_in("sh_applicant").get(f"/cases/{cid}").text
    assert f'action="/cases/{cid}/documents"' in signed_in("sh_case_officer").get(f"/cases/{cid}").text


def test_an_upload_whose_bytes_lie_about_its_type_is_refused_beside_the_form(driver: Driver, signed_in,
                                                                           db: Database) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    b = signed_in("sh_applicant")
    token = csrf_of(b.get(f"/cases/{cid}").text)
    r = b.client.post(f"/cases/{cid}/documents", data={"csrf": token},
                      files={"file": ("report.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")})
    assert r.status_code == 422 and 'class="errors"' in r.text
    with db.read() as s:
        assert s.exec(select(Document).where(Document.case_id == cid)).first() is None
    r = b.client.post(f"/cases/{cid}/documents", data={"csrf": token})
    assert r.status_code == 422 and "请选择要上传的文件" in r.text


def test_working_a_claimed_task_passes_its_id(driver: Driver, signed_in, db: Database) -> None:
    cid = _case_in(driver, "submitted")
    b = signed_in("sh_case_officer")
    with db.read() as s:
        task_id = s.exec(select(Task).where(Task.case_id == cid, Task.status == "open")).one().id
    b.post_form("/work", f"/work/tasks/{task_id}/claim", {})
    page = b.get(f"/cases/{cid}?task={task_id}").text
    assert f'name="_task" value="{task_id}"' in page
    r = b.client.post(f"/cases/{cid}/actions/accept", data={"csrf": csrf_of(page), "_task": str(task_id)})
    assert r.status_code == 303
    with db.read() as s:
        assert s.get(Task, task_id).status == "completed"


def test_the_diagram_names_states_in_the_pages_language() -> None:
    zh = diagram("project_registration", "SH", "publicity", "zh")
    en = diagram("project_registration", "SH", "publicity", "en")
    assert '"▶ 公示（当前）" as publicity' in zh or "▶" in zh and "（当前）" in zh
    assert "(current)" in en and "stateDiagram-v2" in en and "---" not in en.splitlines()[0]


# --- confidentiality: document visibility, publication marks, the reporter --------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(b, cid: int, name: str, visibility: str | None = None):
    token = csrf_of(b.get(f"/cases/{cid}").text)
    data = {"csrf": token, **({"visibility": visibility} if visibility else {})}
    return b.client.post(f"/cases/{cid}/documents", data=data, files={"file": (name, PDF, "application/pdf")})


def _choices(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="visibility" value="(\w+)"', html)


def test_the_upload_form_offers_each_uploader_their_visibilities_and_the_list_shows_them(
        driver: Driver, signed_in, db: Database) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    applicant, officer = signed_in("sh_applicant"), signed_in("sh_case_officer")
    page = applicant.get(f"/cases/{cid}").text
    assert _choices(page) == ["case", "public"] and 'value="case" checked' in page
    assert _choices(officer.get(f"/cases/{cid}").text) == ["internal", "case"]  # staff never choose public
    assert _upload(applicant, cid, "项目设计文件.pdf", "public").status_code == 303
    assert _upload(officer, cid, "内部核查记录.pdf").status_code == 303
    with db.read() as s:
        internal = s.exec(select(Document).where(Document.name == "内部核查记录.pdf")).one()
    assert internal.visibility == "internal"
    shown = applicant.get(f"/cases/{cid}").text
    assert "项目设计文件.pdf" in shown and "公开材料" in shown
    assert "内部核查记录" not in shown  # neither listed nor named in the timeline
    assert applicant.get(f"/documents/{internal.id}").status_code == 404
    staff_view = officer.get(f"/cases/{cid}").text
    assert "内部核查记录.pdf" in staff_view and "内部审查材料" in staff_view
    refused = _upload(applicant, cid, "x.pdf", "internal")
    assert refused.status_code == 422 and "您不能上传" in refused.text


def test_the_approver_marks_a_document_for_publication_from_the_page(driver: Driver, signed_in,
                                                                     db: Database) -> None:
    cid = _case_in(driver, "submitted")
    officer, approver = signed_in("sh_case_officer"), signed_in("sh_approver")
    _upload(officer, cid, "专家论证结论.pdf")
    with db.read() as s:
        doc = s.exec(select(Document).where(Document.case_id == cid)).one()
    action = f'action="/cases/{cid}/documents/{doc.id}/publication"'
    assert action not in officer.get(f"/cases/{cid}").text
    assert action in approver.get(f"/cases/{cid}").text
    r = approver.post_form(f"/cases/{cid}", f"/cases/{cid}/documents/{doc.id}/publication", {"publish": "1"})
    assert r.status_code == 303 and "ok=published" in r.headers["location"]
    page = approver.get(f"/cases/{cid}").text
    assert "已标记公开" in page and "撤回公开标记" in page and "标记材料公开" in page  # list and timeline
    with db.read() as s:
        assert s.get(Document, doc.id).published_by == driver.user_id("sh_approver")
    refused = officer.post_form(f"/cases/{cid}", f"/cases/{cid}/documents/{doc.id}/publication", {"publish": "0"})
    assert refused.status_code == 403


def test_an_assigned_handler_reveals_the_reporter_once_and_the_page_lists_the_reads(
        driver: Driver, signed_in, db: Database) -> None:
    from forms.supervision import PublicReport
    from services.procedures.reports import lodge_report

    lodge_report(db, "SH", PublicReport(subject="某充电桩项目", name="举报人丙", contact="13700003333",
                                        content="该项目充电量数据与电网计量记录不符，疑似重复计算。"))
    with db.read() as s:
        cid = s.exec(select(Case.id).where(Case.procedure == "report")).one()
    officer, approver = signed_in("sh_case_officer"), signed_in("sh_approver")
    page = officer.get(f"/cases/{cid}").text
    assert "举报人丙" not in page and f'action="/cases/{cid}/reporter"' not in page
    assert officer.post_form(f"/cases/{cid}", f"/cases/{cid}/reporter", {}).status_code == 403
    assigning = approver.get(f"/cases/{cid}").text
    uid = driver.user_id("sh_case_officer")
    # the officers are offered by name, to tick (never by a user number to type)
    assert f'name="officers" value="{uid}"' in assigning and "SH 主管部门经办人" in assigning
    assert f'action="/cases/{cid}/actions/assign_handlers"' in assigning
    r = approver.post_form(f"/cases/{cid}", f"/cases/{cid}/actions/assign_handlers", {"officers": str(uid)})
    assert r.status_code == 303, r.text
    page = officer.get(f"/cases/{cid}").text
    assert f'action="/cases/{cid}/reporter"' in page and "举报人丙" not in page
    shown = officer.post_form(f"/cases/{cid}", f"/cases/{cid}/reporter", {})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert "举报人丙" in shown.text and "13700003333" in shown.text
    after = approver.get(f"/cases/{cid}").text
    assert "举报人丙" not in after and "查看举报人身份" in after  # the read, in the list and the timeline
    reads = after[after.index('id="h-reporter"'):after.index('id="h-timeline"')]
    assert "SH 主管部门经办人" in reads


def test_acknowledging_a_missed_deadline_is_offered_only_once_one_was_missed(driver: Driver, signed_in, db: Database,
                                                                               test_clock) -> None:
    from datetime import timedelta

    from services.orchestration.sweep import sweep

    cid = _case_in(driver, "authority_decision")
    approver = signed_in("sh_approver")
    assert 'id="action-acknowledge_escalation"' not in approver.get(f"/cases/{cid}").text
    test_clock.advance(timedelta(days=60))  # the decision's deadline passes: the sweep escalates it
    sweep(db)
    with db.read() as s:
        assert s.exec(select(Task).where(Task.case_id == cid, Task.kind == "sla_escalation")).first() is not None
    approver = signed_in("sh_approver")  # a new session: the first one idled out meanwhile
    assert 'id="action-acknowledge_escalation"' in approver.get(f"/cases/{cid}").text
