"""Firing a trigger on a case: the single path every change takes, people through the API and the
system through timers (DESIGN §2). One command is one transaction.

`fire` claims the request's Idempotency-Key, locks the case the actor may see, and runs the command
through `STEPS`, an ordered list of small named steps (Prefect's orchestration policies are the
model): each checks one thing or does one thing, and a refusal raises before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col

from services.engine import audit, effects, facts, lifecycle, telemetry
from services.engine.actors import Actor
from services.engine.calendar import local_date
from services.engine.clock import clock
from services.engine.context import CaseLike, Ctx, case_view
from services.engine.errors import Conflict, Forbidden, Invalid, NotFound
from services.engine.forms_errors import reasons_from_validation
from services.engine.idempotency import Idem, Reply, once
from services.engine.visibility import is_owner, visible
from services.engine.work import close_task, open_task
from services.store import records
from services.store.engine import Database
from services.store.records import CaseRecord, TaskRecord
from services.store.tables import Task, User
from states.machine import procedure, runner
from states.messages import label, reason, role_required
from states.profiles import Profile, get_profile
from states.spec import PUBLIC, SYSTEM, ProcedureSpec, RuleInput, TransitionSpec


@dataclass
class Command:
    case_id: int
    trigger: str
    actor: Actor
    form: dict[str, Any] = field(default_factory=dict)
    if_match: int | None = None
    idempotency_key: str | None = None
    task_id: int | None = None


@dataclass
class Outcome:
    case: CaseRecord
    event_id: int | None
    moved: bool
    extra: dict[str, Any]


Responder = Callable[[Session, Outcome], Reply]


# --- who may act --------------------------------------------------------------------------------


def may_fire(actor: Actor, case: CaseLike, arrow: TransitionSpec) -> bool:
    if not any(actor.holds(r, case.jurisdiction) for r in arrow.roles):
        return False
    return is_owner(actor, case) if arrow.owner_only else True


def allowed_actions(actor: Actor, case: CaseLike, spec: ProcedureSpec) -> list[str]:
    return list(dict.fromkeys(a.trigger for a in spec.available(case.state) if may_fire(actor, case, a)))


@lru_cache(maxsize=4096)
def _lock_visible(statement: Any, actor: Actor) -> Any:
    return statement.where(visible(actor))


def _locking(statement: Any, actor: Actor | None) -> Any:
    """The public and the system act on cases by what their command names (a notice's case, a timer's);
    everyone else only on cases they may see."""
    return statement if actor is None or actor.kind in (PUBLIC, SYSTEM) else _lock_visible(statement, actor)


def lock_case(session: Session, case_id: int, actor: Actor | None = None) -> CaseRecord:
    """The case, locked for the rest of the transaction; 404 unless the actor may see it."""
    case = records.lock_case(session, _locking(records.LOCK_CASE, actor), {"case_id": case_id})
    if case is None:
        raise NotFound.of("case")
    return case


def lock_case_and_tasks(session: Session, case_id: int, actor: Actor | None = None
                        ) -> tuple[CaseRecord, list[TaskRecord]]:
    """`lock_case` with the case's open tasks, read in the same statement."""
    found = records.lock_case_and_tasks(session, _locking(records.LOCK_CASE_AND_TASKS, actor), {"case_id": case_id})
    if found is None:
        raise NotFound.of("case")
    return found


# --- the command -----------------------------------------------------------------------------------


def fire(db: Database, cmd: Command, respond: Responder) -> Reply:
    idem = Idem(cmd.actor.key, cmd.idempotency_key,
                {"case": cmd.case_id, "trigger": cmd.trigger, "form": cmd.form, "task": cmd.task_id})

    def command(session: Session) -> Reply:
        case, tasks = lock_case_and_tasks(session, cmd.case_id, cmd.actor)
        return respond(session, fire_locked(session, case, cmd, tasks))

    return once(db, idem, command)


