"""Orchestration against a real database: outbox delivery, panels, reminders, breaches, leases."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select

from services.accounts.identity import AdminScope, create_user
from services.demo import Driver, application, commitments, drive_to
from services.orchestration import dispatch, lease
from services.orchestration.dispatch import Channels, drain
from services.orchestration.sweep import record_breaches, send_reminders, sweep
from services.orchestration.timers import run_due_timers
from services.procedures import panels
from services.store.engine import Database
from services.store.tables import (
    AuditEvent,
    Notification,
    Outbox,
    PanelConflict,
    PanelMember,
    SlaBreach,
    Task,
    WebhookEndpoint,
)
from states.profiles import all_profiles
from tests.conftest import PG, at

pytestmark = pytest.mark.integration
SECRET = "s3cret-s3cret-s3cret"


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that checks signatures and de-duplicates on Idempotency-Key."""

    seen: dict[str, int] = {}
    bad_signatures = 0
    fail_next = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_next:
            Receiver.fail_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        if not dispatch.verify_signature(SECRET, body, self.headers["X-Carbon-Signature"]):
            Receiver.bad_signatures += 1
            self.send_response(401)
            self.end_headers()
            return
        key = self.headers["Idempotency-Key"]
        assert json.loads(body)["key"] == key
        Receiver.seen[key] = Receiver.seen.get(key, 0) + 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.seen, Receiver.bad_signatures, Receiver.fail_next = {}, 0, 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def webhook(db: Database, url: str, events: list[str] | None = None) -> None:
    with db.write() as s:
        s.add(WebhookEndpoint(jurisdiction="SD", name="政务服务网", url=url, secret=SECRET, events=events or []))


def outbox(db: Database, **where: object) -> list[Outbox]:
    with db.read() as s:
        q = select(Outbox)
        for k, v in where.items():
            q = q.where(getattr(Outbox, k) == v)
        return list(s.exec(q.order_by(Outbox.id)))


def _command_row(db: Database) -> Outbox:
    """The notification the submission itself queued (not the assignment's)."""
    return next(r for r in outbox(db, kind="notify") if ":assigned:" not in r.key)


def test_notifications_reach_people_once_however_often_delivered(db: Database, driver: Driver) -> None:
    cid = driver.open("sd_applicant", "SD", application("SD"))
    driver.act("sd_applicant", cid, "submit", commitments("SD"))
    driver.act("sd_case_officer", cid, "request_supplement", {"items": ["补充监测计划"]})
    counts = drain(db, Channels(smtp_host=None))
    assert counts["done"] >= 3 and counts["dead"] == 0
    with db.write() as s:  # deliver the same rows again: nothing new
        for row in s.exec(select(Outbox)):
            row.status, row.available_at = "pending", row.created_at
            s.add(row)
    drain(db, Channels(smtp_host=None))
    with db.read() as s:
        notes = list(s.exec(select(Notification)))
        applicant = driver.user_id("sd_applicant")
        mine = [n for n in notes if n.user_id == applicant]
        assert [n.event for n in mine] == ["entered:supplement_requested"]
        assert "待补正材料" in mine[0].title_zh and "Supplement requested" in mine[0].title_en
        assert len({(n.outbox_key, n.user_id) for n in notes}) == len(notes)
        officers = {n.user_id for n in notes if n.event == "entered:submitted"}
        assert driver.user_id("sd_case_officer") in officers


def test_the_least_loaded_officer_is_assigned(db: Database, driver: Driver) -> None:
    with db.write() as s:
        create_user(s, username="sd_officer_b", display_name="第二经办人", grants=[("case_officer", "SD")])
    first = driver.open("sd_applicant", "SD", application("SD"))
    driver.act("sd_applicant", first, "submit", commitments("SD"))
    drain(db, Channels(smtp_host=None))
    second = driver.open("sd_applicant", "SD", application("SD"))
    driver.act("sd_applicant", second, "submit", commitments("SD"))
    drain(db, Channels(smtp_host=None))
    with db.read() as s:
        owners = [s.exec(select(Task.assignee_id).where(Task.case_id == c, Task.status == "open")).one()
                  for c in (first, second)]
        assigned = s.exec(select(AuditEvent).where(AuditEvent.case_id == second,
                                                   AuditEvent.event == "task_assigned")).one()
    assert set(owners) == {driver.user_id("sd_case_officer"), driver.user_id("sd_officer_b")}
    assert assigned.payload["open_work"][str(owners[0])] == 1
    with db.read() as s:  # and each officer was told
        told = {n.user_id for n in s.exec(select(Notification).where(Notification.event == "task_assigned"))}
    assert told == set(owners)


