"""What a scenario issuance case shows of its period (issue 17): the verification report's summary with each
figure labelled, the minting and per-user allocation the approval handed to the dispatcher while it is under
way (the case is `issued` — the decision — and the work is the `issue_to_users` outbox row: PROCESSES.md
names no state for it), and its result once recorded: the block, the users and the allocation's root."""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import Session, col, select

from services.procedures.scenarios.issuance import ISSUE_WORK, allocation_of
from services.queries.schemas import Bilingual, Instant, Public
from services.store.records import AnyCase
from services.store.tables import Outbox, pk
from states.messages import label

MintingStatus = Literal["queued", "retrying", "failed", "done"]


class ScenarioFigure(Public):
    key: str
    label: Bilingual
    value: int | float | str | bool


class ScenarioMinting(Public):
    """The approved period's minting and allocation: `queued` (the dispatcher has not run it yet), `retrying`
    (an attempt failed; it runs again), `failed` (dead-lettered: administrators see it and can send it again),
    `done` (recorded: see `allocation`)."""

    status: MintingStatus
    label: Bilingual
    attempts: int
    last_error: str | None
    since: Instant | None


class ScenarioAllocationPublic(Public):
    id: int
    block_t: int
    users: int
    reduction_g: int
    allocated_g: int
    carry_g: int
    corrected_g: int
    root: str
    ledger_entry_id: int | None


class ScenarioIssuancePublic(Public):
    project_id: int | None
    report_id: int | None
    digest: str | None
    users_sha256: str | None
    engine: str | None
    figures: list[ScenarioFigure]
    minting: ScenarioMinting | None = None
    allocation: ScenarioAllocationPublic | None = None


def figures(summary: dict[str, Any]) -> list[ScenarioFigure]:
    return [ScenarioFigure(key=k, label=Bilingual(**label(f"figure.{k}")), value=v) for k, v in summary.items()]


def _minting(session: Session, case: AnyCase, done: bool) -> ScenarioMinting | None:
    work = session.exec(select(Outbox).where(col(Outbox.case_id) == case.id, col(Outbox.kind) == ISSUE_WORK)
                        .order_by(col(Outbox.id).desc())).first()
    if work is None and not done:
        return None
    status: MintingStatus = ("done" if done else "failed" if work is not None and work.status == "dead"
                             else "retrying" if work is not None and work.attempts else "queued")
    return ScenarioMinting(status=status, label=Bilingual(**label(f"minting.{status}")),
                           attempts=work.attempts if work else 0, last_error=None if done or work is None
                           else work.last_error, since=work.created_at if work else None)


def scenario_issuance(session: Session, case: AnyCase) -> ScenarioIssuancePublic | None:
    if case.procedure != "scenario_issuance":
        return None
    report = dict((case.application or {}).get("report") or {})
    found = allocation_of(session, case.id) if case.id is not None else None
    allocation = None if found is None else ScenarioAllocationPublic(
        id=pk(found), block_t=found.block_t, users=found.users, reduction_g=found.reduction_g,
        allocated_g=found.allocated_g, carry_g=found.carry_g, corrected_g=found.corrected_g, root=found.root,
        ledger_entry_id=found.ledger_entry_id)
    return ScenarioIssuancePublic(
        project_id=case.project_id, report_id=report.get("id"), digest=report.get("digest"),
        users_sha256=report.get("users_sha256"), engine=report.get("engine"),
        figures=figures(report.get("figures") or {}), minting=_minting(session, case, found is not None),
        allocation=allocation)