def fire_locked(session: Session, case: CaseRecord, cmd: Command, open_tasks: list[TaskRecord] | None = None,
                insert_rows: bool = True) -> Outcome:
    """Run the steps on a locked case. `open_tasks`: the case's open tasks when the caller read them
    already (a sweep reads a batch's in one query); the command keeps the list current.
    `insert_rows=False` leaves the command's writes to the caller's flush (a batch sends them together);
    the outcome's `event_id` is then None."""
    run = Run(session=session, case=case, cmd=cmd, tasks=open_tasks, now=clock.now(),
              # the ignore below: a locked case's procedure and jurisdiction were checked when it was opened
              spec=procedure(case.procedure, case.jurisdiction), profile=get_profile(case.jurisdiction))  # type: ignore[arg-type]
    try:
        with session.no_autoflush:  # the command knows what it wrote, and flushes once at the end
            for step in STEPS:
                step(run)
        if insert_rows:
            run.ctx.uow.flush()
    except Exception as exc:
        telemetry.count_command(case.procedure, cmd.trigger, getattr(exc, "code", "error"))
        raise
    telemetry.count_command(case.procedure, cmd.trigger, "ok")
    return Outcome(case=case, event_id=run.event.id, moved=run.moved, extra=run.ctx.extra)


@dataclass
class Run:
    """One command on its way through the steps."""

    session: Session
    case: CaseRecord
    cmd: Command
    tasks: list[TaskRecord] | None
    now: datetime
    spec: ProcedureSpec
    profile: Profile
    arrows: list[TransitionSpec] = field(default_factory=list)
    task: TaskRecord | None = None
    form: BaseModel | None = None
    arrow: TransitionSpec | None = None
    ctx: Ctx = field(init=False)
    source: str = ""
    moved: bool = False
    joined: bool = False
    event: audit.Appended = field(init=False)


def check_version(run: Run) -> None:
    """If-Match: the case is as the sender last saw it (409 with the current version otherwise)."""
    given, case = run.cmd.if_match, run.case
    if given is not None and given != case.version:
        raise Conflict([reason("stale_version", current=case.version, given=given)], current_version=case.version)


def find_arrows(run: Run) -> None:
    """The trigger leads somewhere from this state: 422 for a trigger the procedure lacks, 409 for one
    not possible now, each with the actions that are."""
    run.arrows = run.spec.arrows(run.cmd.trigger, run.case.state)
    if run.arrows:
        return
    allowed = allowed_actions(run.cmd.actor, run.case, run.spec)
    if run.cmd.trigger not in run.spec.triggers:
        raise Invalid([reason("unknown_trigger", trigger=run.cmd.trigger)], allowed_actions=allowed)
    t, s = label(f"trigger.{run.cmd.trigger}"), label(f"state.{run.case.state}")
    raise Conflict([reason("illegal_transition", state_zh=s["zh"], state_en=s["en"], trigger_zh=t["zh"],
                           trigger_en=t["en"])], state=run.case.state, allowed_actions=allowed,
                   all_actions=list(dict.fromkeys(a.trigger for a in run.spec.available(run.case.state))))


def check_role(run: Run) -> None:
    roles = run.arrows[0].roles
    if not any(run.cmd.actor.holds(r, run.case.jurisdiction) for r in roles):
        raise Forbidden([role_required(*roles)])


def check_owner(run: Run) -> None:
    """Arrows declared `owner_only` are the owning organisation's alone."""
    if run.arrows[0].owner_only and not is_owner(run.cmd.actor, run.case):
        raise Forbidden([reason("not_owner")])


def pick_task(run: Run) -> None:
    """The open task this trigger completes for this actor (the one they hold, else a free one it is
    addressed to), or none when no task stands for the trigger; 403 naming the holder of a task held
    by someone else."""
    if run.tasks is None:
        run.tasks = records.open_tasks(run.session, [run.case.id])[run.case.id]
    cmd, case = run.cmd, run.case
    tasks = [t for t in run.tasks if cmd.trigger in t.triggers]
    if cmd.task_id is not None:
        tasks = [_named_task(run)]
    if not tasks:
        return
    actor = cmd.actor
    addressed = [t for t in tasks if actor.holds(t.role, case.jurisdiction)
                 and t.candidate_user_id in (None, actor.user_id) and t.candidate_org_id in (None, actor.org_id)]
    mine = [t for t in addressed if t.assignee_id == actor.user_id]
    free = [t for t in addressed if t.assignee_id is None]
    if mine or free:
        run.task = (mine or free)[0]
        return
    if addressed:
        # the ignore below: `addressed` holds only tasks with an assignee
        name = _holder_name(run.session, addressed[0].assignee_id)  # type: ignore[arg-type]
        raise Forbidden([reason("task_held", holder=name)], holder=name)
    t = label(f"trigger.{cmd.trigger}")
    raise Forbidden([reason("no_task_for_you", trigger_zh=t["zh"], trigger_en=t["en"])])


