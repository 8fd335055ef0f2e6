"""China's statutory working-day calendar for deadline arithmetic.

Sources, strongest first: administrator overrides (jurisdiction-specific, then
national), the `chinese_calendar` package (2004-2026), the weekend rule for
years whose State Council notice an administrator loaded, and finally a
*provisional* rule for years nobody has published yet.  Any answer that
touched a provisional year says so, because a deadline computed from it is a
provisional deadline (DESIGN §5): it must be recomputed once the State
Council's yearly notice (with its 调休 swaps) is loaded.

Pure: no database, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar
from lunardate import LunarDate

from states.messages import joined, text

SHANGHAI = ZoneInfo("Asia/Shanghai")
_ONE_DAY = timedelta(days=1)


def _lunar(year: int, month: int, day: int) -> date:
    lunar = LunarDate(year, month, day)
    # pyproject allows lunardate 0.2 (toSolarDate only); 0.3 deprecates that name.
    solar: date = getattr(lunar, "to_solar_date", lunar.toSolarDate)()
    return solar

# The package's own range check recomputes min/max over all its keys on every
# call, so we read its tables directly and derive the range once.
_PKG_HOLIDAYS = chinese_calendar.holidays
_PKG_WORKDAYS = chinese_calendar.workdays
_PKG_YEARS = frozenset(
    range(min(_PKG_HOLIDAYS).year, max(_PKG_HOLIDAYS).year + 1)
)


@dataclass(frozen=True)
class DayOverride:
    day: date
    workday: bool  # True: a make-up working day (调休上班); False: a holiday
    name: str = ""
    jurisdiction: str | None = None  # None = national


@dataclass(frozen=True)
class WorkdayAnswer:
    end: date
    provisional: bool


@dataclass(frozen=True)
class CountAnswer:
    days: int
    provisional: bool


@dataclass(frozen=True)
class PublicityPeriod:
    first_day: date
    last_day: date
    closes_at: datetime  # Asia/Shanghai 00:00 of the day after last_day
    provisional: bool


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware instant."""
    # A naive datetime would silently be read in the server's local zone.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("local_date needs a timezone-aware datetime")
    return moment.astimezone(SHANGHAI).date()


def _close_of(day: date) -> datetime:
    # 期间最后一日的截止时间是二十四时 (Civil Code art. 203) = next day 00:00.
    return datetime.combine(day + _ONE_DAY, time(0), tzinfo=SHANGHAI)


def end_of_day_utc(day: date) -> datetime:
    """The UTC instant of 24:00 Asia/Shanghai at the end of `day`."""
    return _close_of(day).astimezone(UTC)


@cache
def _rule_holidays(year: int) -> dict[date, str]:
    """全国年节及纪念日放假办法 (2024-11 amendment, effective 2025), no 调休."""
    if not 1900 <= year <= 2099:  # lunardate / solar-term formula range
        raise ValueError(f"no provisional holiday rule for year {year}")
    spring = _lunar(year, 1, 1)
    # 除夕 = the day before 正月初一: 腊月 has 29 or 30 days, so not always 腊月三十.
    days: list[tuple[date, str]] = [(date(year, 1, 1), "new_year")]
    days += [(spring + timedelta(days=i), "spring_festival") for i in range(-1, 3)]
    # 清明 is April's first solar term (谷雨 the second, around the 20th)
    qingming = min(d for d, _ in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30)))
    days += [(qingming, "qingming"), (date(year, 5, 1), "labour_day"),
             (date(year, 5, 2), "labour_day"),
             (_lunar(year, 5, 5), "dragon_boat"),
             (_lunar(year, 8, 15), "mid_autumn")]
    days += [(date(year, 10, d), "national_day") for d in (1, 2, 3)]
    named: dict[date, list[tuple[str, str]]] = {}
    for day, holiday in days:  # 中秋 can coincide with 国庆 (e.g. 2028-10-03)
        named.setdefault(day, []).append(text(f"holiday.{holiday}"))
    return {day: joined(names).zh for day, names in named.items()}


class WorkingCalendar:
    def __init__(self, overrides: Iterable[DayOverride] = (),
                 loaded_years: Iterable[int] = ()) -> None:
        self._overrides: dict[tuple[date, str | None], bool] = {
            (o.day, o.jurisdiction): o.workday for o in overrides}
        self._loaded = frozenset(loaded_years)

    def covered_years(self) -> set[int]:
        return set(_PKG_YEARS | self._loaded)

    def is_provisional_year(self, year: int) -> bool:
        return year not in _PKG_YEARS and year not in self._loaded

    def provisional_holidays(self, year: int) -> dict[date, str]:
        return dict(_rule_holidays(year))  # copy: the cached dict is shared

    def is_workday(self, day: date, jurisdiction: str | None = None) -> bool:
        if jurisdiction is not None and (day, jurisdiction) in self._overrides:
            return self._overrides[(day, jurisdiction)]
        if (day, None) in self._overrides:
            return self._overrides[(day, None)]
        weekday = day.weekday() < 5
        if day.year in _PKG_YEARS:
            return day in _PKG_WORKDAYS or (weekday and day not in _PKG_HOLIDAYS)
        if day.year in self._loaded:
            # The notice's holidays and swaps arrive as overrides, checked above.
            return weekday
        return weekday and day not in _rule_holidays(day.year)

    def _provisional_span(self, first: date, last: date) -> bool:
        return any(self.is_provisional_year(y)
                   for y in range(first.year, last.year + 1))

    def add_working_days(self, start: date, days: int,
                         jurisdiction: str | None = None) -> WorkdayAnswer:
        """The `days`-th working day after `start` (start itself never counts).

        Unlike chinese_calendar.find_workday, a holiday start is not rolled
        forward first: 期间自次日开始计算 (Civil Code art. 201).
        """
        if days < 1:
            raise ValueError("days must be >= 1")
        day, left = start, days
        while left:
            day += _ONE_DAY
            if self.is_workday(day, jurisdiction):
                left -= 1
        return WorkdayAnswer(day, self._provisional_span(start + _ONE_DAY, day))

    def working_days_between(self, start: date, end: date,
                             jurisdiction: str | None = None) -> CountAnswer:
        """Working days d with start < d <= end."""
        if end < start:
            raise ValueError("end is before start")
        count, day = 0, start + _ONE_DAY
        while day <= end:
            count += self.is_workday(day, jurisdiction)
            day += _ONE_DAY
        provisional = end > start and self._provisional_span(start + _ONE_DAY, end)
        return CountAnswer(count, provisional)

    def publicity(self, published: date, days: int, *,
                  publication_day_counts: bool = False,
                  jurisdiction: str | None = None) -> PublicityPeriod:
        """Publicity of `days` working days published on `published`.

        Runs from the first working day after publication through 24:00 of
        the `days`-th working day after it.  Some rules count the publication
        day itself; that only makes sense when it is a working day, otherwise
        the ordinary rule applies.
        """
        if days < 1:
            raise ValueError("days must be >= 1")
        if publication_day_counts and self.is_workday(published, jurisdiction):
            first = published
            last = (published if days == 1 else
                    self.add_working_days(published, days - 1, jurisdiction).end)
        else:
            first = self.add_working_days(published, 1, jurisdiction).end
            last = self.add_working_days(published, days, jurisdiction).end
        return PublicityPeriod(first, last, _close_of(last),
                               self._provisional_span(first, last))
