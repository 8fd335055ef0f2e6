"""The application embedding SpiffWorkflow, for the peer benchmark (bench/peers/spiff.py) and its test.

`project_registration.bpmn` (next to this file) parsed once with SpiffWorkflow's plain `BpmnParser`,
checked against the BPMN 2.0 XSD. Each case is one row of `peer_workflow` (SQLAlchemy Core, in the
same database as our app, through its writer engine) holding the serialized workflow JSON, the ready
tasks and the moment its timer is due. A step is what an application does for one completed form,
in one transaction: lock the row (PostgreSQL `FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), deserialize,
find the ready user task in the actor's lane (an expert's own opinion instance), put the form in its
data, run it, `do_engine_steps`, serialize, update the row, commit. Timers fire from a sweep like
ours: select the rows due, then per row in its own transaction lock, deserialize, `refresh_timers`,
`do_engine_steps`, serialize, update.

Two layouts of the JSON: `whole`, `BpmnWorkflowSerializer` as shipped (the spec in every row, as its
documentation stores a workflow); `state`, the instance state only, the spec restored from the
parsed BPMN in memory (`spec_apart_converter`).

Working days are not BPMN: the application computes the timers' moments with our `WorkingCalendar`
(`publicity_ends_at`, `supplement_deadline`) and Spiff's timers read our clock (`use_app_clock`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

BPMN = Path(__file__).with_name("project_registration.bpmn")
PROCESS = "project_registration"
CODE = "SH"
PUBLICITY_DAYS = 5  # Shanghai art. 14
SUPPLEMENT_DAYS = 20

META = sa.MetaData()
PEER_WORKFLOW = sa.Table(
    "peer_workflow", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("process", sa.String(64), nullable=False),
    sa.Column("layout", sa.String(16), nullable=False),  # SpiffApp.layout: how `workflow` is serialized
    sa.Column("tasks", sa.String(200), nullable=False),  # ready user tasks, or the end event reached
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=True, index=True),  # the waiting timer
    sa.Column("workflow", sa.Text, nullable=False),  # BpmnWorkflowSerializer JSON
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


@cache
def use_app_clock() -> None:
    """Spiff's timers read `datetime.now(timezone.utc)`; make them read our one clock, so advancing it
    moves both engines' time alike."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    from services.engine.clock import clock

    class AppClockDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> AppClockDatetime:
            moment = clock.now()
            return cls.combine(moment.date(), moment.time(), moment.tzinfo).astimezone(tz)

    timer.datetime = AppClockDatetime


@cache
def load_spec() -> Any:
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator

    parser = BpmnParser(validator=BpmnValidator())  # checked against the BPMN 2.0 XSD
    parser.add_bpmn_file(str(BPMN))
    return parser.get_spec(PROCESS)


def spec_apart_converter() -> type:
    """A converter for `BpmnWorkflow` that stores the spec's name instead of the spec and restores the
    process's parsed spec: what an application does that keeps its BPMN with its code. The rest is
    SpiffWorkflow's own `BpmnWorkflowConverter` (3.x), without the spec."""
    from uuid import UUID

    from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter

    class SpecByName(BpmnWorkflowConverter):
        def to_dict(self, workflow: Any) -> dict[str, Any]:
            dct = WorkflowConverter.to_dict(self, workflow)
            dct["spec"] = workflow.spec.name
            dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
            dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
            return dct

        def from_dict(self, dct: dict[str, Any]) -> Any:
            if dct.pop("spec") != PROCESS:
                raise ValueError("a workflow of another process")
            workflow = self.target_class(load_spec(), {}, deserializing=True)
            workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
            workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
            self.set_default_attributes(workflow, dct)
            self.subprocesses_from_dict(dct["subprocesses"], workflow)
            workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
            return workflow
    return SpecByName


@cache
def serializer(layout: str = "whole") -> Any:
    """`whole`: SpiffWorkflow's default serializer, the spec in every row (as its documentation stores a
    workflow); `state`: the instance's state only (`spec_apart_converter`)."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG, BpmnWorkflowSerializer

    if layout == "whole":
        return BpmnWorkflowSerializer()
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure({**DEFAULT_CONFIG,
                                                                    BpmnWorkflow: spec_apart_converter()}))


class StepRefused(Exception):
    """No ready task of that name for this actor: what an application answers with 403/409."""


def _summary(wf: Any) -> tuple[str, datetime | None]:
    """(the row's `tasks` column, when its timer is due)."""
    from SpiffWorkflow.bpmn.specs.defaults import EndEvent
    from SpiffWorkflow.util.task import TaskState

    if wf.is_completed():
        ends = [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent)]
        return (ends[-1] if ends else "completed"), None
    ready = sorted({t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True)})
    due = [datetime.fromisoformat(e.value) for e in wf.waiting_events() if e.value]
    return ",".join(ready) or "waiting", (min(due).astimezone(UTC) if due else None)


