"""The expert workspace: my panels, the materials, my opinion, declining, and the chair's conclusion."""

from __future__ import annotations

import pytest
from sqlmodel import select

from services.demo import Driver, application, drive_to
from services.procedures.documents import add as add_document
from services.store.engine import Database
from services.store.tables import Case, PanelConflict, PanelMember

ME = "sh_expert1"  # the chair of the panel composed below


@pytest.fixture
def panel_case(db: Database, driver: Driver) -> int:
    """A Shanghai registration in expert review, with a document, before a panel of experts 1–3 chaired by 1."""
    cid = driver.open("sh_applicant", "SH", application("SH", title="园区储能示范项目"))
    add_document(db, case_id=cid, actor=driver.actor("sh_applicant"), name="监测计划.pdf",
                 content_type="application/pdf", data=b"%PDF-1.4\n% plan\n%%EOF\n")
    drive_to(driver, "SH", cid, "expert_review")
    experts = [driver.user_id(f"sh_expert{n}") for n in (1, 2, 3)]
    driver.act("sh_case_officer", cid, "compose_panel", {"members": experts, "chair": experts[0]})
    return cid


def test_my_panels_lists_the_open_panel_first_with_its_deadline(signed_in, panel_case: int) -> None:
    r = signed_in(ME).get("/expert")
    assert r.status_code == 200
    assert f'href="/expert/cases/{panel_case}"' in r.text and "园区储能示范项目" in r.text
    assert "组长" in r.text and "专家意见" in r.text and "剩" in r.text  # chair, my task, its due badge


def test_the_workspace_shows_the_materials_and_the_review_opinion(signed_in, panel_case: int) -> None:
    r = signed_in("sh_expert2").get(f"/expert/cases/{panel_case}")
    assert r.status_code == 200
    assert "监测计划.pdf" in r.text and "/documents/" in r.text
    assert "材料齐全，方法学适用" in r.text  # the technical review's opinion, from the audit trail
    assert 'name="opinion"' in r.text and 'name="score"' in r.text and 'name="reason"' in r.text
    assert f'action="/expert/cases/{panel_case}/conclusion"' not in r.text  # only the chair concludes


def test_recording_an_opinion_takes_effect(signed_in, panel_case: int, db: Database, driver: Driver) -> None:
    b = signed_in("sh_expert2")
    page = f"/expert/cases/{panel_case}"
    r = b.post_form(page, f"{page}/opinion",
                    {"opinion": "agree_with_changes", "score": "78", "comments": "补充敏感性分析"})
    assert r.status_code == 303 and r.headers["location"] == f"{page}?ok=opinion"
    with db.read() as s:
        row = s.exec(select(PanelMember).where(PanelMember.case_id == panel_case,
                                               PanelMember.user_id == driver.user_id("sh_expert2"))).one()
        assert (row.opinion, row.score, row.comments) == ("agree_with_changes", 78, "补充敏感性分析")
    after = b.get(f"{page}?ok=opinion").text
    assert "修改后同意" in after and 'name="score"' not in after  # given once: the form is gone


def test_a_bad_opinion_re_renders_with_the_values_and_the_reason(signed_in, panel_case: int, db: Database) -> None:
    b = signed_in("sh_expert2")
    page = f"/expert/cases/{panel_case}"
    r = b.post_form(page, f"{page}/opinion", {"opinion": "agree", "score": "150", "comments": "评分写错了"})
    assert r.status_code == 422
    assert 'value="150"' in r.text and "评分写错了" in r.text
    assert 'id="op-f-score-err"' in r.text  # the reason sits beside the score field
    with db.read() as s:
        assert all(m.opinion is None for m in s.exec(select(PanelMember).where(PanelMember.case_id == panel_case)))


def test_declaring_a_conflict_replaces_me_and_keeps_me_off(signed_in, panel_case: int, db: Database,
                                                           driver: Driver) -> None:
    b = signed_in("sh_expert3")
    page = f"/expert/cases/{panel_case}"
    r = b.post_form(page, f"{page}/decline", {"reason": "本人曾为申请单位提供咨询服务", "conflict": "on"})
    assert r.status_code == 303 and r.headers["location"] == "/expert?ok=declined"
    me = driver.user_id("sh_expert3")
    with db.read() as s:
        assert s.exec(select(PanelConflict).where(PanelConflict.case_id == panel_case,
                                                  PanelConflict.user_id == me)).first() is not None
        active = s.exec(select(PanelMember).where(PanelMember.case_id == panel_case, PanelMember.status == "active"))
        assert me not in {m.user_id for m in active}
    listing = b.get("/expert?ok=declined").text
    assert "已谢绝" in listing and f'href="/expert/cases/{panel_case}"' not in listing
    assert b.get(page).status_code == 404  # no longer mine to see