def _named_task(run: Run) -> TaskRecord:
    """A task the command names: one of the case's open tasks (409 for a closed one, 404 for another's)."""
    assert run.tasks is not None
    named = next((t for t in run.tasks if t.id == run.cmd.task_id), None)
    if named is None:
        case_id = run.session.execute(sa.select(col(Task.case_id)).where(col(Task.id) == run.cmd.task_id)).scalar()
        if case_id != run.case.id:
            raise NotFound.of("task")
        raise Conflict([reason("task_not_open")])
    if run.cmd.trigger not in named.triggers:
        raise Invalid([reason("trigger_not_of_task", allowed=", ".join(named.triggers))])
    return named


def _holder_name(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return f"{user.display_name} ({user.username})" if user else f"user {user_id}"


def validate_form(run: Run) -> None:
    try:
        run.form = run.arrows[0].form.model_validate(run.cmd.form)
    except ValidationError as exc:
        raise Invalid(reasons_from_validation(exc)) from exc


def judge(run: Run) -> None:
    """The application as the arrow would leave it, the arrow its `when` chooses, and every rule of it:
    422 with every reason, before anything changes."""
    form = run.form
    assert form is not None  # validate_form ran
    application = effects.preview(dict(run.case.application), run.arrows[0].effects, form, run.spec)
    inp = RuleInput(case=case_view(run.case, application), form=form,
                    facts=facts.facts(run.session, run.case, application), profile=run.profile,
                    actor_id=run.cmd.actor.user_id, today=local_date(run.now), actor_org_id=run.cmd.actor.org_id)
    run.arrow = next(a for a in run.arrows if a.when is None or a.when(inp))
    reasons = [r for rule in run.arrow.rules for r in rule(inp)]
    if reasons:
        raise Invalid(reasons)


def apply_effects(run: Run) -> None:
    """The arrow's effects, then the tasks it opens (unless already open)."""
    run.ctx = Ctx(session=run.session, case=run.case, actor=run.cmd.actor, form=run.form, profile=run.profile,
                  spec=run.spec, now=run.now, tasks=run.tasks or [], arrow=run.arrow)
    assert run.arrow is not None  # judge chose it
    for effect in run.arrow.effects:
        effects.apply(run.ctx, effect)
    for spec in run.arrow.opens:
        if not any(t.kind == spec.kind and t.role == spec.role for t in run.ctx.tasks):
            open_task(run.ctx, spec)


def complete_task(run: Run) -> None:
    """The task done; an AND-join (states.tasks.Joint) waits for its other joint tasks."""
    task = run.task
    if task is None:
        return
    close_task(run.ctx, task, "completed", run.cmd.trigger)
    declared = run.spec.task_spec(task.state, task.kind, task.role)
    if declared is not None and declared.joint is not None and run.cmd.trigger == declared.joint.moves_on:
        run.joined = any(t.join and t.kind == task.kind for t in run.ctx.tasks)


def move_state(run: Run) -> None:
    assert run.arrow is not None
    run.source = run.case.state
    run.moved = run.arrow.dest is not None and not run.joined
    if run.moved:
        dest = runner(run.case.procedure, run.case.jurisdiction).move(run.source, run.arrow)
        lifecycle.move(run.ctx, run.spec.state(run.source), run.spec.state(dest))


def record(run: Run) -> None:
    """A new version of the case, and the event on its hash chain (the public's contact details stay in
    their own rows, out of the widely read audit trail)."""
    case, actor, form = run.case, run.cmd.actor, run.form
    assert run.arrow is not None and form is not None
    case.version += 1
    case.updated_at = run.now
    acting = next((r for r in run.arrow.roles if actor.holds(r, case.jurisdiction)), actor.kind)
    public_form = form.model_dump(mode="json", exclude={"name", "contact"} & set(type(form).model_fields))
    run.event = audit.append_case(
        run.session, case, at=run.now, actor_id=actor.user_id, actor_role=acting, event=run.cmd.trigger,
        from_state=run.source, to_state=case.state,
        payload={"form": public_form, "task_id": run.task.id if run.task else None,
                 "awaiting_joint_review": run.joined, **run.ctx.extra})


STEPS: tuple[Callable[[Run], None], ...] = (
    check_version, find_arrows, check_role, check_owner, pick_task, validate_form, judge, apply_effects,
    complete_task, move_state, record,
)
