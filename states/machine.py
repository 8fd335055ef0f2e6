"""Executes the declarations with `transitions`, and draws them.

One machine per (procedure, profile), built once (`model=None`); a command adds the case with its
state from the database, fires, and removes it. Rules are evaluated *before* firing (so that every
reason is collected, which `transitions` conditions cannot do); the machine receives the chosen
arrow and checks only that it is the one it takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from pydantic import BaseModel
from transitions import EventData, Machine
from transitions.extensions import GraphMachine

from states import (
    issuance,
    methodology_filing,
    operation_report,
    parameter_review,
    project_registration,
    rectification,
    report,
    retirement,
    revenue_audit,
    rules,
    scenario_issuance,
)
from states.effects import Effect
from states.profiles import Profile, all_profiles, get_profile
from states.spec import OpenedBy, ProcedureSpec, TransitionSpec
from states.tasks import TaskSpec, sla_names


@dataclass(frozen=True)
class Catalogued:
    """A procedure as the system knows it before any jurisdiction: how to build it for a profile, the
    form that opens a case of it, and who opens them."""

    build: Callable[[Profile], ProcedureSpec]
    application: type[BaseModel]
    opened_by: OpenedBy


PROCEDURES: dict[str, Catalogued] = {m.NAME: Catalogued(m.build, m.APPLICATION, m.OPENED_BY) for m in (
    project_registration, methodology_filing, issuance, retirement, rectification, report, revenue_audit,
    operation_report, parameter_review, scenario_issuance)}


class ProcedureUnavailable(LookupError):
    """The procedure does not exist, or not in this jurisdiction (e.g. Jiaxing registration)."""


def _build(entry: Catalogued, profile: Profile) -> ProcedureSpec:
    """The procedure for a profile. Every procedure an applicant opens first asks whether the applicant may
    take part at all: a disqualified organisation opens nothing (Jiaxing art. 26; the record exists only
    where a seed disqualifies, so no other jurisdiction is asked anything new)."""
    spec = entry.build(profile)
    if entry.opened_by != "applicant":
        return spec
    return replace(spec, opening_rules=(rules.applicant_not_disqualified, *spec.opening_rules))


@cache
def procedure(name: str, jurisdiction: str) -> ProcedureSpec:
    profile = get_profile(jurisdiction)
    entry = PROCEDURES.get(name)
    if profile is None or entry is None:
        raise ProcedureUnavailable(name)
    try:
        return _build(entry, profile)
    except LookupError as exc:
        raise ProcedureUnavailable(name) from exc


def _built(profile: Profile) -> list[ProcedureSpec]:
    specs = []
    for entry in PROCEDURES.values():
        try:
            specs.append(_build(entry, profile))
        except LookupError:
            continue  # not run in this jurisdiction (e.g. Jiaxing registration)
    return specs


def declared_tasks(spec: ProcedureSpec) -> list[TaskSpec]:
    """Every task a procedure may open: its states', its arrows', and those its effects carry (the
    panel's work, opened as the panel is seated)."""
    tasks = [t for s in spec.states for t in s.tasks] + [t for a in spec.transitions for t in a.opens]
    carried = [e for s in spec.states for e in (*s.on_enter, *s.on_exit)]
    return tasks + [v for e in carried for v in vars(e).values() if isinstance(v, TaskSpec)]


def declared_effects(spec: ProcedureSpec) -> list[Effect]:
    return [*spec.opening, *(e for s in spec.states for e in (*s.on_enter, *s.on_exit)),
            *(e for a in spec.transitions for e in a.effects)]


def _sla_names(spec: ProcedureSpec) -> set[str]:
    dues = [t.deadline for t in declared_tasks(spec)] + [t.due for s in spec.states for t in s.timers]
    return {n for due in dues for n in sla_names(due)}


def all_specs() -> list[ProcedureSpec]:
    """Every procedure as built for every profile (start-up checks walk them)."""
    return [spec for p in all_profiles().values() for spec in _built(p)]


def profile_problems(profiles: dict[str, Profile]) -> list[str]:
    """What in the profiles the procedures cannot use: an SLA a task or timer needs but the profile lacks,
    an SLA no declaration uses (a misspelt key), a state the clock pauses in that no procedure has."""
    built = {code: _built(p) for code, p in profiles.items()}
    used_anywhere = {n for specs in built.values() for spec in specs for n in _sla_names(spec)}
    problems = []
    for code, profile in profiles.items():
        for spec in built[code]:
            problems += [f"{code}: sla.{n} is missing ({spec.name} needs it)"
                         for n in sorted(_sla_names(spec) - profile.sla.keys())]
        problems += [f"{code}: sla.{n} is used by no task or timer" for n in sorted(profile.sla.keys() - used_anywhere)]
        states = {s.name for spec in built[code] for s in spec.states}
        problems += [f"{code}: clock.paused_in names {n}, which no procedure has"
                     for n in profile.clock.paused_in or () if n not in states]
    return problems


def validate_profiles() -> None:
    """At start-up: a typo in a profile fails here, not in a live case."""
    problems = profile_problems(all_profiles())
    if problems:
        raise ValueError("jurisdiction profiles do not fit the procedures:\n" + "\n".join(problems))


def _arrow_id(t: TransitionSpec) -> int:
    return id(t)


def _takes(event: EventData) -> bool:
    # the arrow a command chose (several arrows may share a trigger and a source); set in _build
    arrow: int = getattr(event.transition, "arrow_id", -1)
    return bool(event.kwargs.get("arrow") == arrow)


def _machine_kwargs(spec: ProcedureSpec) -> dict[str, Any]:
    return {
        "states": [s.name for s in spec.states],
        "initial": spec.initial,
        "auto_transitions": False,
        "send_event": True,
        "model_attribute": "state",
    }


def _add_arrows(machine: Machine, spec: ProcedureSpec) -> None:
    for t in spec.transitions:
        for source in t.sources:
            machine.add_transition(t.trigger, source, t.dest or "=", conditions=[_takes])
            setattr(machine.events[t.trigger].transitions[source][-1], "arrow_id", _arrow_id(t))  # noqa: B010 - transitions' Transition declares no such attribute


class CaseModel:
    """The stand-in the machine moves; the service copies `state` back to the row."""

    def __init__(self, state: str) -> None:
        self.state = state


class Runner:
    """A built machine for one (procedure, jurisdiction), shared by every command: it holds no model
    (commands move a stand-in each, so threads do not share one)."""

    def __init__(self, spec: ProcedureSpec) -> None:
        self.spec = spec
        self.machine = Machine(model=None, **_machine_kwargs(spec))
        _add_arrows(self.machine, spec)

    def move(self, state: str, arrow: TransitionSpec) -> str:
        """Fire `arrow` from `state`; return the state the machine ends in.

        The event is triggered on a stand-in model directly, without `add_model`: binding ~30 trigger
        methods to a model and removing them again cost 70 µs a command, the move itself 6 µs. The
        machine holds no callbacks on models and is not queued, so nothing else needs the model added;
        the event still runs its guard (`_takes`) and sets the stand-in's state."""
        model = CaseModel(state)
        if not self.machine.events[arrow.trigger].trigger(model, arrow=_arrow_id(arrow)):
            raise RuntimeError(f"machine refused {arrow.trigger} from {state}")
        return model.state


@cache
def runner(name: str, jurisdiction: str) -> Runner:
    return Runner(procedure(name, jurisdiction))


def mermaid(name: str, jurisdiction: str, current: str | None = None) -> str:
    """The diagram of the live declaration, drawn by transitions' mermaid engine (no graphviz)."""
    spec = procedure(name, jurisdiction)
    graph = GraphMachine(
        model=None,
        states=[s.name for s in spec.states],
        initial=spec.initial,
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=False,
        title=f"{name} ({jurisdiction})",
    )
    for t in spec.transitions:
        for source in t.sources if t.drawn else ():
            graph.add_transition(t.trigger, source, t.dest or source)
    model = CaseModel(current or spec.initial)
    graph.add_model(model, initial=current or spec.initial)
    try:
        # the ignore below: transitions' GraphMachine adds get_graph to the model at run time
        return str(model.get_graph().draw(None))  # type: ignore[attr-defined]
    finally:
        graph.remove_model(model)
