"""Procedures as data: where each runs, and a procedure's states and actions in one jurisdiction, read
from the live machine (the diagram is drawn from the same declaration)."""

from __future__ import annotations

from pydantic import Field

from services.engine.errors import Invalid
from services.queries.schemas import Items, Labelled, Public, coded
from states.machine import PROCEDURES, ProcedureUnavailable, procedure
from states.messages import label, reason
from states.profiles import all_profiles, get_profile
from states.spec import ProcedureSpec


class ProcedureSummary(Labelled):
    jurisdictions: list[str] = Field(description="Where the procedure runs")


class ProcedureList(Items[ProcedureSummary]):
    """Every procedure and the jurisdictions that run it."""


def _runs(name: str, code: str) -> bool:
    try:
        procedure(name, code)
    except ProcedureUnavailable:
        return False
    return True


def procedures() -> ProcedureList:
    return ProcedureList(items=[
        ProcedureSummary(name=name, **label(f"procedure.{name}"),
                         jurisdictions=[code for code in all_profiles() if _runs(name, code)])
        for name in PROCEDURES])


def spec(name: str, jurisdiction: str) -> ProcedureSpec:
    """The procedure as it runs in the jurisdiction; 422 naming every reason it cannot be shown."""
    reasons = []
    if name not in PROCEDURES:
        reasons.append(reason("unknown_procedure", field="name", name=name))
    if get_profile(jurisdiction) is None:
        reasons.append(reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction))
    if reasons:
        raise Invalid(reasons)
    try:
        return procedure(name, jurisdiction)
    except ProcedureUnavailable as exc:
        p = get_profile(jurisdiction)
        raise Invalid([reason("no_separate_registration", field="jurisdiction", jurisdiction_zh=p.name_zh,
                              jurisdiction_en=p.name_en, **p.cite("filing_with_first_issuance"))] if p else [
            coded("unavailable", "procedure_unavailable")]) from exc


class TaskTemplate(Public):
    kind: str
    role: str
    sla: str | None = Field(description="The profile's SLA the task's due date is counted by")


class StateDescription(Labelled):
    terminal: bool
    clock: str = Field(description="The statutory clock in this state: run | pause | stop")
    tasks: list[TaskTemplate] = Field(description="The tasks entering the state opens")


class ActionDescription(Public):
    action: str
    zh: str
    en: str
    from_: list[str] = Field(alias="from", description="The states it may be fired in")
    to: str | None = Field(description="The state it leads to; null: an internal action (the state stays)")
    roles: list[str] = Field(description="Who may fire it")


class ProcedureDescription(Public):
    name: str
    jurisdiction: str
    initial: str
    states: list[StateDescription]
    actions: list[ActionDescription]


def describe(name: str, jurisdiction: str) -> ProcedureDescription:
    s = spec(name, jurisdiction)
    return ProcedureDescription(
        name=name, jurisdiction=jurisdiction, initial=s.initial,
        states=[StateDescription(name=st.name, **label(f"state.{st.name}"), terminal=st.terminal, clock=st.clock,
                                 tasks=[TaskTemplate(kind=t.kind, role=t.role, sla=t.sla) for t in st.tasks])
                for st in s.states],
        actions=[ActionDescription.model_validate({"action": t.trigger, **label(f"trigger.{t.trigger}"),
                                                   "from": list(t.sources), "to": t.dest, "roles": list(t.roles)})
                 for t in s.transitions])
