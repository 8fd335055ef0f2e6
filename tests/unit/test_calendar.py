from datetime import UTC, date, datetime, timedelta

import pytest

from services.engine.calendar import (
    SHANGHAI,
    CountAnswer,
    DayOverride,
    PublicityPeriod,
    WorkdayAnswer,
    WorkingCalendar,
    end_of_day_utc,
    local_date,
)

D = date
CAL = WorkingCalendar()
SAT, SUN = 5, 6


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(i) for i in range((last - first).days + 1)]


def assert_rest(first: date, last: date, cal: WorkingCalendar = CAL) -> None:
    for d in days(first, last):
        assert not cal.is_workday(d), d


# --- package years (chinese_calendar data) --------------------------------

def test_national_day_2024():
    assert_rest(D(2024, 10, 1), D(2024, 10, 7))
    assert D(2024, 9, 29).weekday() == SUN and CAL.is_workday(D(2024, 9, 29))
    assert D(2024, 10, 12).weekday() == SAT and CAL.is_workday(D(2024, 10, 12))
    assert CAL.is_workday(D(2024, 10, 8))
    assert not CAL.is_workday(D(2024, 10, 13))  # ordinary Sunday


def test_spring_festival_2025():
    assert_rest(D(2025, 1, 28), D(2025, 2, 4))
    assert D(2025, 1, 26).weekday() == SUN and CAL.is_workday(D(2025, 1, 26))
    assert D(2025, 2, 8).weekday() == SAT and CAL.is_workday(D(2025, 2, 8))
    assert CAL.is_workday(D(2025, 1, 27)) and CAL.is_workday(D(2025, 2, 5))


def test_labour_day_and_national_day_2025():
    assert_rest(D(2025, 5, 1), D(2025, 5, 5))
    assert D(2025, 4, 27).weekday() == SUN and CAL.is_workday(D(2025, 4, 27))
    # 2025: 中秋 (Oct 6) falls inside the 国庆 block, 8 days Oct 1-8
    assert_rest(D(2025, 10, 1), D(2025, 10, 8))
    assert CAL.is_workday(D(2025, 9, 28)) and CAL.is_workday(D(2025, 10, 11))


def test_2026_package_data():
    assert_rest(D(2026, 1, 1), D(2026, 1, 3))
    assert D(2026, 1, 4).weekday() == SUN and CAL.is_workday(D(2026, 1, 4))
    assert_rest(D(2026, 2, 15), D(2026, 2, 23))  # 9-day Spring Festival
    assert D(2026, 2, 14).weekday() == SAT and CAL.is_workday(D(2026, 2, 14))
    assert D(2026, 2, 28).weekday() == SAT and CAL.is_workday(D(2026, 2, 28))
    assert_rest(D(2026, 5, 1), D(2026, 5, 5))
    assert D(2026, 5, 9).weekday() == SAT and CAL.is_workday(D(2026, 5, 9))
    assert_rest(D(2026, 6, 19), D(2026, 6, 21))  # Dragon Boat
    assert_rest(D(2026, 9, 25), D(2026, 9, 27))  # Mid-Autumn
    assert_rest(D(2026, 10, 1), D(2026, 10, 7))
    assert D(2026, 9, 20).weekday() == SUN and CAL.is_workday(D(2026, 9, 20))
    assert D(2026, 10, 10).weekday() == SAT and CAL.is_workday(D(2026, 10, 10))


def test_covered_years():
    assert {2004, 2024, 2025, 2026} <= CAL.covered_years()
    assert 2027 not in CAL.covered_years()
    assert 2027 in WorkingCalendar(loaded_years=[2027]).covered_years()
    assert not CAL.is_provisional_year(2026)
    assert CAL.is_provisional_year(2027)
    assert not WorkingCalendar(loaded_years=[2027]).is_provisional_year(2027)


# --- add_working_days ---------------------------------------------------------

def test_add_starting_on_holiday_is_not_rolled_forward():
    assert CAL.add_working_days(D(2024, 10, 1), 1) == WorkdayAnswer(D(2024, 10, 8), False)
    assert CAL.add_working_days(D(2024, 10, 1), 5).end == D(2024, 10, 12)  # make-up Sat


def test_add_starting_on_make_up_saturday():
    # Sat 2024-10-12 is a workday but the start never counts
    assert CAL.add_working_days(D(2024, 10, 12), 1).end == D(2024, 10, 14)


def test_add_spanning_make_up_workday():
    # Fri 2024-09-27 -> Sun 09-29 (make-up) -> Mon 09-30
    assert CAL.add_working_days(D(2024, 9, 27), 1).end == D(2024, 9, 29)
    assert CAL.add_working_days(D(2024, 9, 27), 2).end == D(2024, 9, 30)
    assert CAL.add_working_days(D(2024, 9, 27), 3).end == D(2024, 10, 8)