def test_webhooks_are_signed_and_redelivery_keeps_the_idempotency_key(db: Database, driver: Driver,
                                                                      receiver: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    webhook(db, receiver, events=["notify"])
    cid = driver.open("sd_applicant", "SD", application("SD"))
    driver.act("sd_applicant", cid, "submit", commitments("SD"))
    # crash after the POST went out but before it was recorded: the row is retried
    calls = {"n": 0}
    real = dispatch._record_delivery

    def crash_once(db_: Database, key: str, channel: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("process died")
        real(db_, key, channel)

    monkeypatch.setattr(dispatch, "_record_delivery", crash_once)
    drain(db, Channels(smtp_host=None))
    row = _command_row(db)
    assert row.status == "pending" and row.attempts == 1 and "process died" in row.last_error
    with db.write() as s:
        r = s.get(Outbox, row.id)
        r.available_at = r.created_at
        s.add(r)
    drain(db, Channels(smtp_host=None))
    assert _command_row(db).status == "done"
    assert Receiver.seen[row.key] == 2  # delivered twice, same key: the receiver keeps one
    assert Receiver.bad_signatures == 0
    forged = Channels(smtp_host=None)
    endpoint = WebhookEndpoint(id=99, jurisdiction="SD", name="x", url=receiver, secret="wrong-secret-wrong", events=[])
    with pytest.raises(Exception):  # noqa: B017 - the receiver refuses a bad signature (401)
        forged.post_webhook(endpoint, "k", "notify", {})
    assert Receiver.bad_signatures == 1


def test_an_unreachable_receiver_never_blocks_a_command_and_dead_letters_after_n(db: Database, driver: Driver,
                                                                                test_clock) -> None:
    webhook(db, "http://127.0.0.1:9/unreachable", events=["notify"])
    cid = driver.open("sd_applicant", "SD", application("SD"))
    assert driver.act("sd_applicant", cid, "submit", commitments("SD")) == "submitted"
    for _ in range(dispatch.MAX_ATTEMPTS):
        drain(db, Channels(smtp_host=None))
        test_clock.advance(timedelta(hours=7))
    row = _command_row(db)
    assert row.status == "dead" and row.attempts == dispatch.MAX_ATTEMPTS and "Connect" in row.last_error
    with db.read() as s:  # the in-app notification went out on the first attempt and was not lost
        assert s.exec(select(Notification).where(Notification.outbox_key == row.key)).first() is not None
    national = AdminScope(national=True, jurisdictions=frozenset(all_profiles()))
    assert dispatch.retry(db, row.id, None, national)["status"] == "pending"


def test_a_malformed_row_is_dead_lettered_at_once(db: Database) -> None:
    from services.engine.clock import clock

    with db.write() as s:
        s.add(Outbox(key="broken-1", kind="notify", payload={"nothing": True}, created_at=clock.now(),
                     available_at=clock.now()))
        s.add(Outbox(key="broken-2", kind="teleport", payload={}, created_at=clock.now(), available_at=clock.now()))
    drain(db, Channels(smtp_host=None))
    rows = {r.key: r for r in outbox(db)}
    assert rows["broken-1"].status == "dead" and "malformed payload" in rows["broken-1"].last_error
    assert rows["broken-2"].status == "dead" and "no handler" in rows["broken-2"].last_error
    assert rows["broken-1"].attempts == 1


def test_mail_goes_out_over_smtp(db: Database, driver: Driver) -> None:
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Sink

    received: list[bytes] = []

    class Collect(Sink):
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with db.write() as s:
            from services.store.tables import User

            user = s.exec(select(User).where(User.username == "sd_applicant")).one()
            user.email = "applicant@example.cn"
            s.add(user)
        cid = driver.open("sd_applicant", "SD", application("SD"))
        driver.act("sd_applicant", cid, "submit", commitments("SD"))
        driver.act("sd_case_officer", cid, "request_supplement", {"items": ["补充材料"]})
        drain(db, Channels(smtp_host="127.0.0.1", smtp_port=port))
        drain(db, Channels(smtp_host="127.0.0.1", smtp_port=port))  # again: not resent
    finally:
        controller.stop()
    assert len(received) == 1 and b"applicant@example.cn" in received[0]


# --- panels ------------------------------------------------------------------------------------


def _extra_experts(db: Database) -> dict[str, int]:
    """Around the five demo experts (fields energy/transport): three who must be excluded, one not."""
    with db.write() as s:
        made = {
            "same_org": create_user(s, username="sh_e_same", display_name="申请单位专家", grants=[("expert", "SH")],
                                    expert_fields=["energy"], affiliation="SH 绿色能源有限公司"),
            "consultant": create_user(s, username="sh_e_cons", display_name="咨询方专家", grants=[("expert", "SH")],
                                      expert_fields=["energy"], affiliation="某咨询公司"),
            "forestry": create_user(s, username="sh_e_forest", display_name="林业专家", grants=[("expert", "SH")],
                                    expert_fields=["forestry"], affiliation="林科院"),
            "eligible": create_user(s, username="sh_e_ok", display_name="合格专家", grants=[("expert", "SH")],
                                    expert_fields=["energy"], affiliation="大学"),
        }
        return {k: u.id for k, u in made.items()}


def _to_panel(db: Database, driver: Driver) -> int:
    app = {**application("SH"), "expertise": "energy", "consultant": "某咨询公司"}
    cid = driver.open("sh_applicant", "SH", app)
    drive_to(driver, "SH", cid, "expert_review")
    return cid


def _draw_event(db: Database, cid: int) -> AuditEvent:
    with db.read() as s:
        return s.exec(select(AuditEvent).where(AuditEvent.case_id == cid, AuditEvent.event == "draw_panel")).one()


def test_the_draw_excludes_conflicts_and_can_be_rechecked(db: Database, driver: Driver) -> None:
    extra = _extra_experts(db)
    cid = _to_panel(db, driver)
    drain(db, Channels(smtp_host=None))
    event = _draw_event(db, cid)
    demo = [driver.user_id(f"sh_expert{n}") for n in range(1, 6)]
    assert event.payload["draw"]["candidates"] == sorted([*demo, extra["eligible"]])
    seed, chosen = event.payload["draw"]["seed"], event.payload["draw"]["chosen"]
    assert panels.draw(event.payload["draw"]["candidates"], 5, seed) == (seed, chosen)  # anyone can re-run it
    with db.read() as s:
        members = list(s.exec(select(PanelMember).where(PanelMember.case_id == cid)))
        tasks = list(s.exec(select(Task).where(Task.case_id == cid, Task.status == "open")))
        compose = s.exec(select(Task).where(Task.case_id == cid, Task.kind == "compose_panel")).one()
    assert sorted(m.user_id for m in members) == sorted(chosen) and all(m.drawn for m in members)
    assert [m.user_id for m in members if m.chair] == [chosen[0]]
    assert sorted(t.candidate_user_id for t in tasks if t.kind == "expert_opinion") == sorted(chosen)
    assert (compose.status, compose.outcome) == ("cancelled", "drawn")
    # each drawn member is invited, as a named one is (the scale-out smoke found the draw told nobody)
    drain(db, Channels(smtp_host=None))
    with db.read() as s:
        invited = s.exec(select(Notification.user_id).where(Notification.case_id == cid,
                                                            Notification.event == "panel_invitation")).all()
    assert sorted(invited) == sorted(chosen)


def test_a_declining_expert_is_replaced_by_a_fresh_draw(db: Database, driver: Driver) -> None:
    _extra_experts(db)
    cid = _to_panel(db, driver)
    drain(db, Channels(smtp_host=None))
    draw = _draw_event(db, cid).payload["draw"]
    left_out = (set(draw["candidates"]) - set(draw["chosen"])).pop()
    chair = draw["chair"]
    names = {driver.user_id(n): n for n in [f"sh_expert{i}" for i in range(1, 6)] + ["sh_e_ok"]}
    driver.act(names[chair], cid, "decline_panel", {"reason": "与申请单位有合作", "conflict": True})
    with db.read() as s:
        members = {m.user_id: m for m in s.exec(select(PanelMember).where(PanelMember.case_id == cid))}
        conflicts = [c.user_id for c in s.exec(select(PanelConflict).where(PanelConflict.case_id == cid))]
        conclusion = s.exec(select(Task).where(Task.case_id == cid, Task.kind == "panel_conclusion",
                                               Task.status == "open")).one()
    assert members[chair].status == "declined" and conflicts == [chair]
    assert members[left_out].status == "active" and members[left_out].chair  # the replacement takes the chair
    assert conclusion.candidate_user_id == left_out
    drain(db, Channels(smtp_host=None))
    with db.read() as s:
        assert left_out in s.exec(select(Notification.user_id).where(
            Notification.case_id == cid, Notification.event == "panel_invitation")).all()  # the replacement too
    # nobody is left to draw: the next decline shrinks the panel and the quorum follows the active members
    second = next(u for u in draw["chosen"] if u != chair)
    driver.act(names[second], cid, "decline_panel", {"reason": "出差"})
    active = [u for u in [*draw["chosen"], left_out] if u not in (chair, second)]
    assert len(active) == 4
    for u in active[:2]:
        driver.act(names[u], cid, "record_opinion", {"opinion": "agree", "score": 80})
    from services.engine.errors import Invalid

    with pytest.raises(Invalid) as quorum:  # ⅔ of 4 = 3 opinions needed
        driver.act(names[left_out], cid, "panel_pass", {"conclusion": "通过"})
    assert quorum.value.reasons[0].params == {"given": 2 if left_out not in active[:2] else 2, "needed": 3}
    with pytest.raises(Exception):  # noqa: B017 - a declined expert no longer sees the case
        driver.act(names[chair], cid, "record_opinion", {"opinion": "agree", "score": 1})


def test_a_pool_too_small_is_dead_lettered_and_the_officer_composes(db: Database, driver: Driver) -> None:
    app = {**application("SH"), "expertise": "marine"}  # nobody in the pool has it
    cid = driver.open("sh_applicant", "SH", app)
    drive_to(driver, "SH", cid, "expert_review")
    drain(db, Channels(smtp_host=None))
    (row,) = outbox(db, kind="convene_panel")
    assert row.status == "dead" and "不足" in row.last_error and "eligible" in row.last_error
    with db.read() as s:
        assert s.exec(select(Task).where(Task.case_id == cid, Task.kind == "compose_panel",
                                         Task.status == "open")).one()


def test_cool_off_keeps_an_expert_off_the_same_project(db: Database, driver: Driver) -> None:
    from services.engine.clock import clock
    from services.store.tables import Case

    cid = driver.open("sh_applicant", "SH", application("SH"))
    drive_to(driver, "SH", cid, "expert_review")
    drain(db, Channels(smtp_host=None))
    first = set(_draw_event(db, cid).payload["draw"]["chosen"])
    with db.write() as s:  # a second case about the same project
        case = s.get(Case, cid)
        other = Case(procedure=case.procedure, jurisdiction="SH", state="expert_review", subject_kind="project",
                     project_id=case.project_id, applicant_org_id=case.applicant_org_id, application=case.application,
                     created_at=clock.now(), updated_at=clock.now())
        s.add(other)
        s.flush()
        other_id = other.id
    with db.read() as s:
        from services.engine.actors import SYSTEM_ACTOR
        from services.engine.effects import Ctx
        from states.machine import procedure
        from states.profiles import get_profile

        ctx = Ctx(session=s, case=s.get(Case, other_id), actor=SYSTEM_ACTOR, form=None, profile=get_profile("SH"),
                  spec=procedure("project_registration", "SH"), now=clock.now(), tasks=[])
        assert not first & set(panels.candidates(ctx))
        ctx.now = clock.now() + timedelta(days=400)  # after the cool-off window
        assert first <= set(panels.candidates(ctx))


# --- sweep: reminders, breaches, timers ---------------------------------------------------------


def test_reminders_go_out_once_per_task_and_moment(db: Database, driver: Driver, test_clock) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))  # completeness check: due Mon 03-09
    test_clock.set(at("2026-03-05 09:00"))  # Thu: 2 working days before
    assert send_reminders(db, test_clock.now()) == 1
    assert send_reminders(db, test_clock.now()) == 0
    test_clock.set(at("2026-03-09 09:00"))  # the due day
    assert send_reminders(db, test_clock.now()) == 1
    assert send_reminders(db, test_clock.now()) == 0
    keys = sorted(r.key for r in outbox(db) if r.key.startswith("reminder:"))
    assert [k.rsplit(":", 1)[1] for k in keys] == ["0", "2"]


