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

from forms.common import Note
from states.disqualification import Disqualified
from states.effects import ConvenePanel, Effect
from states.messages import Reason
from states.tasks import ESCALATION, TaskSpec, TimerSpec

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

    def document_kinds(self) -> set[str]: ...

    def holding(self, org_id: int | None, project_id: int | None, vintage: int | None) -> int: ...

    def project_tier(self, project_id: int) -> str | None: ...

    def disqualification(self) -> Disqualified | None: ...

    def frozen(self, org_id: int | None, project_id: int | None, vintage: int | None) -> list[str]: ...


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
class StateSpec:
    """A state and everything entering it does: the clock, the tasks it opens, the timers it arms, the
    effects it applies (`on_enter`, and `on_exit` when it is left), who hears of it, and what the
    subject shows meanwhile."""

    name: str
    clock: ClockMode
    tasks: tuple[TaskSpec, ...] = ()
    timers: tuple[TimerSpec, ...] = ()
    on_enter: tuple[Effect, ...] = ()
    on_exit: tuple[Effect, ...] = ()
    notify: tuple[str, ...] = ()  # who hears of the entry: "applicant", "queue"
    subject_status: str | None = None  # what the project/scenario shows while the case is here
    terminal: bool = False

    @property
    def arms_timers(self) -> bool:
        """Whether a case here may hold pending timers (leaving cancels them)."""
        return bool(self.timers) or any(e.arms_timers for e in self.on_enter)


@dataclass(frozen=True)
class TransitionSpec:
    """One arrow. `dest=None` is an internal transition: the state stays, the effects still run.

    `owner_only`: only the applicant organisation that owns the case may fire it (every arrow open to
    applicants says so; checked when the procedure is built). `opens`: tasks the arrow itself opens (an
    objection during publicity opens the objection review). `while_suspended`: it may run while the
    case's project is suspended (procedures that wait for a suspended project check the others).
    `drawn=False` leaves it out of the diagram (the escalation acknowledgement every state takes)."""

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    roles: tuple[str, ...]
    form: type[BaseModel]
    rules: tuple[Rule, ...] = ()
    when: Selector | None = None  # chooses between arrows sharing a trigger; never reported
    effects: tuple[Effect, ...] = ()
    owner_only: bool = False
    opens: tuple[TaskSpec, ...] = ()
    while_suspended: bool = False
    drawn: bool = True


OpenedBy = Literal["applicant", "system", "public"]


@dataclass(frozen=True)
class ProcedureSpec:
    """`application` is the form that opens a case; `opening_rules` run on it before anything is stored and
    `opening` effects set the case's subject up. `opened_by`: who opens cases (applicants through the
    API; the system for rectifications and audits; the public for reports). `tracks_subject`: its states
    set the project's status (registration does; issuance not)."""

    name: str
    initial: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    application: type[BaseModel]
    opening_rules: tuple[Rule, ...] = ()
    opening: tuple[Effect, ...] = ()
    opened_by: OpenedBy = "applicant"
    tracks_subject: bool = False
    _state_index: dict[str, StateSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._state_index.update({s.name: s for s in self.states})
        for t in self.transitions:
            for name in (*t.sources, *([t.dest] if t.dest else [])):
                if name not in self._state_index:
                    raise ValueError(f"{self.name}: transition {t.trigger} names unknown state {name}")
            if "applicant" in t.roles and not t.owner_only:
                raise ValueError(f"{self.name}: {t.trigger} is open to applicants: declare owner_only")
        open_states = tuple(s.name for s in self.states if not s.terminal)
        # every open state takes the approver's acknowledgement of a missed deadline (ESCALATION)
        escalation = TransitionSpec(ESCALATION.triggers[0], open_states, None, (ESCALATION.role,), Note,
                                    while_suspended=True, drawn=False)
        object.__setattr__(self, "transitions", (*self.transitions, escalation))

    def state(self, name: str) -> StateSpec:
        return self._state_index[name]

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    def arrows(self, trigger: str, source: str) -> list[TransitionSpec]:
        return [t for t in self.transitions if t.trigger == trigger and source in t.sources]

    def available(self, source: str) -> list[TransitionSpec]:
        return [t for t in self.transitions if source in t.sources]

    def declares(self, *kinds: type[Effect]) -> bool:
        """Whether any of these effects is declared anywhere in the procedure (opening, states, arrows): a
        case of it can hold only the rows its effects write (a read need not ask for panels of a
        procedure that never convenes one)."""
        declared = (*self.opening, *(e for s in self.states for e in (*s.on_enter, *s.on_exit)),
                    *(e for t in self.transitions for e in t.effects))
        return any(isinstance(e, kinds) for e in declared)

    def task_spec(self, state: str, kind: str, role: str) -> TaskSpec | None:
        """The declaration of a task opened in `state` (by the state or an arrow from it)."""
        declared = [*self.state(state).tasks, *(t for a in self.available(state) for t in a.opens),
                    *(t for e in self.state(state).on_enter if isinstance(e, ConvenePanel)
                      for t in (e.compose, e.opinion, e.conclusion)), ESCALATION]
        return next((t for t in declared if t.kind == kind and t.role == role), None)
