"""The vocabulary every procedure is declared in (DESIGN §4).

A procedure is data: its states (what entering each one does) and its transitions (who may fire
them, with which form, under which rules). The service layer executes these declarations; nothing
here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from states.messages import Reason

ClockMode = Literal["run", "pause", "stop"]

# Roles are held per jurisdiction (PROCESSES.md). `public` and `system` never hold a grant.
ROLES = (
    "applicant",
    "case_officer",
    "approver",
    "review_centre",
    "expert",
    "verifier",
    "operator",
    "admin",
)
PUBLIC = "public"
SYSTEM = "system"
ADMIN = "admin"
# The national scope (全国): a jurisdictions row that is not a profile, so no procedure runs there and
# no case can be opened there. Its one grant, ("admin", NATIONAL), administers the whole system: the
# State Council's calendar, system operations, and every jurisdiction's administration (DESIGN §7 Trust).
NATIONAL = "CN"


@dataclass(frozen=True)
class CaseView:
    """What a rule may know about a case: a read-only snapshot, built by the service layer."""

    id: int
    procedure: str
    jurisdiction: str
    state: str
    subject_kind: str  # "project" | "scenario"
    application: Mapping[str, Any]
    submitted_on: date | None = None
    held_from: str | None = None  # the state a case on hold returns to


class Facts(Protocol):
    """Facts about a case that live in other rows; the service layer answers them lazily."""

    def open_objections(self) -> int: ...

    def panel(self) -> PanelFacts | None: ...

    def methodology(self) -> MethodologyFacts | None: ...

    def not_experts(self, user_ids: list[int]) -> list[int]: ...

    def lacking_role(self, role: str, user_ids: list[int]) -> list[int]: ...

    def report_handlers(self) -> tuple[int, ...]: ...

    def methodology_version(self, code: str, version: str) -> MethodologyFacts | None: ...

    def open_filings(self, code: str, version: str) -> int: ...

    def covering_standards(self, scope: str, tiers: tuple[str, ...]) -> list[MethodologyFacts]: ...

    def comments(self) -> CommentFacts: ...

    def project(self) -> ProjectFacts | None: ...

    def overlapping_periods(self, start: date, end: date) -> list[tuple[int, date, date]]: ...

    def open_issuances(self, project_id: int, vintage: int) -> int: ...

    def verifier(self, verifier_id: int) -> VerifierFacts | None: ...

    def document_hashes(self) -> set[str]: ...

    def holding(self, org_id: int | None, project_id: int | None, vintage: int | None) -> int: ...


@dataclass(frozen=True)
class ProjectFacts:
    id: int
    jurisdiction: str
    kind: str
    status: str
    suspended: bool
    project_class: int | None
    methodology_code: str | None
    other_schemes: tuple[str, ...]
    rectification_case: int | None = None  # the open rectification that suspends it


@dataclass(frozen=True)
class VerifierFacts:
    id: int
    jurisdiction: str
    uscc: str
    org_id: int | None
    scopes: tuple[str, ...]
    valid_from: date
    valid_until: date


@dataclass(frozen=True)
class CommentFacts:
    received: tuple[int, ...]
    answered: tuple[int, ...]


@dataclass(frozen=True)
class MethodologyFacts:
    code: str
    version: str
    jurisdiction: str
    kind: str  # project | scenario
    tier: str | None  # e.g. "level_1", "class_I", "national"
    status: str  # filed | superseded | withdrawn
    scope: str = ""
    grace_until: date | None = None  # a superseded version may be cited until then
    current_version: str | None = None  # the filed version of the same code, if another


@dataclass(frozen=True)
class PanelFacts:
    members: tuple[int, ...]
    chair: int
    opinions: Mapping[int, str]  # member user id -> agree | agree_with_changes | disagree


@dataclass(frozen=True)
class RuleInput:
    case: CaseView
    form: BaseModel
    facts: Facts
    profile: Any  # states.profiles.Profile (Any here to keep the import graph acyclic)
    actor_id: int | None
    today: date  # Asia/Shanghai date of the command
    actor_org_id: int | None = None


Rule = Callable[[RuleInput], list[Reason]]
Selector = Callable[[RuleInput], bool]


@dataclass(frozen=True)
class TaskSpec:
    """A piece of work opened when a case enters a state.

    `triggers` are the actions that complete it; `sla` names the profile's working-day limit.
    `join` makes the task part of an AND-join: its trigger moves the case only once every open
    task of the same kind in that state has been completed with it (Shanghai art. 13).
    `when` opens the task only for some cases (e.g. scenarios only).
    """

    kind: str
    role: str
    triggers: tuple[str, ...]
    sla: str | None = None
    join: bool = False
    when: Callable[[CaseView, Any], bool] | None = None


@dataclass(frozen=True)
class TimerSpec:
    """A deadline row opened on entry: fires `trigger` as the system actor after `days` working days."""

    kind: str
    trigger: str
    days: str  # name of the profile's SLA entry giving the working days


@dataclass(frozen=True)
class StateSpec:
    name: str
    clock: ClockMode
    tasks: tuple[TaskSpec, ...] = ()
    timers: tuple[TimerSpec, ...] = ()
    on_enter: tuple[str, ...] = ()  # named effects the service layer applies (services/effects.py)
    on_exit: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()  # who hears of the entry: "applicant", "queue"
    subject_status: str | None = None  # what the project/scenario shows while the case is here
    terminal: bool = False


@dataclass(frozen=True)
class TransitionSpec:
    """One arrow. `dest=None` is an internal transition: the state stays, the effects still run."""

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    roles: tuple[str, ...]
    form: type[BaseModel]
    rules: tuple[Rule, ...] = ()
    when: Selector | None = None  # chooses between arrows sharing a trigger; never reported
    effects: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcedureSpec:
    """`application` is the form that opens a case; `opening_rules` run on it before anything is stored."""

    name: str
    initial: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    application: type[BaseModel]
    opening_rules: tuple[Rule, ...] = ()
    tracks_subject: bool = False  # its states set the project's status (registration does; issuance not)
    _state_index: dict[str, StateSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._state_index.update({s.name: s for s in self.states})
        for t in self.transitions:
            for name in (*t.sources, *([t.dest] if t.dest else [])):
                if name not in self._state_index:
                    raise ValueError(f"{self.name}: transition {t.trigger} names unknown state {name}")

    def state(self, name: str) -> StateSpec:
        return self._state_index[name]

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    def arrows(self, trigger: str, source: str) -> list[TransitionSpec]:
        return [t for t in self.transitions if t.trigger == trigger and source in t.sources]

    def available(self, source: str) -> list[TransitionSpec]:
        return [t for t in self.transitions if source in t.sources]
