"""The pure rules of a scenario period's digital verification (states/scenario_verification.py): which
batches a period reads, the parameters recorded, PII counts, the per-day series and its chart bars, and a
digest that covers every input (Ordos art. 15 verified digitally; art. 11 anomalies; art. 14 daily data;
Shanghai art. 22 data traceable, personal identifiers refused)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from states.scenario_verification import (
    chart_series,
    day_series,
    history_window,
    input_window,
    parameters_used,
    pii_counts,
    report_digest,
    summed,
)
from states.scenarios import Activity, parse_period

REGISTERED = [
    {"name": "car", "value": "0.20", "source_date": "2024-01-01"},
    {"name": "car", "value": "0.18", "source_date": "2026-02-15"},
    {"name": "metro", "value": "0.04", "source_date": "2026-02-10"},
]
METRO = {"metro_trip": Activity("metro_trip", "km", 3, "quantity * (c - m)", {"c": "car", "m": "metro"},
                                Decimal("200"))}


def test_a_period_reads_its_own_batches_and_those_of_its_late_window() -> None:
    """Ordos art. 14: data comes daily; a record counts in its activity's period if it came by the period's
    end plus the late days; the history is what had arrived before the period began."""
    feb = parse_period("2026-02", "monthly")
    assert feb is not None
    assert input_window(feb, 3) == (date(2026, 2, 1), date(2026, 3, 3))
    assert history_window(feb, 90) == (date(2025, 11, 3), date(2026, 1, 31))
    year = parse_period("2026", "annual")  # Shanghai art. 15: issued once a year
    assert year is not None and input_window(year, 0) == (date(2026, 1, 1), date(2026, 12, 31))


def test_the_parameters_in_force_each_day_are_recorded_as_runs() -> None:
    feb = parse_period("2026-02", "monthly")
    assert feb is not None
    used = parameters_used(METRO, REGISTERED, feb.days)
    assert used["metro_trip"]["c"] == [
        {"from": "2026-02-01", "to": "2026-02-14", "name": "car", "value": 0.20},
        {"from": "2026-02-15", "to": "2026-02-28", "name": "car", "value": 0.18}]
    assert used["metro_trip"]["m"][0] == {"from": "2026-02-01", "to": "2026-02-09", "name": "metro", "value": None}


def test_pii_and_reasons_are_summed_over_batches() -> None:
    """Shanghai art. 22: what looked like personal identifiers is counted in the report."""
    batches = [{"pii_phone": 2, "bad_date": 1}, {"pii_email": 1, "pii_phone": 1}]
    assert pii_counts(batches) == {"pii_phone": 3, "pii_id_card": 0, "pii_email": 1}
    assert summed(batches) == {"bad_date": 1, "pii_email": 1, "pii_phone": 3}


def test_every_day_of_the_period_has_a_point_and_long_periods_chart_by_month() -> None:
    feb = parse_period("2026-02", "monthly")
    assert feb is not None
    series = day_series(feb.days, {date(2026, 2, 4): {"records": 2, "users": 1, "reduction_g": 28000}})
    assert len(series) == 28 and series[0] == {"day": "2026-02-01", "records": 0, "users": 0, "reduction_g": 0}
    bars = chart_series(series, [{"day": "2026-02-04"}])
    assert len(bars) == 28 and [b["label"] for b in bars if b["anomalous"]] == ["2026-02-04"]
    year = parse_period("2026", "annual")
    assert year is not None
    series = day_series(year.days, {date(2026, 3, 9): {"records": 5, "users": 2, "reduction_g": 700},
                                    date(2026, 3, 31): {"records": 1, "users": 1, "reduction_g": 300}})
    months = chart_series(series, [{"day": "2026-03-31"}])  # Ordos art. 11: the month with an anomalous day
    assert len(months) == 12 and months[2] == {"label": "2026-03", "first": "2026-03-01", "last": "2026-03-31",
                                               "reduction_g": 1000, "records": 6, "anomalous": True}
    assert not any(m["anomalous"] for i, m in enumerate(months) if i != 2)


def test_the_digest_covers_inputs_parameters_quantification_figures_and_the_users_file() -> None:
    """Reproducible (issue 17): the same parts give the same digest in any key order; any change shows."""
    figures = {"totals": {"reduction_g": 5}, "inputs": [{"sha256": "a"}], "parameters": {"x": 1}}
    quantification = {"activities": [{"type": "metro_trip"}]}
    digest = report_digest(figures, quantification, "u")
    assert digest == report_digest(dict(reversed(list(figures.items()))), quantification, "u")
    changed = [
        report_digest({**figures, "totals": {"reduction_g": 6}}, quantification, "u"),
        report_digest({**figures, "inputs": [{"sha256": "b"}]}, quantification, "u"),
        report_digest({**figures, "parameters": {"x": 2}}, quantification, "u"),
        report_digest(figures, {"activities": []}, "u"),
        report_digest(figures, quantification, "v"),
    ]
    assert len({digest, *changed}) == 6
