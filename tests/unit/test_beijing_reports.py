"""Beijing's audits on demand and class-2 operation reports as pure rules; no database
(seeds/002_ed775c38b03cc2a5.txt, 编制说明 3 第四章、第五章 and 4(二))."""

from __future__ import annotations

from datetime import date

from states import revenue_audit
from states.profiles import get_profile
from states.tasks import DueDate, DueInput, RequestedDays

BJ = get_profile("BJ")
SH = get_profile("SH")
TODAY = date(2026, 9, 15)  # after the annual deadline (30 June), outside any campaign


def codes(reasons: list) -> list[str]:
    return [r.code for r in reasons]


def test_the_developer_files_any_ended_year_and_the_officer_may_ask_for_the_current_one() -> None:
    def check(requester: str, year: int, **kw) -> list[str]:
        args = {"project_class": 1, "project_status": "registered", "existing_case": None, **kw}
        return codes(revenue_audit.on_demand_reasons(BJ, requester=requester, year=year, today=TODAY, **args))

    assert check("owner", 2025) == [] and check("owner", 2023) == []
    assert check("owner", 2026) == ["revenue_audit_year_open"]
    assert check("officer", 2026) == [] and check("officer", 2027) == ["revenue_audit_year_future"]
    assert check("owner", 2025, existing_case=7) == ["revenue_audit_exists"]
    # every reason at once: a class-2 (or unregistered) project, an open year, an existing case
    assert check("owner", 2026, project_class=2, existing_case=3) == [
        "revenue_audit_class_1_only", "revenue_audit_year_open", "revenue_audit_exists"]
    assert check("officer", 2025, project_status="revoked") == ["revenue_audit_class_1_only"]
    reasons = revenue_audit.on_demand_reasons(SH, requester="officer", year=2025, today=TODAY, project_class=None,
                                              project_status="registered", existing_case=None)
    assert codes(reasons) == ["revenue_audit_not_here"] and "上海" in reasons[0].zh and "Shanghai" in reasons[0].en


def test_the_days_an_audit_on_demand_gets() -> None:
    assert revenue_audit.on_demand_days(BJ, requester="officer", year=2026, today=TODAY, asked_days=None) == 20
    assert revenue_audit.on_demand_days(BJ, requester="officer", year=2025, today=TODAY, asked_days=7) == 7
    # the developer's own filing keeps the annual deadline while it has not passed, else 20 working days
    assert revenue_audit.on_demand_days(BJ, requester="owner", year=2025, today=date(2026, 3, 2),
                                        asked_days=None) is None
    assert revenue_audit.on_demand_days(BJ, requester="owner", year=2025, today=date(2026, 6, 30),
                                        asked_days=None) is None
    assert revenue_audit.on_demand_days(BJ, requester="owner", year=2025, today=date(2026, 7, 1),
                                        asked_days=None) == 20
    assert revenue_audit.annual_due(BJ, 2025) == date(2026, 6, 30)


class Weekdays:
    """Working days without holidays: enough to tell which deadline was chosen."""

    def add_working_days(self, start: date, days: int, jurisdiction: str | None = None) -> object:
        from datetime import timedelta

        day, left = start, days
        while left:
            day += timedelta(days=1)
            left -= day.weekday() < 5

        class Answer:
            end, provisional = day, False
        return Answer()


def test_an_audit_is_due_on_the_annual_date_unless_it_was_given_days() -> None:
    def due(application: dict) -> DueDate | None:
        return revenue_audit.REPORT_DUE(DueInput("BJ", application, 2025, TODAY, BJ, Weekdays()))

    assert due({}) == DueDate(date(2026, 6, 30))  # the campaign's audit: unchanged
    assert due({"due_days": 10}) == DueDate(date(2026, 9, 29), 10)
    assert isinstance(revenue_audit.REPORT_DUE, RequestedDays)
