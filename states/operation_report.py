"""operation_report 二类项目运行情况报告 (Beijing 编制说明 第四章 二类项目报告: 规定二类项目制定碳普惠收益管理方案、
公开项目运行情况的相关要求; 4(一): 二类项目仅公开项目信息及运行情况，不签发减排量).

Our reading. The note asks class-2 projects — disclosed, never registered nor issued — to publish a
revenue-management plan and, periodically, how the project runs; it sets no period. A careful official
takes the scheme's own rhythm: yearly, due on the profile's day of the following year (Beijing: 30 June,
as the class-1 audits). Each report restates the plan (so the public page always shows the one in
force) and says how the year went: participants, reductions achieved by the level-2 methodology (for
information: nothing is issued), revenue and what went back to users. A missed report is published as
missed; no rectification follows, since a class-2 project is not registered and the note attaches no
sanction to it.

    due ─file_report→ published
    due ─(deadline passed)→ missed
"""

from __future__ import annotations

from typing import Any

from forms.common import Empty
from forms.supervision import OperationReport
from states.effects import RecordForm
from states.messages import Reason, reason
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, RuleInput, StateSpec, TransitionSpec
from states.tasks import AnnualDate, TaskSpec, TimerSpec

NAME = "operation_report"
APPLICATION = Empty  # opened by the yearly campaign, for every disclosed class-2 project
OPENED_BY: OpenedBy = "system"
DUE = AnnualDate(lambda p: p.operation_report.due)


def opening_reasons(profile: Profile, *, project_class: int | None, project_status: str) -> list[Reason]:
    """Whether a project owes operation reports here."""
    if not profile.operation_report.enabled:
        return [reason("operation_report_not_here", jurisdiction_zh=profile.name_zh, jurisdiction_en=profile.name_en)]
    if project_status != "disclosed" or project_class != 2:
        return [reason("operation_report_class_2_only", field="project_id")]
    return []


def report_reasons(profile: Any, vintage: int | None, form: OperationReport) -> list[Reason]:
    """The report is of the year the case is for, and returns no more than the project took in."""
    out = []
    if vintage is not None and form.year != vintage:
        out.append(reason("operation_report_year", field="year", year=form.year, due_year=vintage))
    if form.returned_to_users_cny > form.revenue_cny:
        out.append(reason("returned_over_revenue", field="returned_to_users_cny", returned=form.returned_to_users_cny,
                          revenue=form.revenue_cny, **profile.cite("operation_report")))
    return out


def report_fits(inp: RuleInput) -> list[Reason]:
    assert isinstance(inp.form, OperationReport)
    return report_reasons(inp.profile, inp.case.application.get("year"), inp.form)


def build(profile: Profile) -> ProcedureSpec:
    if not profile.operation_report.enabled:
        raise LookupError(f"{profile.code} has no class-2 operation reports")
    states = (
        StateSpec("due", "stop", notify=("applicant",),
                  tasks=(TaskSpec("operation_report", "applicant", ("file_report",), due=DUE),),
                  timers=(TimerSpec("operation_report_deadline", "report_deadline", DUE),)),
        StateSpec("published", "stop", terminal=True),
        StateSpec("missed", "stop", terminal=True, notify=("applicant",)),
    )
    arrows = (
        TransitionSpec("file_report", ("due",), "published", ("applicant",), OperationReport, rules=(report_fits,),
                       effects=(RecordForm("report"),), owner_only=True),
        TransitionSpec("report_deadline", ("due",), "missed", ("system",), Empty),
    )
    return ProcedureSpec(NAME, "due", states, arrows, application=APPLICATION, opened_by=OPENED_BY)
