"""The work queue page: views with counts, filters, due badges, claim / unclaim / delegate."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from services.accounts.identity import create_user, hash_password
from services.demo import Driver, application, drive_to
from services.engine.workdays import calendar
from services.store.engine import Database
from services.store.tables import Task
from services.web.routes.queue import working_days_left
from tests.web.conftest import csrf_of


def _submitted(driver: Driver) -> tuple[int, int]:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", cid, "submitted")
    with driver.db.read() as s:
        task = s.exec(select(Task).where(Task.case_id == cid, Task.status == "open")).one()
    return cid, task.id


def _assignee(db: Database, task_id: int) -> int | None:
    with db.read() as s:
        return s.get(Task, task_id).assignee_id


def test_team_view_lists_the_task_with_counts_and_a_due_badge(driver: Driver, signed_in) -> None:
    cid, task_id = _submitted(driver)
    page = signed_in("sh_case_officer").get("/work?view=team").text
    assert f'data-task="{task_id}"' in page and f"/cases/{cid}" in page
    assert "完整性审查" in page
    assert "剩 " in page and "个工作日" in page  # the badge says it in words, not only in colour
    assert '<span class="count">1</span>' in page


def test_claim_then_unclaim_then_delegate(driver: Driver, signed_in, db: Database) -> None:
    _, task_id = _submitted(driver)
    with db.write() as s:
        colleague = create_user(s, username="sh_case_officer_b", display_name="SH 经办人乙",
                                grants=[("case_officer", "SH")], password_hash=hash_password("x"))
        colleague_id = colleague.id
    b = signed_in("sh_case_officer")
    r = b.post_form("/work", f"/work/tasks/{task_id}/claim", {"back": "/work?view=mine"})
    assert r.status_code == 303 and r.headers["location"] == "/work?view=mine&ok=claim"
    assert _assignee(db, task_id) == driver.user_id("sh_case_officer")
    mine = b.get("/work?view=mine&ok=claim").text
    assert "已领取该任务" in mine and f'data-task="{task_id}"' in mine and "办理" in mine
    b.post_form("/work", f"/work/tasks/{task_id}/unclaim", {})
    assert _assignee(db, task_id) is None
    b.post_form("/work", f"/work/tasks/{task_id}/delegate", {"user_id": str(colleague_id)})
    assert _assignee(db, task_id) == colleague_id


def test_delegate_without_a_colleague_is_a_clear_422(driver: Driver, signed_in) -> None:
    _, task_id = _submitted(driver)
    b = signed_in("sh_case_officer")
    r = b.post_form("/work", f"/work/tasks/{task_id}/delegate", {"user_id": ""})
    assert r.status_code == 422 and "请选择要转交的同事" in r.text


def test_claiming_a_task_someone_holds_is_a_403_page_naming_them(driver: Driver, signed_in, db: Database) -> None:
    _, task_id = _submitted(driver)
    with db.write() as s:
        create_user(s, username="sh_case_officer_b", display_name="SH 经办人乙", grants=[("case_officer", "SH")],
                    password_hash=hash_password("demo-password"))
    signed_in("sh_case_officer").post_form("/work", f"/work/tasks/{task_id}/claim", {})
    r = signed_in("sh_case_officer_b").post_form("/work", f"/work/tasks/{task_id}/claim", {})
    assert r.status_code in (403, 409)
    assert "SH 主管部门经办人" in r.text  # who holds it, by name


def test_filters_narrow_the_list_and_the_counts(driver: Driver, signed_in) -> None:
    _, task_id = _submitted(driver)
    b = signed_in("sh_case_officer")
    assert f'data-task="{task_id}"' in b.get("/work?view=team&kind=completeness_check").text
    page = b.get("/work?view=team&kind=objection_review").text
    assert f'data-task="{task_id}"' not in page and "此视图中没有任务" in page
    assert f'data-task="{task_id}"' not in b.get("/work?view=team&due_to=2026-03-01").text
    assert f'data-task="{task_id}"' in b.get("/work?view=team&due_from=2026-03-02&due_to=2026-12-31").text


def test_blank_date_filters_mean_no_bound(driver: Driver, signed_in) -> None:
    _, task_id = _submitted(driver)
    r = signed_in("sh_case_officer").get("/work?view=team&procedure=&kind=&due_from=&due_to=")
    assert r.status_code == 200 and f'data-task="{task_id}"' in r.text


def test_bad_filter_values_are_a_422_page_not_a_500(signed_in) -> None:
    r = signed_in("sh_case_officer").get("/work?view=everything&due_from=tomorrow")
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]


def test_working_days_left_counts_working_days_both_ways(db: Database) -> None:
    with db.read() as s:
        cal = calendar(s)
    friday, monday = date(2026, 3, 6), date(2026, 3, 9)
    assert working_days_left(cal, friday, monday, "SH") == 1  # the weekend does not count
    assert working_days_left(cal, monday, friday, "SH") == -1
    assert working_days_left(cal, monday, monday, "SH") == 0
    assert working_days_left(cal, monday, None, "SH") is None


def test_queue_page_csrf_is_the_sessions(signed_in) -> None:
    b = signed_in("sh_case_officer")
    assert csrf_of(b.get("/work").text) == csrf_of(b.get("/work?view=mine").text)