def test_add_over_new_year_2026():
    # Jan 1-3 rest, Sun Jan 4 make-up
    assert CAL.add_working_days(D(2025, 12, 31), 3) == WorkdayAnswer(D(2026, 1, 6), False)
    assert CAL.add_working_days(D(2025, 12, 31), 1).end == D(2026, 1, 4)


def test_add_into_2027_is_provisional():
    assert CAL.add_working_days(D(2026, 12, 30), 1) == WorkdayAnswer(D(2026, 12, 31), False)
    # 2027-01-01 is a provisional holiday (Fri), then the weekend
    assert CAL.add_working_days(D(2026, 12, 31), 1) == WorkdayAnswer(D(2027, 1, 4), True)
    assert CAL.add_working_days(D(2026, 12, 25), 10) == WorkdayAnswer(D(2027, 1, 11), True)


@pytest.mark.parametrize("n", [0, -1])
def test_add_requires_positive_days(n):
    with pytest.raises(ValueError):
        CAL.add_working_days(D(2025, 3, 3), n)


# --- working_days_between -----------------------------------------------------

def test_between_excludes_start_includes_end():
    # Mon 2025-03-03 .. Mon 2025-03-10: Tue-Fri + Mon = 5
    assert CAL.working_days_between(D(2025, 3, 3), D(2025, 3, 10)) == CountAnswer(5, False)
    assert CAL.working_days_between(D(2025, 3, 3), D(2025, 3, 4)).days == 1
    # across the 2024 National Day block incl. both make-up days
    assert CAL.working_days_between(D(2024, 9, 27), D(2024, 10, 12)).days == 7


def test_between_same_day_and_reversed():
    assert CAL.working_days_between(D(2025, 3, 3), D(2025, 3, 3)) == CountAnswer(0, False)
    assert CAL.working_days_between(D(2027, 3, 3), D(2027, 3, 3)).days == 0
    with pytest.raises(ValueError):
        CAL.working_days_between(D(2025, 3, 4), D(2025, 3, 3))


def test_between_is_inverse_of_add():
    for start in (D(2024, 9, 27), D(2025, 1, 24), D(2026, 12, 20)):
        ans = CAL.add_working_days(start, 15)
        assert CAL.working_days_between(start, ans.end) == CountAnswer(15, ans.provisional)


def test_between_into_2027_is_provisional():
    # Tue-Thu Dec 29-31, Jan 1 (Fri) rule holiday, weekend, Mon-Tue Jan 4-5
    assert CAL.working_days_between(D(2026, 12, 28), D(2027, 1, 5)) == CountAnswer(5, True)


# --- publicity ----------------------------------------------------------------

def test_publicity_published_on_friday():
    p = CAL.publicity(D(2025, 6, 6), 5)  # Fri
    assert p == PublicityPeriod(
        D(2025, 6, 9), D(2025, 6, 13),
        datetime(2025, 6, 14, 0, 0, tzinfo=SHANGHAI), False)
    assert p.closes_at.utcoffset() == timedelta(hours=8)


def test_publicity_published_on_holiday_eve():
    p = CAL.publicity(D(2024, 9, 30), 5)
    assert (p.first_day, p.last_day) == (D(2024, 10, 8), D(2024, 10, 12))
    assert p.closes_at == datetime(2024, 10, 13, tzinfo=SHANGHAI)
    assert p.closes_at == datetime(2024, 10, 12, 16, tzinfo=UTC)


def test_publicity_day_counts_on_working_day():
    p = CAL.publicity(D(2024, 9, 30), 5, publication_day_counts=True)
    assert (p.first_day, p.last_day) == (D(2024, 9, 30), D(2024, 10, 11))
    one = CAL.publicity(D(2025, 6, 6), 1, publication_day_counts=True)
    assert (one.first_day, one.last_day) == (D(2025, 6, 6), D(2025, 6, 6))
    assert one.closes_at == datetime(2025, 6, 7, tzinfo=SHANGHAI)


def test_publicity_day_counts_on_non_working_day_falls_back():
    assert CAL.publicity(D(2024, 10, 1), 5, publication_day_counts=True) == \
        CAL.publicity(D(2024, 10, 1), 5)
    p = CAL.publicity(D(2025, 6, 7), 1, publication_day_counts=True)  # Sat
    assert (p.first_day, p.last_day) == (D(2025, 6, 9), D(2025, 6, 9))


def test_publicity_validation_and_provisional():
    with pytest.raises(ValueError):
        CAL.publicity(D(2025, 6, 6), 0)
    assert CAL.publicity(D(2026, 12, 28), 5).provisional
    assert not CAL.publicity(D(2026, 12, 21), 5).provisional


# --- provisional rule (2027) --------------------------------------------------