def _ready_task(wf: Any, name: str, role: str, member: int | None) -> Any:
    from SpiffWorkflow.util.task import TaskState

    for task in wf.get_tasks(state=TaskState.READY, manual=True):
        if task.task_spec.bpmn_id != name or task.task_spec.lane != role:
            continue
        if member is None or task.data.get("member") == member:
            return task
    raise StepRefused(f"no ready {name} for {role} {member or ''}".strip())


@dataclass(frozen=True)
class SpiffApp:
    """The application embedding SpiffWorkflow: one `peer_workflow` row per case in `db`."""
    db: Any
    layout: str = "whole"

    @property
    def serializer(self) -> Any:
        return serializer(self.layout)

    @contextmanager
    def _locked(self, workflow_id: int) -> Iterator[tuple[Any, Any]]:
        with self.db.writer.begin() as conn:
            row = conn.execute(sa.select(PEER_WORKFLOW.c.workflow).where(PEER_WORKFLOW.c.id == workflow_id)
                               .with_for_update()).one()  # SQLite: the writer's BEGIN IMMEDIATE holds the file
            yield conn, self.serializer.deserialize_json(row.workflow)

    def _save(self, conn: Any, workflow_id: int, wf: Any) -> str:
        from services.engine.clock import clock

        tasks, due = _summary(wf)
        conn.execute(PEER_WORKFLOW.update().where(PEER_WORKFLOW.c.id == workflow_id).values(
            workflow=self.serializer.serialize_json(wf), tasks=tasks, due_at=due, updated_at=clock.now()))
        return tasks

    def open(self) -> int:
        """A new case: the workflow started and waiting at `submit`, stored."""
        from SpiffWorkflow.bpmn import BpmnWorkflow

        from services.engine.clock import clock

        wf = BpmnWorkflow(load_spec())
        wf.do_engine_steps()
        tasks, due = _summary(wf)
        with self.db.writer.begin() as conn:
            return int(conn.execute(PEER_WORKFLOW.insert().values(
                process=PROCESS, layout=self.layout, tasks=tasks, due_at=due,
                workflow=self.serializer.serialize_json(wf), updated_at=clock.now())).inserted_primary_key[0])

    def step(self, workflow_id: int, name: str, role: str, form: dict[str, Any], member: int | None = None) -> str:
        """One completed form, one transaction; returns the row's `tasks` afterwards."""
        with self._locked(workflow_id) as (conn, wf):
            task = _ready_task(wf, name, role, member)
            task.data.update(form)
            task.run()
            wf.do_engine_steps()
            return self._save(conn, workflow_id, wf)

    def sweep(self, now: datetime, limit: int = 1000) -> int:
        """Fire the due timers, one row per transaction; returns how many rows moved on."""
        t = PEER_WORKFLOW.c
        with self.db.reader.connect() as conn:
            due = list(conn.execute(sa.select(t.id).where(t.layout == self.layout, t.due_at <= now)
                                    .order_by(t.due_at, t.id).limit(limit)).scalars())
        fired = 0
        for workflow_id in due:
            with self._locked(workflow_id) as (conn, wf):
                wf.refresh_timers()
                wf.do_engine_steps()
                fired += self._save(conn, workflow_id, wf) != "waiting"
        return fired


@cache
def _calendar() -> Any:
    """The application's working-day calendar (the statutory one, no overrides), built once."""
    from services.engine.calendar import WorkingCalendar

    return WorkingCalendar()


def publicity_ends_at(now: datetime) -> str:
    """What the application puts in the decision's data: 24:00 of the 5th working day after today."""
    from services.engine.calendar import local_date

    return _calendar().publicity(local_date(now), PUBLICITY_DAYS, jurisdiction=CODE).closes_at.isoformat()


def supplement_deadline(now: datetime) -> str:
    """What the application puts in a supplement request: 24:00 of the 20th working day from today."""
    from services.engine.calendar import end_of_day_utc, local_date

    return end_of_day_utc(_calendar().add_working_days(local_date(now), SUPPLEMENT_DAYS, CODE).end).isoformat()
