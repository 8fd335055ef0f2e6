"""The public models of scenario allocations, personal accounts, points, proofs and corrections (issue 17)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from services.queries.schemas import Bilingual, Public


class LookupToken(Public):
    scenario_id: int
    user_id: str
    token: str  # shown once; only its SHA-256 is kept


class PeriodRow(Public):
    period: str
    leaf_index: int
    reduction_g: int
    carry_in_g: int
    allocated_g: int
    carry_out_g: int
    reversed_g: int
    issued_g: int = Field(description="Allocated at issuance; a correction lowers allocated_g, not this")
    points: int = Field(description="The period's points now: awarded less what corrections withdrew")
    points_awarded: int
    points_reversed: int = Field(description="Withdrawn by corrections (Ordos art. 11)")
    root: str
    ledger_entry_id: int | None


class ScenarioRef(Public):
    id: int
    title: str
    jurisdiction: str


class Points(Public):
    """states/scenarios.PointsPosition: a correction withdraws in full what its reversed reductions earned;
    what the balance cannot cover is owed, offset against the next awards, and nothing is sent meanwhile."""

    awarded: int
    reversed: int
    earned: int = Field(description="awarded − reversed")
    received: int
    sent: int
    balance: int = Field(description="earned + received − sent; below zero while a withdrawal is not offset")
    available: int = Field(description="What may be sent: the balance, never below zero")
    owed: int = Field(description="What a correction withdrew beyond the balance, offset against later awards")
    per_kg: str
    transferable: bool
    basis: Bilingual = Field(description="The seed article corrections rest on here, if the seed names one")


class Account(Public):
    scenario: ScenarioRef
    user_id: str
    periods: list[PeriodRow]
    allocated_g: int
    carry_g: int
    points: Points


class LedgerRef(Public):
    id: int | None
    reference: str | None
    serials: list[str]


class AllocationProof(Public):
    """RFC 9162 §2.1.3: the leaf (states/scenarios.allocation_leaf), its index, the tree's size, the audit
    path and the root; the ledger entry carrying the root, and its own proof in the signed log."""

    period: str
    leaf: str
    leaf_hash: str
    leaf_index: int
    tree_size: int
    root: str
    inclusion_proof: list[str]
    ledger_entry: LedgerRef | None
    log: dict[str, Any] | None
    log_note: Bilingual | None


class PointsTransferred(Public):
    id: int | None
    from_user_id: str
    to_user_id: str
    points: int
    at: str


class PeriodStatistics(Public):
    period: str
    participants: int
    reduction_g: int
    block_t: int
    allocated_g: int
    carry_g: int
    corrected_g: int
    root: str
    ledger_entry_id: int | None


class ScenarioStatistics(Public):
    scenario: ScenarioRef
    periods: list[PeriodStatistics]


class CorrectionDone(Public):
    id: int | None
    scenario_id: int
    period: str
    evaluation_id: int
    users: int
    reversed_g: int
    cancelled_t: int
    carried_g: int
    old_root: str
    new_root: str
    ledger_entry_id: int | None
    reason: str
    at: str


class CampaignRun(Public):
    opened: int
    skipped: int
    refused: int  # periods whose verification was refused (logged; tried again next run)
    candidates: int
