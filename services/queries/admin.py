"""What administrators read, each within their scope: the audit chains' and the log's verification, the
calendar's coverage, the outbox, missed deadlines; and what their commands answer."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session, col, select

from services.accounts.identity import AdminScope
from services.engine import audit, workdays
from services.orchestration import dispatch, incidents
from services.queries.schemas import Instant, Items, Public
from services.store.tables import SlaBreach, pk
from services.transparency import verify as transparency


class ScopePublic(Public):
    national: bool = Field(description="The whole system (national administrator)")
    jurisdictions: list[str] = Field(description="The jurisdictions administered")


def scope_view(scope: AdminScope) -> ScopePublic:
    return ScopePublic(**scope.as_dict())


# --- the audit chains and the transparency log ---------------------------------------------------------


class BrokenLink(Public):
    stream: str = Field(description="`case:<id>` or `system`")
    seq: int
    event_id: int | None
    problem: str


class WitnessedHead(Public):
    tree_size: int
    root_hash: str


class PendingLeaves(Public):
    """Rows committed since the log last sequenced (at most one interval old)."""

    audit_events: int
    ledger_entries: int


class LogCheck(Public):
    """The transparency log rebuilt from its leaves and checked against its signed heads."""

    ok: bool
    leaves: int
    heads: int
    tree_size: int | None = Field(description="The newest signed head's size")
    witness: WitnessedHead | None = Field(description="The newest head the signer witnessed")
    first_problem: str | None
    problems: list[str]
    pending: PendingLeaves


class AuditCheck(Public):
    """The hash chains recomputed; for the national administrator, with the signed log's verdict beside
    them (`chains_ok`, `log`): the chains catch an edited event, only the log a chain cut short."""

    ok: bool
    events_checked: int
    streams: int
    first_broken: BrokenLink | None
    chains_ok: bool | None = Field(None, description="National scope: the chains' own verdict")
    log: LogCheck | None = Field(None, description="National scope: the transparency log's verdict")
    scope: ScopePublic


def verify_audit(session: Session, scope: AdminScope) -> AuditCheck:
    """National: every chain, the `system` stream and the transparency log (one log for the whole
    system). A jurisdiction's administrator: the chains of their jurisdictions' cases only."""
    result = audit.verify(session, None if scope.national else scope.jurisdictions)
    if scope.national:
        result = transparency.with_log(result, session)
    return AuditCheck(**result, scope=scope_view(scope))


# --- the calendar -----------------------------------------------------------------------------------


class YearLoad(Public):
    year: int
    jurisdiction: str = Field(description="`national` for the State Council's notice, else the jurisdiction")
    source: str
    loaded_at: Instant


class CoveragePublic(Public):
    """Which years the working-day calendar covers, and what is counted provisionally (weekends only)."""

    covered_years: list[int] = Field(description="Years with the holiday rules in force (from three years ago)")
    loaded_years: list[YearLoad] = Field(description="The State Council's notices loaded")
    local_loads: list[YearLoad] = Field(description="Jurisdictions' own days loaded (in my scope)")
    provisional_years_ahead: list[int] = Field(description="This year and the next two, when not covered yet")
    provisional_open_tasks: int
    provisional_pending_timers: int


def coverage(session: Session, scope: AdminScope) -> CoveragePublic:
    """The national calendar for every administrator; local loads and provisional deadlines of my scope."""
    return CoveragePublic.model_validate(workdays.coverage(session, None if scope.national else scope.jurisdictions))


class YearLoaded(Public):
    year: int
    jurisdiction: str
    days: int = Field(description="Days loaded")
    tasks_recomputed: int = Field(description="Provisional task deadlines counted again")
    timers_recomputed: int


# --- timers, the outbox, missed deadlines -----------------------------------------------------------


class FiredTimer(Public):
    timer_id: int
    case_id: int
    trigger: str
    state: str = Field(description="The case's state after the timer fired")


class CancelledTimer(Public):
    timer_id: int
    reason: str = Field(description="Why the case refused the timer's trigger")


class FailedTimer(Public):
    timer_id: int
    error: str = Field(description="The timer stays pending: the next sweep tries it again")


class TimersRun(Public):
    fired: list[FiredTimer]
    cancelled: list[CancelledTimer]
    failed: list[FailedTimer]


class OutboxRow(Public):
    """A side effect waiting to leave (or that left, or gave up): notify, publish, a webhook."""

    id: int
    key: str = Field(description="Idempotency key of the side effect")
    kind: str
    case_id: int | None
    jurisdiction: str | None = Field(description="Whose row it is; null: the system's own")
    status: str = Field(description="pending | done | dead")
    attempts: int
    last_error: str | None
    created_at: Instant
    available_at: Instant = Field(description="Not sent before then (retries back off)")


class OutboxList(Items[OutboxRow]):
    """Outbox rows in my scope, newest first."""


def outbox(session: Session, scope: AdminScope, status: str, limit: int) -> OutboxList:
    return OutboxList(items=[
        OutboxRow(id=pk(o), key=o.key, kind=o.kind, case_id=o.case_id, jurisdiction=whose, status=o.status,
                  attempts=o.attempts, last_error=o.last_error, created_at=o.created_at, available_at=o.available_at)
        for o, whose in dispatch.listing(session, scope, status, limit)])


class OutboxRetried(Public):
    id: int
    status: str
    attempts: int


class Breach(Public):
    """A missed deadline: a task past due, or the statutory clock exceeded."""

    id: int
    kind: str = Field(description="task_overdue | clock_exceeded")
    case_id: int
    task_id: int | None
    procedure: str
    jurisdiction: str
    stage: str = Field(description="The case state (or task kind) where the deadline was missed")
    role: str | None
    due_at: Instant | None
    detected_at: Instant
    resolved_at: Instant | None
    escalation_task_id: int | None = Field(description="The task opened to escalate the breach")


class BreachGroups(Public):
    """Counts of the breaches listed, by each dimension."""

    procedure: dict[str, int]
    stage: dict[str, int]
    role: dict[str, int] = Field(description="`-` for breaches of no role")
    jurisdiction: dict[str, int]
    kind: dict[str, int]


class BreachList(Public):
    """Missed deadlines in my scope, newest first (at most 1000), with their counts."""

    groups: BreachGroups
    items: list[Breach]


def sla_breaches(session: Session, scope: AdminScope, status: str) -> BreachList:
    q = select(SlaBreach).where(scope.where(col(SlaBreach.jurisdiction)))
    if status == "open":
        q = q.where(col(SlaBreach.resolved_at).is_(None))
    elif status == "closed":
        q = q.where(col(SlaBreach.resolved_at).is_not(None))
    rows = list(session.exec(q.order_by(col(SlaBreach.detected_at).desc()).limit(1000)))
    groups: dict[str, dict[str, int]] = {"procedure": {}, "stage": {}, "role": {}, "jurisdiction": {}, "kind": {}}
    for b in rows:
        for dim, value in (("procedure", b.procedure), ("stage", b.stage), ("role", b.role or "-"),
                           ("jurisdiction", b.jurisdiction), ("kind", b.kind)):
            groups[dim][value] = groups[dim].get(value, 0) + 1
    return BreachList(groups=BreachGroups(**groups), items=[
        Breach(id=pk(b), kind=b.kind, case_id=b.case_id, task_id=b.task_id, procedure=b.procedure,
               jurisdiction=b.jurisdiction, stage=b.stage, role=b.role, due_at=b.due_at, detected_at=b.detected_at,
               resolved_at=b.resolved_at, escalation_task_id=b.escalation_task_id) for b in rows])


class WebhookPublic(Public):
    id: int
    jurisdiction: str
    name: str
    url: str
    events: list[str] = Field(description="The outbox kinds sent to it; empty: all of them")



class IncidentRow(Public):
    """Something operators must look at, seen once or many times (Camunda Operate's incidents)."""

    id: int
    kind: str = Field(description="flow_run_failed | dead_letter | loop_late | outbox_stale | timer_overdue")
    status: str = Field(description="open | acknowledged | resolved")
    jurisdiction: str | None = Field(description="Whose it is; null: the system's own")
    detail: dict[str, Any]
    count: int = Field(description="Occurrences seen (runs, rows, timers, late intervals), each once")
    first_seen: Instant
    last_seen: Instant
    flow_run_id: str | None
    link: str | None = Field(description="The flow run in the Prefect UI")
    acknowledged_at: Instant | None
    acknowledged_by: int | None
    resolved_at: Instant | None
    resolved_by: int | None = Field(description="null with resolved_at: the detector saw the cause go away")


class IncidentList(Items[IncidentRow]):
    """Incidents in my scope, latest seen first."""


def incident_list(session: Session, scope: AdminScope, status: str, limit: int) -> IncidentList:
    return IncidentList(items=[IncidentRow(**{k: v for k, v in incidents.as_dict(i).items() if k != "key"})
                               for i in incidents.listing(session, scope, status, limit)])
