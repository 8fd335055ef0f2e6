"""The command path against a real database (SQLite here; PostgreSQL when DATABASE_URL says so)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from services.accounts.identity import create_user
from services.demo import Driver, application, commitments, drive_to
from services.engine import audit, command
from services.engine.actors import SYSTEM_ACTOR
from services.engine.command import Command
from services.engine.errors import CommandError, Conflict, Forbidden, Invalid, NotFound
from services.orchestration.timers import run_due_timers
from services.store.engine import Database
from services.store.tables import AuditEvent, Case, ClockSegment, Notice, Outbox, Project, Task, Timer
from tests.conftest import at

pytestmark = pytest.mark.integration


def _state(_session, o) -> tuple[int, dict]:
    return 200, {"state": o.case.state, "version": o.case.version, "extra": o.extra}


def fire(db: Database, driver: Driver, user: str | None, case_id: int, trigger: str, form: dict | None = None,
         **kw) -> dict:
    actor = driver.actor(user) if user else SYSTEM_ACTOR
    return command.fire(db, Command(case_id, trigger, actor, form or {}, **kw), _state)[1]


def counts(db: Database, case_id: int) -> dict[str, int]:
    with db.read() as s:
        return {
            "events": len(list(s.exec(select(AuditEvent.id).where(AuditEvent.case_id == case_id)))),
            "tasks": len(list(s.exec(select(Task.id).where(Task.case_id == case_id)))),
            "timers": len(list(s.exec(select(Timer.id).where(Timer.case_id == case_id)))),
            "outbox": len(list(s.exec(select(Outbox.id).where(Outbox.case_id == case_id)))),
            "segments": len(list(s.exec(select(ClockSegment.id).where(ClockSegment.case_id == case_id)))),
            "notices": len(list(s.exec(select(Notice.id).where(Notice.case_id == case_id)))),
        }


def case_row(db: Database, case_id: int) -> Case:
    with db.read() as s:
        return s.get(Case, case_id)


@pytest.fixture
def sh_case(driver: Driver) -> int:
    return driver.open("sh_applicant", "SH", application("SH"))


def test_failure_after_the_state_change_leaves_nothing_behind(db: Database, driver: Driver, sh_case: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    drive_to(driver, "SH", sh_case, "authority_decision")
    before, row = counts(db, sh_case), case_row(db, sh_case)

    def broken(*a, **k):
        raise RuntimeError("disk full")  # injected after the machine moved and the effects ran

    monkeypatch.setattr(audit, "append_case", broken)
    with pytest.raises(RuntimeError):
        driver.act("sh_approver", sh_case, "approve", {})
    monkeypatch.undo()
    after = case_row(db, sh_case)
    assert (after.state, after.version) == (row.state, row.version) == ("authority_decision", row.version)
    assert counts(db, sh_case) == before  # no notice, timer, task, segment or outbox row survived
    assert driver.act("sh_approver", sh_case, "approve", {}) == "publicity"


def test_twenty_threads_fire_the_same_trigger_exactly_one_wins(db: Database, driver: Driver, sh_case: int) -> None:
    driver.act("sh_applicant", sh_case, "submit", commitments("SH"))
    officer = driver.actor("sh_case_officer")
    results: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def attempt() -> None:
        barrier.wait()
        try:
            command.fire(db, Command(sh_case, "accept", officer, {}), _state)
            outcome = "ok"
        except Conflict:
            outcome = "409"
        except Exception as exc:
            outcome = repr(exc)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["409"] * 19 + ["ok"]
    assert case_row(db, sh_case).state == "technical_review"
    with db.read() as s:
        accepted = s.exec(select(AuditEvent).where(AuditEvent.case_id == sh_case, AuditEvent.event == "accept"))
        assert len(list(accepted)) == 1


def test_idempotent_replay_returns_the_first_response(db: Database, driver: Driver, sh_case: int) -> None:
    first = fire(db, driver, "sh_applicant", sh_case, "submit", commitments("SH"), idempotency_key="k-1")
    again = fire(db, driver, "sh_applicant", sh_case, "submit", commitments("SH"), idempotency_key="k-1")
    assert again == first and first["state"] == "submitted"
    assert counts(db, sh_case)["events"] == 2  # created + one submit
    with pytest.raises(Invalid) as exc:
        fire(db, driver, "sh_applicant", sh_case, "withdraw", {}, idempotency_key="k-1")
    assert exc.value.reasons[0].code == "idempotency_mismatch"


def test_stale_version_is_409_and_illegal_trigger_lists_allowed(db: Database, driver: Driver, sh_case: int) -> None:
    with pytest.raises(Conflict) as stale:
        fire(db, driver, "sh_applicant", sh_case, "submit", commitments("SH"), if_match=7)
    assert stale.value.extra["current_version"] == 1
    fire(db, driver, "sh_applicant", sh_case, "submit", commitments("SH"), if_match=1)
    with pytest.raises(Conflict) as illegal:
        fire(db, driver, "sh_case_officer", sh_case, "approve", {})
    assert illegal.value.extra["allowed_actions"] == ["accept", "request_supplement"]
    assert "approve" not in illegal.value.extra["all_actions"] and "withdraw" in illegal.value.extra["all_actions"]
    with pytest.raises(Invalid) as unknown:
        fire(db, driver, "sh_case_officer", sh_case, "teleport", {})
    assert unknown.value.reasons[0].code == "unknown_trigger"


def test_roles_ownership_and_visibility(db: Database, driver: Driver, sh_case: int) -> None:
    with pytest.raises(NotFound):  # another applicant does not even learn the case exists
        fire(db, driver, "sh_applicant2", sh_case, "submit", commitments("SH"))
    with pytest.raises(NotFound):  # nor does staff of another jurisdiction
        fire(db, driver, "bj_case_officer", sh_case, "submit", commitments("SH"))
    with pytest.raises(Forbidden) as exc:
        fire(db, driver, "sh_case_officer", sh_case, "submit", commitments("SH"))
    assert exc.value.reasons[0].code == "role_required"


def test_every_failing_rule_is_reported(db: Database, driver: Driver) -> None:
    app = {**application("SH"), "other_schemes": [{"scheme": "CCER", "reference": "C-1"}]}
    cid = driver.open("sh_applicant", "SH", app)
    with pytest.raises(Invalid) as exc:
        driver.act("sh_applicant", cid, "submit", {"commitments": {"no_green_certificate": True}})
    codes = [r.code for r in exc.value.reasons]
    assert codes == ["commitment_missing", "commitment_missing", "double_registration"]
    assert case_row(db, cid).state == "draft" and counts(db, cid)["events"] == 1


def test_a_methodology_outside_the_registry_is_refused_when_the_draft_is_saved(db: Database, driver: Driver
                                                                                 ) -> None:
    with db.read() as s:
        before = len(s.exec(select(Case)).all())
    with pytest.raises(Invalid) as opened:
        driver.open("sh_applicant", "SH", application("SH", methodology="NOPE-1"))
    assert [(r.code, r.field) for r in opened.value.reasons] == [("methodology_unknown", "methodology_code")]
    with db.read() as s:
        assert len(s.exec(select(Case)).all()) == before  # nothing stored, not even the project
    cid = driver.open("sh_applicant", "SH", application("SH"))
    with pytest.raises(Invalid) as edited:  # an edit that names another version is judged the same way
        driver.act("sh_applicant", cid, "edit", {"methodology_version": "v1.0"})
    assert [r.code for r in edited.value.reasons] == ["methodology_unknown"]
    driver.act("sh_applicant", cid, "edit", {"title": "改名不涉及方法学"})  # other edits are not judged on it
    assert case_row(db, cid).application["methodology_version"] == "1.0"


def test_task_claimed_by_someone_else_cannot_be_completed(db: Database, driver: Driver, sh_case: int) -> None:
    with db.write() as s:
        create_user(s, username="sh_officer_b", display_name="王经办", grants=[("case_officer", "SH")])
    driver.act("sh_applicant", sh_case, "submit", commitments("SH"))
    from services.engine import assignment

    with db.read() as s:
        task = s.exec(select(Task).where(Task.case_id == sh_case, Task.status == "open")).one()
    assignment.claim(db, task.id, driver.actor("sh_officer_b"))
    with pytest.raises(Forbidden) as exc:
        driver.act("sh_case_officer", sh_case, "accept", {})
    assert "王经办" in exc.value.reasons[0].zh and exc.value.extra["holder"].startswith("王经办")
    with pytest.raises(Conflict):
        assignment.claim(db, task.id, driver.actor("sh_case_officer"))
    with pytest.raises(Forbidden):
        assignment.unclaim(db, task.id, driver.actor("sh_case_officer"))
    with pytest.raises(Invalid):  # a delegate must hold the role
        assignment.delegate(db, task.id, driver.actor("sh_officer_b"), driver.user_id("sh_approver"))
    assignment.delegate(db, task.id, driver.actor("sh_officer_b"), driver.user_id("sh_case_officer"))
    assert driver.act("sh_case_officer", sh_case, "accept", {}) == "technical_review"


def test_supplement_deadline_lapses_from_its_timer_once(db: Database, driver: Driver, sh_case: int,
                                                        test_clock) -> None:
    driver.act("sh_applicant", sh_case, "submit", commitments("SH"))
    driver.act("sh_case_officer", sh_case, "request_supplement", {"items": ["补充监测计划"]})
    with db.read() as s:
        timer = s.exec(select(Timer).where(Timer.case_id == sh_case, Timer.status == "pending")).one()
    # 2026-03-02 (Mon) + 20 working days = 2026-03-30 (Mon); fires at its end, 24:00 Shanghai
    assert timer.fire_at == at("2026-03-31 00:00")
    test_clock.set(at("2026-03-30 23:59"))
    assert run_due_timers(db)["fired"] == []
    test_clock.set(at("2026-06-01 08:00"))  # the system was down for weeks: fires at the first sweep
    fired = run_due_timers(db)["fired"]
    assert [(f["case_id"], f["trigger"], f["state"]) for f in fired] == [(sh_case, "lapse", "lapsed")]
    assert run_due_timers(db)["fired"] == []
    with db.read() as s:
        assert s.get(Project, case_row(db, sh_case).project_id).status == "lapsed"
        last = s.exec(select(AuditEvent).where(AuditEvent.case_id == sh_case).order_by(AuditEvent.seq.desc())).first()
        assert (last.event, last.actor_role) == ("lapse", "system")


def test_a_timer_whose_case_moved_on_is_cancelled(db: Database, driver: Driver, sh_case: int, test_clock) -> None:
    driver.act("sh_applicant", sh_case, "submit", commitments("SH"))
    driver.act("sh_case_officer", sh_case, "request_supplement", {"items": ["补充材料"]})
    driver.act("sh_applicant", sh_case, "resubmit", {"response": "已补充"})
    with db.read() as s:
        assert [t.status for t in s.exec(select(Timer).where(Timer.case_id == sh_case))] == ["cancelled"]
    test_clock.advance(timedelta(days=60))
    assert run_due_timers(db) == {"fired": [], "cancelled": [], "failed": []}


def test_statutory_clock_runs_only_while_the_authority_holds_the_case(db: Database, driver: Driver, sh_case: int,
                                                                      test_clock) -> None:
    from services.engine.statutory import summary
    from services.engine.workdays import calendar
    from states.profiles import get_profile

    driver.act("sh_applicant", sh_case, "submit", commitments("SH"))          # Mon 03-02, running
    test_clock.set(at("2026-03-05 10:00"))                                   # Thu: 3 WD used
    driver.act("sh_case_officer", sh_case, "request_supplement", {"items": ["补充"]})  # paused
    test_clock.set(at("2026-03-12 10:00"))                                   # a week paused
    driver.act("sh_applicant", sh_case, "resubmit", {"response": "已补充"})  # running again
    test_clock.set(at("2026-03-16 10:00"))                                   # Mon: +2 WD (Fri, Mon)
    with db.read() as s:
        c = summary(s, case_row(db, sh_case), get_profile("SH"), calendar(s), test_clock.now())
    assert (c["status"], c["used_days"], c["paused_days"], c["limit_days"]) == ("running", 5, 5, 40)
    assert c["remaining_days"] == 35 and not c["breached"]
    assert [s["running"] for s in c["segments"]] == [True, False, True]


def test_panel_revision_loop_reopens_opinions(db: Database, driver: Driver, sh_case: int) -> None:
    drive_to(driver, "SH", sh_case, "expert_review")
    experts = [driver.user_id(f"sh_expert{n}") for n in (1, 2, 3)]
    with pytest.raises(Invalid) as exc:  # the chair cannot conclude before the composition
        driver.act("sh_case_officer", sh_case, "compose_panel", {"members": experts[:2], "chair": experts[0]})
    assert [r.code for r in exc.value.reasons] == ["panel_size"]
    driver.act("sh_case_officer", sh_case, "compose_panel", {"members": experts, "chair": experts[0]})
    driver.act("sh_expert2", sh_case, "record_opinion", {"opinion": "agree_with_changes", "score": 70})
    with pytest.raises(Invalid) as quorum:
        driver.act("sh_expert1", sh_case, "panel_revise", {"conclusion": "需修改"})
    assert [r.code for r in quorum.value.reasons] == ["quorum"]
    with pytest.raises(NotFound):  # an expert off the panel does not see the case at all (DESIGN §6)
        driver.act("sh_expert4", sh_case, "record_opinion", {"opinion": "agree", "score": 90})
    with pytest.raises(Forbidden) as twice:  # the opinion task is done: no second opinion
        driver.act("sh_expert2", sh_case, "record_opinion", {"opinion": "agree", "score": 90})
    assert [r.code for r in twice.value.reasons] == ["no_task_for_you"]
    driver.act("sh_expert3", sh_case, "record_opinion", {"opinion": "disagree", "score": 40})
    assert driver.act("sh_expert1", sh_case, "panel_revise", {"conclusion": "需修改", "dissent": "专家3"}) == (
        "revision_requested")
    assert driver.act("sh_applicant", sh_case, "resubmit", {"response": "已修改",
                                                            "changes": {"title": "修改后的标题"}}) == "expert_review"
    with db.read() as s:
        kinds = sorted((t.kind, t.candidate_user_id) for t in s.exec(
            select(Task).where(Task.case_id == sh_case, Task.status == "open")))
        assert kinds == sorted([("expert_opinion", e) for e in experts] + [("panel_conclusion", experts[0])])
        # the chair concludes on the members' opinions: the conclusion is due after theirs, by its own days
        due = {t.kind: t for t in s.exec(select(Task).where(Task.case_id == sh_case, Task.status == "open"))}
        opinion, conclusion = due["expert_opinion"], due["panel_conclusion"]
        assert opinion.due_on is not None and conclusion.due_on is not None and conclusion.due_on > opinion.due_on
        assert conclusion.sla_days == opinion.sla_days + 5  # _defaults.toml: expert_opinion 10, panel_conclusion 5
        assert s.get(Project, case_row(db, sh_case).project_id).title == "修改后的标题"


def test_registration_numbers_are_sequential_per_jurisdiction_and_kind(db: Database, driver: Driver,
                                                                       test_clock) -> None:
    ids = [driver.open("sd_applicant", "SD", application("SD", title=f"项目{i}")) for i in range(3)]
    for cid in ids:
        drive_to(driver, "SD", cid, "publicity")
    test_clock.advance(timedelta(days=30))
    run_due_timers(db)
    with db.read() as s:
        numbers = sorted(p.registration_number for p in s.exec(select(Project).where(Project.jurisdiction == "SD")))
    assert numbers == ["SD-2026-P00001", "SD-2026-P00002", "SD-2026-P00003"]


def test_audit_chain_detects_tampering(db: Database, driver: Driver, sh_case: int) -> None:
    driver.act("sh_applicant", sh_case, "submit", commitments("SH"))
    with db.read() as s:
        assert audit.verify(s)["ok"] is True
        target = s.exec(select(AuditEvent).where(AuditEvent.case_id == sh_case, AuditEvent.seq == 2)).one()
    with db.write() as s:
        s.exec(sa.update(AuditEvent).where(AuditEvent.id == target.id)
               .values(to_state="registered"))
    with db.read() as s:
        result = audit.verify(s)
    assert result["ok"] is False
    assert result["first_broken"]["event_id"] == target.id
    assert result["first_broken"]["stream"] == f"case:{sh_case}"


def test_withdraw_and_reject_paths(db: Database, driver: Driver) -> None:
    a = driver.open("ord_applicant", "ORD", application("ORD"))
    driver.act("ord_applicant", a, "submit", commitments("ORD"))
    assert driver.act("ord_applicant", a, "withdraw", {"reason": "暂缓"}) == "withdrawn"
    b = driver.open("ord_applicant", "ORD", application("ORD"))
    drive_to(driver, "ORD", b, "technical_review")
    assert driver.act("ord_review_centre", b, "fail_review", {"opinion": "额外性论证不足"}) == "rejected"
    with db.read() as s:
        assert [t.status for t in s.exec(select(Task).where(Task.case_id == b, Task.status == "open"))] == []
        assert case_row(db, b).closed_at is not None


def test_errors_carry_both_languages(db: Database, driver: Driver, sh_case: int) -> None:
    with pytest.raises(CommandError) as exc:
        driver.act("sh_applicant", sh_case, "submit", {"commitments": "yes"})
    body = exc.value.body()["error"]
    assert body["status"] == 422 and body["reasons"][0]["field"] == "commitments"
    assert body["reasons"][0]["zh"] and body["reasons"][0]["en"]
