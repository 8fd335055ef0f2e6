"""The pure rules of scenario issuance (issue 17): the procedure per profile (Ordos art. 15 digital
verification; Shanghai art. 15 a commissioned verifier), closed periods, the correction's re-allocation
(Ordos art. 11) and the allocation's Merkle tree (RFC 9162)."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest

from services.procedures.scenarios import allocation as files_of
from services.transparency import merkle
from states import rules
from states.machine import procedure
from states.scenarios import (
    GRAMS_PER_TONNE,
    PointsPosition,
    allocate,
    allocation_leaf,
    allocation_rows,
    closed_periods,
    correct,
    period_points,
    periods_with_data,
)


def test_digital_verification_stands_in_for_the_verifier_where_the_profile_says_so() -> None:
    ordos, shanghai = procedure("scenario_issuance", "ORD"), procedure("scenario_issuance", "SH")
    assert ordos.initial == "technical_review"  # Ordos art. 15: 优先以数字化方式核证
    assert "verification" not in {s.name for s in ordos.states}
    assert shanghai.initial == "commissioning"  # Shanghai art. 15: the centre organises a verifier
    assert [a.dest for a in shanghai.arrows("verify_report", "verification")] == ["technical_review"]
    for spec in (ordos, shanghai):
        assert [a.dest for a in spec.arrows("approve", "authority_decision")] == ["issued"]
        assert spec.opened_by == "system"
        # a suspended scenario issues nothing (its case waits until the rectification resumes it)
        assert all(rules.project_not_suspended in a.rules for a in spec.transitions if a.drawn)


def test_closed_periods_stop_before_the_open_one() -> None:
    keys = [p.key for p in closed_periods(date(2026, 1, 15), date(2026, 4, 1), "monthly")]
    assert keys == ["2026-01", "2026-02", "2026-03"]
    assert [p.key for p in closed_periods(date(2026, 1, 15), date(2026, 3, 31), "monthly")] == ["2026-01", "2026-02"]
    assert [p.key for p in closed_periods(date(2025, 5, 1), date(2026, 7, 1), "quarterly")] == [
        "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    assert [p.key for p in closed_periods(date(2025, 5, 1), date(2026, 1, 1), "annual")] == ["2025"]
    assert closed_periods(date(2026, 3, 5), date(2026, 3, 20), "monthly") == []


def test_only_periods_some_batch_covers_are_issued() -> None:
    """A scenario that sent nothing from March to May gets no empty cases for them; a batch dated within
    the late days after a period's end (its late records) still covers that period."""
    closed = closed_periods(date(2026, 1, 10), date(2026, 8, 1), "monthly")
    batches = [date(2026, 1, 10), date(2026, 1, 31), date(2026, 6, 3), date(2026, 7, 2)]
    assert [p.key for p in periods_with_data(closed, batches, late_days=0)] == ["2026-01", "2026-06", "2026-07"]
    assert [p.key for p in periods_with_data(closed, batches, late_days=5)] == ["2026-01", "2026-05", "2026-06",
                                                                                  "2026-07"]
    assert periods_with_data(closed, [], late_days=5) == []


def test_a_correction_reverses_a_user_and_reallocates_the_rest_to_a_smaller_block() -> None:
    reductions = {"a": 1_500_000, "b": 700_400, "c": 800_000}
    block, allocated = allocate(reductions)
    carry = {u: reductions[u] - allocated[u] for u in reductions}
    fixed, problems = correct(reductions, allocated, carry, {"a": None})
    assert problems == [] and fixed is not None
    assert fixed.reversed == {"a": 1_500_000}
    assert fixed.block == 1 and sum(fixed.allocated.values()) == GRAMS_PER_TONNE  # the sum equals the block
    assert fixed.allocated["a"] == 0
    # no gram of b or c is lost: what the smaller block cannot hold moves to their carry
    for u in ("b", "c"):
        assert fixed.allocated[u] + fixed.carry_delta.get(u, 0) == allocated[u]
    # a's reversal beyond its allocation comes out of its carry
    assert fixed.carry_delta["a"] == -carry["a"]


def test_a_correction_is_refused_with_every_reason() -> None:
    reductions = {"a": 1_000_000, "b": 500_000}
    block, allocated = allocate(reductions)
    carry = {u: reductions[u] - allocated[u] for u in reductions}
    fixed, problems = correct(reductions, allocated, carry, {"x": None, "a": 2_000_000})
    assert fixed is None
    assert [code for code, _ in problems] == ["scenario_correction_unknown_user", "scenario_correction_over_reduction"]
    # the carry was spent by a later issuance: the part beyond the allocation cannot be reversed any more
    fixed, problems = correct(reductions, allocated, {}, {"b": 500_000})
    assert allocated["b"] < 500_000 and [code for code, _ in problems] == ["scenario_correction_spent"]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_the_allocation_tree_proves_every_user_against_its_root(tmp_path, monkeypatch, n: int) -> None:
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path))
    rows = {f"u{i:02d}": {"reduction_g": 1000 * (i + 1), "allocated_g": 900 * (i + 1)} for i in range(n)}
    written = files_of.write("ORD", 7, "2026-02", "t", rows)
    users = sorted(rows)
    for index, user in enumerate(users):
        found = files_of.user_row(written.path, user)
        assert found is not None and found[0] == index
        path = files_of.inclusion(written.levels_path, index, n)
        leaf = allocation_leaf(7, "2026-02", user, rows[user]["allocated_g"])
        assert merkle.verify_inclusion(merkle.leaf_hash(leaf), index, n, path, bytes.fromhex(written.root))
        wrong = allocation_leaf(7, "2026-02", user, rows[user]["allocated_g"] + 1)
        assert not merkle.verify_inclusion(merkle.leaf_hash(wrong), index, n, path, bytes.fromhex(written.root))
    assert written.sha256 == hashlib.sha256(written.path.read_bytes()).hexdigest()


def test_a_periods_rows_sum_to_the_block_and_keep_what_was_issued() -> None:
    block, rows = allocation_rows({"a": 700_000, "b": 600_001, "z": 0}, {"b": 100_000, "c": 5})
    assert block == 1 and sorted(rows) == ["a", "b", "c"]  # nothing eligible, no row
    assert sum(r["allocated_g"] for r in rows.values()) == GRAMS_PER_TONNE
    for r in rows.values():
        assert r["reduction_g"] + r["carry_in_g"] == r["allocated_g"] + r["carry_out_g"]
        assert r["issued_g"] == r["allocated_g"] and r["reversed_g"] == 0


def test_a_correction_withdraws_points_in_full_and_what_is_spent_is_owed_until_later_awards_cover_it() -> None:
    # 1 point a kg: 12,345 g issued, a correction leaves 2,000 g → 12 awarded, 10 withdrawn
    assert period_points(12_345, 2_000, Decimal(1)) == (12, 10)
    assert period_points(12_345, 12_345, Decimal("0.5")) == (6, 0)
    spent = PointsPosition(awarded=12, reversed=10, received=1, sent=9)
    assert (spent.earned, spent.balance, spent.available, spent.owed) == (2, -6, 0, 6)
    # the next period awards 20: the 6 owed are paid first
    later = PointsPosition(awarded=32, reversed=10, received=1, sent=9)
    assert (later.balance, later.available, later.owed) == (14, 14, 0)