def test_breaches_are_recorded_once_escalated_and_resolved(db: Database, driver: Driver, test_clock) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    driver.act("sh_applicant", cid, "submit", commitments("SH"))
    test_clock.set(at("2026-03-10 09:00"))  # completeness check was due 03-09
    assert record_breaches(db, test_clock.now()) == {"new": 1, "resolved": 0}
    assert record_breaches(db, test_clock.now()) == {"new": 0, "resolved": 0}
    with db.read() as s:
        (breach,) = s.exec(select(SlaBreach))
        escalation = s.get(Task, breach.escalation_task_id)
    assert (breach.kind, breach.stage, breach.role) == ("task_overdue", "submitted", "case_officer")
    assert (escalation.role, escalation.kind, escalation.jurisdiction) == ("approver", "sla_escalation", "SH")
    driver.act("sh_approver", cid, "acknowledge_escalation")  # through the command path, like any task
    with db.read() as s:
        assert s.get(Task, escalation.id).status == "completed"
    driver.act("sh_case_officer", cid, "accept", {})
    assert record_breaches(db, test_clock.now())["resolved"] == 1
    # the statutory clock (40 WD) runs out in technical review
    test_clock.set(at("2026-06-30 09:00"))
    result = record_breaches(db, test_clock.now())
    with db.read() as s:
        kinds = sorted(b.kind for b in s.exec(select(SlaBreach)))
    assert result["new"] == 2 and kinds == ["clock_exceeded", "task_overdue", "task_overdue"]


