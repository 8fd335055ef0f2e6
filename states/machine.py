"""Executes the declarations with `transitions`, and draws them.

One machine per (procedure, profile), built once (`model=None`); a command adds the case with its
state from the database, fires, and removes it. Rules are evaluated *before* firing (so that every
reason is collected, which `transitions` conditions cannot do); the machine receives the chosen
arrow and checks only that it is the one it takes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from transitions import EventData, Machine
from transitions.extensions import GraphMachine

from states import (
    issuance,
    methodology_filing,
    project_registration,
    rectification,
    report,
    retirement,
    revenue_audit,
)
from states.profiles import Profile, get_profile
from states.spec import ProcedureSpec, TransitionSpec

BUILDERS: dict[str, Callable[[Profile], ProcedureSpec]] = {
    project_registration.NAME: project_registration.build,
    methodology_filing.NAME: methodology_filing.build,
    issuance.NAME: issuance.build,
    retirement.NAME: retirement.build,
    rectification.NAME: rectification.build,
    report.NAME: report.build,
    revenue_audit.NAME: revenue_audit.build,
}


class ProcedureUnavailable(LookupError):
    """The procedure does not exist, or not in this jurisdiction (e.g. Jiaxing registration)."""


@cache
def procedure(name: str, jurisdiction: str) -> ProcedureSpec:
    profile = get_profile(jurisdiction)
    builder = BUILDERS.get(name)
    if profile is None or builder is None:
        raise ProcedureUnavailable(name)
    try:
        return builder(profile)
    except LookupError as exc:
        raise ProcedureUnavailable(name) from exc


def _arrow_id(t: TransitionSpec) -> int:
    return id(t)


def _takes(event: EventData) -> bool:
    return event.kwargs.get("arrow") == event.transition.arrow_id  # type: ignore[attr-defined]


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
            machine.events[t.trigger].transitions[source][-1].arrow_id = _arrow_id(t)


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
        for source in t.sources:
            graph.add_transition(t.trigger, source, t.dest or source)
    model = CaseModel(current or spec.initial)
    graph.add_model(model, initial=current or spec.initial)
    try:
        return str(model.get_graph().draw(None))  # type: ignore[attr-defined]
    finally:
        graph.remove_model(model)
