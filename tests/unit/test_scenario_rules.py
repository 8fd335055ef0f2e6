"""Scenario data's pure rules (states/scenarios.py; issue 17): formulas as data, parameters in force on a
date, personal identifiers refused, periods, anomalies against the scenario's own history, allocation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from states.profiles import all_profiles
from states.scenarios import (
    FLOAT_OPS,
    Activity,
    FormulaError,
    allocate,
    anomalous_days,
    check_activity,
    formula_eval,
    formula_names,
    formula_sql,
    grams,
    parameter_in_force,
    parse_formula,
    parse_period,
    period_of,
    pii_kind,
    points,
)

REGISTERED = [
    {"name": "燃油车排放因子", "value": "0.20", "unit": "kgCO2/km", "source": "a", "source_date": "2024-01-01"},
    {"name": "燃油车排放因子", "value": "0.18", "unit": "kgCO2/km", "source": "b", "source_date": "2026-01-01"},
    {"name": "地铁排放因子", "value": "0.04", "unit": "kgCO2/km", "source": "c", "source_date": "2024-01-01"},
    {"name": "说明", "value": "见附件", "unit": "", "source": "d", "source_date": "2024-01-01"},
]


def test_a_formula_is_data_parsed_into_a_tree_rendered_for_sql_and_evaluated_the_same_way() -> None:
    tree = parse_formula("quantity * (base - metro) / 2")
    assert formula_names(tree) == {"quantity", "base", "metro"}
    assert formula_eval(tree, {"quantity": 10.0, "base": 0.2, "metro": 0.04}, FLOAT_OPS) == pytest.approx(0.8)
    sql = formula_sql(tree, {"quantity": "q", "base": "b", "metro": "m"})
    assert sql == "((q * (b - m)) / CAST(2.0 AS DOUBLE))"
    assert formula_eval(parse_formula("-quantity + 1"), {"quantity": 3.0}, FLOAT_OPS) == -2.0
    for bad in ("", "quantity *", "(quantity", "quantity; drop", "__import__('os')", "quantity.real"):
        with pytest.raises(FormulaError):
            parse_formula(bad)


def test_an_activity_binds_only_registered_numeric_parameters() -> None:
    bind = {"base": "燃油车排放因子", "metro": "地铁排放因子"}
    ok = Activity("metro_trip", "km", 3, "quantity * (base - metro)", bind, Decimal("200"))
    assert check_activity(ok, REGISTERED) == []
    bad = Activity("x", "km", 3, "quantity * other + text", {"text": "说明"}, Decimal("1"))
    codes = [code for code, _ in check_activity(bad, REGISTERED)]
    assert codes == ["scenario_formula_unbound", "scenario_parameter_not_number"]
    no_q = Activity("y", "km", 0, "base", {"base": "无此参数"}, Decimal("1"))
    assert [c for c, _ in check_activity(no_q, REGISTERED)] == ["scenario_formula_no_quantity",
                                                                "scenario_parameter_unknown"]


def test_the_parameter_in_force_is_the_latest_registered_on_or_before_the_activity_date() -> None:
    assert parameter_in_force(REGISTERED, "燃油车排放因子", date(2025, 12, 31)) == 0.20
    assert parameter_in_force(REGISTERED, "燃油车排放因子", date(2026, 1, 1)) == 0.18
    assert parameter_in_force(REGISTERED, "燃油车排放因子", date(2023, 12, 31)) is None


@pytest.mark.parametrize(("value", "kind"), [
    ("13800138000", "pii_phone"), ("+8613800138000", "pii_phone"), ("8613912345678", "pii_phone"),
    ("11010519491231002X", "pii_id_card"), ("110105491231002", "pii_id_card"), ("a@b.cn", "pii_email"),
    ("u-000123", None), ("12800138000", None), ("1380013800", None), ("ab13800138000", None)])
def test_values_that_look_like_personal_identifiers_are_named(value: str, kind: str | None) -> None:
    # Shanghai art. 22 (privacy); Ordos art. 14 (经数据脱敏)
    assert pii_kind(value) == kind


def test_grams_round_half_up_and_never_negative() -> None:
    assert grams(0.0015) == 2 and grams(0.0014) == 1 and grams(-3.0) == 0 and grams(float("nan")) is None


def test_periods() -> None:
    assert period_of(date(2026, 2, 14), "monthly").end == date(2026, 2, 28)
    q = period_of(date(2026, 5, 1), "quarterly")
    assert (q.key, q.start, q.end) == ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30))
    assert parse_period("2026", "annual").days[-1] == date(2026, 12, 31)
    assert parse_period("2026-13", "monthly") is None and parse_period("2026-Q1", "monthly") is None


def test_a_day_far_above_the_scenarios_own_history_is_anomalous() -> None:
    history = {date(2026, 1, d): 1000 + d for d in range(1, 31)}
    period = {date(2026, 2, d): 1000 for d in range(1, 29)} | {date(2026, 2, 14): 9000}
    days = anomalous_days(period, history)
    assert [d["day"] for d in days] == ["2026-02-14"]
    assert anomalous_days(period, history) == days  # reproducible


def test_the_allocation_sums_to_the_block_and_carries_the_rest_per_user() -> None:
    eligible = {"u1": 700_000, "u2": 700_000, "u3": 100_001}
    block, allocated = allocate(eligible)
    assert block == 1 and sum(allocated.values()) == 1_000_000
    assert all(0 <= allocated[u] <= eligible[u] for u in eligible)
    # equal claims differ by at most the one gram a tie gives: the smaller pseudonym's remainder goes first
    assert allocated["u2"] - allocated["u1"] == 1
    assert allocate({"u1": 999_999}) == (0, {"u1": 0})
    assert allocate({"u1": 2_000_000}) == (2, {"u1": 2_000_000})


def test_points_and_the_profiles_scenario_rules() -> None:
    assert points(1_500, Decimal("1")) == 1
    profiles = all_profiles()
    assert profiles["ORD"].scenarios.digital_verification  # Ordos art. 15
    assert not profiles["SD"].scenarios.points_transferable  # Shandong 编制说明 二(二)
    assert profiles["SH"].scenarios.period == "annual"  # Shanghai art. 15
