"""Jiaxing art. 11 (seeds/003_4691f5d268057b21.txt: 关键参数应尽可能采用国家相关主管部门公开的数据，并及时进行更新、
公示), the review centre's part, as pure rules; no database. Reading: states/parameters.py."""

from __future__ import annotations

from datetime import date

import pytest

from states import parameter_review
from states.machine import ProcedureUnavailable, procedure
from states.parameters import current_since, stale_parameters, update_reasons

TODAY = date(2026, 3, 2)


def test_a_confirmation_makes_a_parameter_current_from_that_day() -> None:
    old = {"name": "EF", "source_date": "2024-12-23"}
    assert stale_parameters([old], TODAY, 365) == ["EF"]
    confirmed = {**old, "confirmed_on": "2026-02-01"}
    assert current_since(confirmed) == date(2026, 2, 1) and stale_parameters([confirmed], TODAY, 365) == []
    assert stale_parameters([confirmed], date(2027, 2, 2), 365) == ["EF"]  # and stale again a year on
    assert current_since({"name": "x"}) is None and stale_parameters([{"name": "x"}], TODAY, 365) == ["x"]


def test_an_update_brings_a_current_source() -> None:
    assert update_reasons(date(2026, 1, 15), TODAY, 365) == []
    assert [r.code for r in update_reasons(date(2026, 3, 3), TODAY, 365)] == ["parameter_source_future"]
    (old,) = update_reasons(date(2025, 3, 1), TODAY, 365)
    assert old.code == "parameter_source_still_stale" and old.field == "source_date" and "365" in old.en


def test_only_a_profile_with_an_age_runs_reviews_by_the_review_centre() -> None:
    spec = procedure("parameter_review", "JX")
    (task,) = spec.state("open").tasks
    assert (task.role, set(task.triggers)) == ("review_centre", {"confirm_parameter", "update_parameter"})
    assert parameter_review.update_is_current in spec.arrows("update_parameter", "open")[0].rules
    for code in ("SH", "BJ", "ORD", "SD"):
        with pytest.raises(ProcedureUnavailable):
            procedure("parameter_review", code)