def test_provisional_holidays_2027():
    hol = CAL.provisional_holidays(2027)
    expected = {D(2027, 1, 1), D(2027, 2, 5), D(2027, 2, 6), D(2027, 2, 7),
                D(2027, 2, 8), D(2027, 4, 5), D(2027, 5, 1), D(2027, 5, 2),
                D(2027, 6, 9), D(2027, 9, 15), D(2027, 10, 1), D(2027, 10, 2),
                D(2027, 10, 3)}
    assert set(hol) == expected
    assert hol[D(2027, 2, 5)] == "春节"  # 除夕 = 腊月二十九 (29-day month)
    hol.clear()  # returned dict is a copy
    assert len(CAL.provisional_holidays(2027)) == 13


def test_provisional_2027_workdays():
    assert_rest(D(2027, 2, 5), D(2027, 2, 8))  # 除夕 Fri .. 初三 Mon
    assert CAL.is_workday(D(2027, 2, 4)) and CAL.is_workday(D(2027, 2, 9))
    for d in (D(2027, 4, 5), D(2027, 6, 9), D(2027, 9, 15), D(2027, 10, 1)):
        assert d.weekday() < SAT and not CAL.is_workday(d), d
    assert CAL.is_workday(D(2027, 10, 4))  # Mon: 3 days only, no swaps
    assert not CAL.is_workday(D(2027, 10, 2))  # Sat, holiday anyway
    assert not CAL.is_workday(D(2027, 2, 20))  # plain Saturday


def test_provisional_rule_for_colliding_festivals():
    hol = CAL.provisional_holidays(2028)  # 中秋 == Oct 3
    assert hol[D(2028, 10, 3)] == "中秋节、国庆节"
    assert hol[D(2028, 1, 25)] == "春节"  # 除夕 of 2028
    assert hol[D(2028, 4, 4)] == "清明节"


def test_loaded_year_2027_changes_answers():
    make_up = DayOverride(D(2027, 2, 20), True, "春节调休")  # Sat
    extra = DayOverride(D(2027, 2, 9), False, "春节")        # Tue
    cal = WorkingCalendar(overrides=[make_up, extra], loaded_years=[2027])
    assert cal.is_workday(D(2027, 2, 20)) and not cal.is_workday(D(2027, 2, 9))
    # in a loaded year the rule holidays are gone: only overrides + weekends
    assert cal.is_workday(D(2027, 4, 5))
    assert CAL.add_working_days(D(2027, 2, 19), 1) == WorkdayAnswer(D(2027, 2, 22), True)
    assert cal.add_working_days(D(2027, 2, 19), 1) == WorkdayAnswer(D(2027, 2, 20), False)
    assert CAL.add_working_days(D(2027, 2, 8), 1) == WorkdayAnswer(D(2027, 2, 9), True)
    assert cal.add_working_days(D(2027, 2, 8), 1) == WorkdayAnswer(D(2027, 2, 10), False)
    assert not cal.working_days_between(D(2026, 12, 28), D(2027, 1, 5)).provisional


# --- overrides and jurisdiction -----------------------------------------------

def test_jurisdiction_override_beats_national_and_package():
    cal = WorkingCalendar(overrides=[
        DayOverride(D(2025, 3, 5), False, "national test"),
        DayOverride(D(2025, 3, 5), True, "local", jurisdiction="450000"),
        DayOverride(D(2025, 10, 1), True, "local", jurisdiction="450000"),
        DayOverride(D(2025, 3, 6), False, "壮族三月三", jurisdiction="450000"),
    ])
    assert not cal.is_workday(D(2025, 3, 5))
    assert cal.is_workday(D(2025, 3, 5), "450000")
    assert not cal.is_workday(D(2025, 3, 5), "110000")  # other jurisdiction: national
    assert cal.is_workday(D(2025, 10, 1), "450000") and not cal.is_workday(D(2025, 10, 1))
    assert cal.add_working_days(D(2025, 3, 5), 1, "450000").end == D(2025, 3, 7)
    assert cal.add_working_days(D(2025, 3, 5), 1).end == D(2025, 3, 6)


# --- time helpers --------------------------------------------------------------

def test_local_date_and_end_of_day_utc():
    assert local_date(datetime(2024, 12, 31, 16, 0, tzinfo=UTC)) == D(2025, 1, 1)
    assert local_date(datetime(2024, 12, 31, 15, 59, tzinfo=UTC)) == D(2024, 12, 31)
    with pytest.raises(ValueError):
        local_date(datetime(2025, 1, 1, 12))
    eod = end_of_day_utc(D(2025, 1, 1))
    assert eod == datetime(2025, 1, 1, 16, 0, tzinfo=UTC)
    assert eod.utcoffset() == timedelta(0)
    assert local_date(eod) == D(2025, 1, 2)
    assert local_date(eod - timedelta(microseconds=1)) == D(2025, 1, 1)