def test_a_publicity_that_ended_while_stopped_closes_on_the_first_sweep(db: Database, driver: Driver,
                                                                        test_clock) -> None:
    cid = driver.open("ord_applicant", "ORD", application("ORD"))
    drive_to(driver, "ORD", cid, "publicity")
    test_clock.advance(timedelta(days=90))
    result = sweep(db, test_clock.now())
    assert result["timers_fired"] == 1
    with db.read() as s:
        from services.store.tables import Case, Notice

        assert s.get(Case, cid).state == "registered"
        assert s.exec(select(Notice).where(Notice.case_id == cid)).one().status == "closed"


def test_two_concurrent_sweeps_fire_each_timer_once(db: Database, driver: Driver, test_clock) -> None:
    ids = []
    for i in range(6):
        cid = driver.open("sd_applicant", "SD", application("SD", title=f"并发{i}"))
        drive_to(driver, "SD", cid, "publicity")
        ids.append(cid)
    test_clock.advance(timedelta(days=30))
    results: list[dict] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(run_due_timers(db, test_clock.now()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fired = sorted(f["case_id"] for r in results for f in r["fired"])
    assert fired == sorted(ids)
    with db.read() as s:
        ends = s.exec(select(AuditEvent).where(AuditEvent.event == "publicity_end"))
        assert sorted(e.case_id for e in ends) == sorted(ids)


@pytest.mark.skipif(not PG, reason="SKIP LOCKED claims are a PostgreSQL matter")
def test_two_dispatchers_share_the_outbox_without_overlap(db: Database, driver: Driver) -> None:
    for _ in range(5):
        cid = driver.open("sd_applicant", "SD", application("SD"))
        driver.act("sd_applicant", cid, "submit", commitments("SD"))
    first = dispatch.claim(db, 3)
    second = dispatch.claim(db, 100)
    assert first and not {r.id for r in first} & {r.id for r in second}


def test_one_scheduler_per_database(db: Database, test_clock) -> None:
    assert lease.hold(db, "embedded-scheduler", "a")
    assert not lease.hold(db, "embedded-scheduler", "b")
    assert lease.hold(db, "embedded-scheduler", "a")
    test_clock.advance(timedelta(minutes=5))  # a's lease lapsed: b takes over
    assert lease.hold(db, "embedded-scheduler", "b")
    assert not lease.hold(db, "embedded-scheduler", "a")
