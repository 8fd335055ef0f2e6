"""Jiaxing art. 11 (seeds/003_4691f5d268057b21.txt): key parameters kept current; no database."""

from __future__ import annotations

from datetime import date

from states.parameters import stale_parameters
from states.profiles import get_profile

PARAMS = [{"name": "grid", "source_date": "2024-12-23"}, {"name": "fresh", "source_date": "2026-01-10"},
          {"name": "undated"}, {"name": "garbled", "source_date": "last year"}]


def test_a_source_older_than_the_profile_allows_is_marked() -> None:
    age = get_profile("JX").methodology.parameter_max_age_days
    assert age == 365
    assert stale_parameters(PARAMS, date(2026, 3, 2), age) == ["grid", "undated", "garbled"]
    assert stale_parameters(PARAMS, date(2025, 12, 23), age) == ["undated", "garbled"]  # exactly a year: current
    assert stale_parameters(PARAMS, date(2025, 12, 24), age) == ["grid", "undated", "garbled"]


def test_no_other_seed_sets_an_age() -> None:
    for code in ("SH", "BJ", "ORD", "SD"):
        age = get_profile(code).methodology.parameter_max_age_days
        assert age is None and stale_parameters(PARAMS, date(2030, 1, 1), age) == []
