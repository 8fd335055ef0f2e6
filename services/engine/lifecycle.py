"""Leaving and entering states: what every procedure's states do, in the order they do it.

Leaving: the state's exit effects, its work that does not go on in the next state cancelled, its
timers cancelled, the statutory clock's running segment ended when it stops or pauses. Entering: the
clock, the declared tasks and timers, the entry effects, the subject's status, who hears of it, and
whether the case is closed. Everything runs in the command's transaction.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlmodel import col

from services.engine import effects
from services.engine.calendar import local_date
from services.engine.context import Ctx, case_view
from services.engine.work import arm_declared, cancel_timers, close_task, enqueue, open_task
from services.store.records import TaskRecord
from services.store.tables import ClockSegment, Project, table_of
from states.profiles import Profile
from states.spec import StateSpec

ENDED_RUNNING_SEGMENTS = sa.select(col(ClockSegment.started_at), col(ClockSegment.ended_at)).where(
    col(ClockSegment.case_id) == sa.bindparam("case_id"), col(ClockSegment.running).is_(True),
    col(ClockSegment.ended_at).is_not(None))
_PROJECT = table_of(Project)
SHOW_ON_SUBJECT = _PROJECT.update().where(_PROJECT.c.id == sa.bindparam("project_id")).values(
    status=sa.bindparam("status"))


def clock_runs(profile: Profile, state: StateSpec) -> bool | None:
    """Whether the statutory clock runs in a state; None: it stops (draft, terminal states). A profile's
    `paused_in` overrides the declaration (Administrative Licensing Law arts. 42, 45)."""
    if state.clock == "stop":
        return None
    paused = profile.clock.paused_in
    return state.name not in paused if paused is not None else state.clock == "run"


def move(ctx: Ctx, old: StateSpec, new: StateSpec) -> None:
    leave(ctx, old, new)
    ctx.case.state = new.name
    enter(ctx, new, old)


def leave(ctx: Ctx, old: StateSpec, new: StateSpec) -> None:
    for effect in old.on_exit:
        effects.apply(ctx, effect)
    carried = {(t.kind, t.role) for t in new.tasks}
    for task in list(ctx.tasks):
        if (task.kind, task.role) in carried:
            task.state = new.name  # the same work goes on in the next state (e.g. objection_review)
        else:
            close_task(ctx, task, "cancelled", f"left:{old.name}")
    # statements only where something can change: most arrows arm no timer and keep the clock as it is
    if old.arms_timers:
        cancel_timers(ctx)
    was = clock_runs(ctx.profile, old)
    if was is not None and was != clock_runs(ctx.profile, new):
        ctx.uow.update(ClockSegment, {"case_id": ctx.case.id, "ended_at": None}, {"ended_at": ctx.now})


def enter(ctx: Ctx, state: StateSpec, old: StateSpec | None = None) -> None:
    _run_clock(ctx, state, old)
    opened = _open_work(ctx, state)
    for effect in state.on_enter:
        effects.apply(ctx, effect)
    _show_on_subject(ctx, state, old)
    _announce(ctx, state, opened)
    ctx.case.closed_at = ctx.now if state.terminal else None


def _run_clock(ctx: Ctx, state: StateSpec, old: StateSpec | None) -> None:
    """A clock segment spans states while the clock keeps running (or paused); it records the state it
    began in. While it runs, the case carries the day it would run out (breaches are one comparison)."""
    runs = clock_runs(ctx.profile, state)
    if runs is not None and (old is None or runs != clock_runs(ctx.profile, old)):
        ctx.uow.add(ClockSegment, {"case_id": ctx.case.id, "running": runs, "state": state.name,
                                   "started_at": ctx.now})
        ctx.case.clock_due_on = _statutory_due(ctx) if runs else None
    elif runs is None:
        ctx.case.clock_due_on = None


def _statutory_due(ctx: Ctx) -> date:
    """The day the statutory clock runs out if it keeps running from now: the limit less the working
    days already used in earlier running segments."""
    used = 0
    for started_at, ended_at in ctx.session.execute(ENDED_RUNNING_SEGMENTS, {"case_id": ctx.case.id}):
        used += ctx.cal.working_days_between(local_date(started_at), local_date(ended_at),
                                             ctx.case.jurisdiction).days
    left = ctx.profile.clock.limit_days - used
    return ctx.cal.add_working_days(ctx.today, left, ctx.case.jurisdiction).end if left > 0 else ctx.today


def _open_work(ctx: Ctx, state: StateSpec) -> list[TaskRecord]:
    """The state's declared tasks not already open (carried over), and its timers."""
    view = case_view(ctx.case)
    already = {(t.kind, t.role) for t in ctx.tasks}
    opened = [open_task(ctx, spec) for spec in state.tasks
              if (spec.kind, spec.role) not in already and (spec.when is None or spec.when(view, ctx.profile))]
    for timer in state.timers:
        arm_declared(ctx, timer)
    return opened


def _show_on_subject(ctx: Ctx, state: StateSpec, old: StateSpec | None) -> None:
    """What the project shows while the case is here, written only when it changes. A project the
    transaction holds already (a sweep's batch preloads its subjects) changes on its object, and the
    session's flush sends a batch's updates together; any other is updated at once, without reading
    it first (one statement instead of a read and a write)."""
    case = ctx.case
    if not (ctx.spec.tracks_subject and state.subject_status and case.project_id):
        return
    if old is not None and state.subject_status == old.subject_status:
        return
    held = ctx.session.identity_map.get(identity_key(Project, case.project_id))
    if isinstance(held, Project):
        held.status = state.subject_status
        return
    ctx.session.execute(SHOW_ON_SUBJECT, {"project_id": case.project_id, "status": state.subject_status})


def _announce(ctx: Ctx, state: StateSpec, opened: list[TaskRecord]) -> None:
    for who in state.notify:
        roles = sorted({t.role for t in opened}) if who == "queue" else []
        enqueue(ctx, "notify", who, {"event": f"entered:{state.name}", "roles": roles})
    if any(t.role == "case_officer" and t.candidate_user_id is None for t in opened):
        enqueue(ctx, "assign", "case_officer")  # the dispatcher gives it to the least-loaded officer
