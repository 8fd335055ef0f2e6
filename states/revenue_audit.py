"""revenue_audit 收益使用审计 (Beijing 编制说明 4(二)): each year a class-1 project files an audit of how
it used the proceeds; at least 90% of the proceeds after costs must go back to participating users.

Opened three ways, all the same procedure: the annual campaign (every registered class-1 project, due on
the profile's day of the following year); the developer on its own motion whenever a year's audit is due
(`on_demand_reasons`); an officer who asks for one. Our reading of 编制说明 4(二) ("委托专业审计机构定期
编制…审计报告…公开", 5 第五章 审计报告): the duty is the developer's and periodic, not tied to the
campaign's window, so a developer may file any ended year's audit at any time, and the authority, which
suspends issuance on any mismatch with the implementation plan (4(二) 事后监管), may ask for an audit at
any time, of an ended year or of the current year to date. An officer's request sets a deadline in
working days (the profile's `request_days` unless the request says otherwise); a developer filing a year
whose annual deadline has passed gets the same working days from the day it opens the audit. The ≥ 90%
rule and the rectification a short or missing report opens are the same however the audit was opened.

    open ─file_audit→ filed (≥ 90%) | below_threshold (< 90%: a rectification opens)
    open ─(deadline passed)→ missed (a rectification opens)
"""

from __future__ import annotations

from datetime import date

from forms.common import Empty
from forms.supervision import RevenueAuditReport
from states import rules
from states.effects import RecordAudit, RectifyRevenue
from states.messages import Reason, reason
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import AnnualDate, RequestedDays, TaskSpec, TimerSpec

NAME = "revenue_audit"
APPLICATION = Empty  # the form that opens a case
OPENED_BY: OpenedBy = "system"
# The year's audit report is due on the profile's day of the following year (Beijing 编制说明 4(二)), or
# within the working days an on-demand audit was given (`due_days`, set when it is opened)
ANNUAL_DUE = AnnualDate(lambda p: p.revenue_audit.due)
REPORT_DUE = RequestedDays("due_days", ANNUAL_DUE)
OFFICERS = ("case_officer", "approver")


def annual_due(profile: Profile, year: int) -> date:
    month, day = map(int, profile.revenue_audit.due.split("-"))
    return date(year + 1, month, day)


def on_demand_reasons(profile: Profile, *, requester: str, year: int, today: date, project_class: int | None,
                      project_status: str, existing_case: int | None) -> list[Reason]:
    """Whether an audit of `year` may be opened now, on the developer's motion (`requester="owner"`) or at an
    officer's request (`"officer"`); every reason it may not (Beijing 编制说明 4(二), 5 第五章)."""
    reasons: list[Reason] = []
    if not profile.revenue_audit.enabled:
        return [reason("revenue_audit_not_here", jurisdiction_zh=profile.name_zh, jurisdiction_en=profile.name_en)]
    if project_status != "registered" or project_class != 1:
        reasons.append(reason("revenue_audit_class_1_only", field="project_id"))
    last = today.year - 1 if requester == "owner" else today.year  # the developer audits ended years
    if year > last:
        reasons.append(reason("revenue_audit_year_open" if requester == "owner" else "revenue_audit_year_future",
                              field="year", year=year))
    if existing_case is not None:
        reasons.append(reason("revenue_audit_exists", field="year", year=year, case=existing_case))
    return reasons


def on_demand_days(profile: Profile, *, requester: str, year: int, today: date, asked_days: int | None) -> int | None:
    """The working days an on-demand audit gets (None: the annual deadline stands). An officer's request
    always sets them; a developer filing before the annual deadline keeps that deadline."""
    if requester == "officer":
        return asked_days or profile.revenue_audit.request_days
    return None if annual_due(profile, year) >= today else profile.revenue_audit.request_days


def build(profile: Profile) -> ProcedureSpec:
    if not profile.revenue_audit.enabled:
        raise LookupError(f"{profile.code} has no revenue audits")
    states = (
        StateSpec("open", "stop", notify=("applicant",),
                  tasks=(TaskSpec("revenue_report", "applicant", ("file_audit",), due=REPORT_DUE),),
                  timers=(TimerSpec("audit_deadline", "audit_deadline", REPORT_DUE),)),
        StateSpec("filed", "stop", terminal=True),
        StateSpec("below_threshold", "stop", terminal=True, on_enter=(RectifyRevenue(),), notify=("applicant",)),
        StateSpec("missed", "stop", terminal=True, on_enter=(RectifyRevenue(),), notify=("applicant",)),
    )
    arrows = (
        TransitionSpec("file_audit", ("open",), "filed", ("applicant",), RevenueAuditReport,
                       rules=(rules.audit_report_attached,), when=rules.share_returned_enough,
                       effects=(RecordAudit(),), owner_only=True),
        TransitionSpec("file_audit", ("open",), "below_threshold", ("applicant",), RevenueAuditReport,
                       rules=(rules.audit_report_attached,), when=lambda inp: not rules.share_returned_enough(inp),
                       effects=(RecordAudit(),), owner_only=True),
        TransitionSpec("audit_deadline", ("open",), "missed", ("system",), Empty),
    )
    return ProcedureSpec(NAME, "open", states, arrows, application=APPLICATION, opened_by=OPENED_BY)
