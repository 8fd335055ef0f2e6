"""The peer benchmark's BPMN (bench/peers/project_registration.bpmn) runs in SpiffWorkflow: one case to
registered through its stored row, the return branches it models, and a serialized workflow that
round-trips. Skipped when SpiffWorkflow (the `bench` extra) is not installed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

pytest.importorskip("SpiffWorkflow")

from bench.peers import spiff, spiff_app
from services.store.engine import Database
from tests.conftest import at


@pytest.fixture(params=["whole", "state"])
def app(db: Database, request: pytest.FixtureRequest) -> Iterator[spiff_app.SpiffApp]:
    """The application embedding Spiff, with either layout of the stored JSON."""
    spiff_app.use_app_clock()
    spiff_app.META.create_all(db.writer)
    yield spiff_app.SpiffApp(db, request.param)
    spiff_app.META.drop_all(db.writer)  # not one of the app's tables: the schema test must not see it


def row(db: Database, workflow_id: int) -> sa.Row:
    with db.reader.connect() as conn:
        return conn.execute(sa.select(spiff_app.PEER_WORKFLOW).where(spiff_app.PEER_WORKFLOW.c.id == workflow_id)).one()


def test_one_case_runs_to_registered(app: spiff_app.SpiffApp, test_clock) -> None:
    wid = app.open()
    assert row(app.db, wid).tasks == "submit"
    for step in spiff.make_steps(app.db):
        step.spiff(app, wid)
    waiting = row(app.db, wid)
    assert waiting.tasks == "waiting" and waiting.due_at is not None
    # published Mon 2026-03-02: 5 working days, 03-03 to 03-09, end at 24:00 Shanghai on Mon 03-09
    test_clock.set(at("2026-03-09 23:59"))
    assert app.sweep(test_clock.now()) == 0
    test_clock.set(at("2026-03-10 00:01"))
    assert app.sweep(test_clock.now()) == 1
    done = row(app.db, wid)
    assert (done.tasks, done.due_at) == ("registered", None)
    opinions = json.loads(done.workflow)["data"]["opinions"]
    assert sorted(o["score"] for o in opinions) == [80, 80, 80]
    assert app.sweep(test_clock.now()) == 0


def test_the_wrong_lane_or_member_is_refused(app: spiff_app.SpiffApp) -> None:
    wid = app.open()
    with pytest.raises(spiff_app.StepRefused):
        app.step(wid, "submit", "case_officer", {})
    steps = spiff.make_steps(app.db)
    for step in steps[:4]:  # through compose_panel
        step.spiff(app, wid)
    with pytest.raises(spiff_app.StepRefused):  # someone off the panel
        app.step(wid, "expert_opinion", "expert", {"member_opinion": {}}, member=-1)
    assert row(app.db, wid).tasks == "expert_opinion"


def test_return_branches_supplement_revision_and_lapse(app: spiff_app.SpiffApp, test_clock) -> None:
    step = app.step
    wid = app.open()
    step(wid, "submit", "applicant", {})
    far = "2099-01-01T00:00:00+00:00"
    step(wid, "completeness_check", "case_officer", {"completeness": "supplement", "supplement_deadline": far})
    assert step(wid, "supplement", "applicant", {}) == "completeness_check"
    step(wid, "completeness_check", "case_officer", {"completeness": "accept"})
    step(wid, "technical_review", "review_centre", {"review": "pass"})
    step(wid, "compose_panel", "case_officer", {"panel": [7], "chair": 7})
    step(wid, "expert_opinion", "expert", {"member_opinion": {"score": 60}}, member=7)
    assert step(wid, "panel_conclusion", "expert", {"conclusion": "revise"}) == "revise"
    assert step(wid, "revise", "applicant", {}) == "expert_opinion"  # the same panel again
    step(wid, "expert_opinion", "expert", {"member_opinion": {"score": 85}}, member=7)
    step(wid, "panel_conclusion", "expert", {"conclusion": "pass"})
    assert step(wid, "authority_decision", "approver", {"decision": "reject"}) == "rejected_by_decision"

    # a supplement deadline (working days, the application's calendar) that passes: the case lapses
    lapsing = app.open()
    step(lapsing, "submit", "applicant", {})
    deadline = spiff_app.supplement_deadline(test_clock.now())
    assert datetime.fromisoformat(deadline) == at("2026-03-31 00:00")  # Mon 03-02 + 20 working days, 24:00
    step(lapsing, "completeness_check", "case_officer", {"completeness": "supplement", "supplement_deadline": deadline})
    assert row(app.db, lapsing).due_at is not None
    test_clock.set(at("2026-03-30 23:59"))
    assert app.sweep(test_clock.now()) == 0
    test_clock.set(at("2026-03-31 00:01"))
    assert app.sweep(test_clock.now()) == 1
    assert row(app.db, lapsing).tasks == "lapsed"


def test_a_serialized_workflow_round_trips(app: spiff_app.SpiffApp) -> None:
    wid = app.open()
    for step in spiff.make_steps(app.db)[:5]:  # one expert opinion in: a multi-instance half done
        step.spiff(app, wid)
    stored = row(app.db, wid).workflow
    ser = app.serializer
    restored = ser.deserialize_json(stored)
    assert json.loads(ser.serialize_json(restored)) == json.loads(stored)
    assert spiff_app._summary(restored) == ("expert_opinion", None)
    from SpiffWorkflow.util.task import TaskState

    ready = restored.get_tasks(state=TaskState.READY, manual=True)
    panel = ready[0].data["panel"]
    assert sorted(t.data["member"] for t in ready) == sorted(panel[1:])  # the first expert's opinion is in


def test_an_objection_at_the_end_of_publicity_goes_to_review(app: spiff_app.SpiffApp, test_clock) -> None:
    wid = app.open()
    steps = spiff.make_steps(app.db)
    for step in steps[:-1]:
        step.spiff(app, wid)
    ends = spiff_app.publicity_ends_at(test_clock.now())
    app.step(wid, "authority_decision", "approver", {"decision": "approve", "publicity_ends_at": ends, "objections": 1})
    test_clock.advance(timedelta(days=8))
    assert app.sweep(test_clock.now()) == 1
    assert row(app.db, wid).tasks == "objection_review"
    assert app.step(wid, "objection_review", "case_officer", {"objection_outcome": "re_review"}) == "technical_review"