def test_declining_without_a_reason_keeps_the_box_ticked_and_says_why(signed_in, panel_case: int) -> None:
    b = signed_in("sh_expert3")
    page = f"/expert/cases/{panel_case}"
    r = b.post_form(page, f"{page}/decline", {"reason": "", "conflict": "on"})
    assert r.status_code == 422 and 'id="dc-f-reason-err"' in r.text
    assert 'name="conflict" checked' in r.text


def test_the_chair_sees_opinions_side_by_side_and_concludes(signed_in, panel_case: int, db: Database,
                                                            driver: Driver) -> None:
    given = (("sh_expert2", "agree", 88, "数据可靠"), ("sh_expert3", "disagree", 55, "基准线偏高"))
    for user, opinion, score, comments in given:
        driver.act(user, panel_case, "record_opinion", {"opinion": opinion, "score": score, "comments": comments})
    b = signed_in(ME)
    page = f"/expert/cases/{panel_case}"
    text = b.get(page).text
    assert "数据可靠" in text and "基准线偏高" in text and "88" in text and "55" in text
    assert "✕ 不同意" in text  # the opinion carries a symbol and a word, not colour alone
    r = b.post_form(page, f"{page}/conclusion", {"outcome": "panel_pass", "conclusion": "多数专家同意，予以通过",
                                                 "dissent": "一位专家认为基准线偏高"})
    assert r.status_code == 303
    with db.read() as s:
        assert s.get(Case, panel_case).state == "authority_decision"


def test_a_conclusion_without_an_outcome_or_below_quorum_is_refused_with_values(signed_in, panel_case: int) -> None:
    b = signed_in(ME)
    page = f"/expert/cases/{panel_case}"
    r = b.post_form(page, f"{page}/conclusion", {"conclusion": "结论草稿"})
    assert r.status_code == 422 and 'id="outcome-err"' in r.text and "结论草稿" in r.text
    r = b.post_form(page, f"{page}/conclusion", {"outcome": "panel_revise", "conclusion": "请补充材料后再审"})
    assert r.status_code == 422 and "请补充材料后再审" in r.text
    assert 'value="panel_revise" checked' in r.text and "专家意见不足法定人数" in r.text


def test_the_wrong_hat_is_a_403_page(signed_in, panel_case: int) -> None:
    r = signed_in("sh_case_officer").get("/expert")
    assert r.status_code == 403 and "专家" in r.text and "Traceback" not in r.text
    r = signed_in("sh_applicant").get(f"/expert/cases/{panel_case}")
    assert r.status_code == 403


def test_an_expert_off_the_panel_cannot_post_an_opinion(signed_in, panel_case: int) -> None:
    b = signed_in("sh_expert4")
    r = b.post_form("/expert", f"/expert/cases/{panel_case}/opinion", {"opinion": "agree", "score": "90"})
    assert r.status_code == 404


def test_english_mode_has_the_english_text(signed_in, panel_case: int) -> None:
    b = signed_in(ME)
    b.client.cookies.set("lang", "en")
    assert "Expert workspace" in b.get("/expert").text
    text = b.get(f"/expert/cases/{panel_case}").text
    assert "Record my opinion" in text and "conclusion (chair)" in text and "专家组结论（组长）" not in text


def test_a_second_opinion_is_a_403_page_with_the_reason(signed_in, panel_case: int, driver: Driver) -> None:
    driver.act("sh_expert2", panel_case, "record_opinion", {"opinion": "agree", "score": 80})
    b = signed_in("sh_expert2")
    page = f"/expert/cases/{panel_case}"
    r = b.post_form(page, f"{page}/opinion", {"opinion": "disagree", "score": "10"})
    assert r.status_code == 403 and 'class="reasons" role="alert"' in r.text and "Traceback" not in r.text


def test_concluding_a_panel_that_moved_on_is_refused_above_the_page(signed_in, panel_case: int,
                                                                     driver: Driver) -> None:
    for n in (1, 2, 3):
        driver.act(f"sh_expert{n}", panel_case, "record_opinion", {"opinion": "agree", "score": 80})
    driver.act(ME, panel_case, "panel_pass", {"conclusion": "同意通过"})
    b = signed_in(ME)
    page = f"/expert/cases/{panel_case}"
    r = b.post_form(page, f"{page}/conclusion", {"outcome": "panel_reject", "conclusion": "再议"})
    assert r.status_code == 409 and "主管部门审定" in r.text and "未能完成" in r.text
