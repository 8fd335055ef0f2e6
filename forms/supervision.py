"""Forms of supervision: tracking evaluations, rectification, and reports (举报)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from forms.common import Comment, Form, Reasoning, ShortText, Tonnes, Unsigned

Severity = Literal["low", "medium", "high", "critical"]
# what was found decides what a failed rectification costs: Jiaxing art. 26 (false materials: claw
# back), Ordos art. 11 (anomalous data: correct the reductions)
Category = Literal["plan_deviation", "data_anomaly", "false_materials", "revenue_use", "double_claim", "other"]


class Finding(Form):
    severity: Severity
    category: Category
    description: Reasoning
    evidence_sha256: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(default_factory=list,
                                                                                    max_length=20)
    needs_action: bool = True
    excess_tco2e: Annotated[Tonnes, Field(ge=0)] = Decimal(0)  # reductions obtained from anomalous data


class TrackingEvaluation(Form):
    """跟踪评估 (Shanghai art. 8, Ordos art. 11) by a case officer or the operator."""

    summary: Reasoning
    findings: list[Finding] = Field(min_length=1, max_length=50)


class RectificationNotice(Form):
    """整改通知: the findings, the actions required and the deadline in working days."""

    required_actions: list[Reasoning] = Field(min_length=1, max_length=30)
    deadline_days: int | None = Field(None, ge=1, le=120)


class RectificationReport(Form):
    summary: Reasoning
    actions_taken: list[Reasoning] = Field(min_length=1, max_length=30)


class ReportReview(Form):
    opinion: Reasoning
    deadline_days: int | None = Field(None, ge=1, le=120)


class Revocation(Form):
    reasons: Reasoning


class PublicReport(Form):
    """举报 by anyone, without an account (Jiaxing art. 27: 为举报人保密)."""

    subject: ShortText = Field(description="who or what is reported: a project, a registration number, a firm")
    project_id: int | None = Field(None, ge=1)
    content: Annotated[str, Field(min_length=20, max_length=10000)]
    name: Annotated[str, Field(max_length=100)] = ""
    contact: Annotated[str, Field(max_length=200)] = ""


class ReportHandlers(Form):
    """The approver names (or withdraws) the case officers who handle a report: only they may read
    the reporter's identity (Jiaxing art. 27: 为举报人保密)."""

    officers: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=10,
                                                       description="the officers' user numbers")
    notes: Comment = ""


class Triage(Form):
    notes: Comment = ""


class Substantiation(Form):
    findings: list[Finding] = Field(min_length=1, max_length=50)
    internal_notes: Comment = ""


class Dismissal(Form):
    internal_notes: Comment = ""


class Feedback(Form):
    """What the reporter is told: the outcome, never the internal notes."""

    message: Reasoning




Yuan = Annotated[Decimal, Field(ge=0, lt=Decimal(10) ** 13, decimal_places=2), Unsigned]


class RevenueAuditRequest(Form):
    """Open a year's revenue-use audit on demand (Beijing 编制说明 4(二)): the developer for an ended year,
    or an officer asking for one (`due_days`: the working days given; the profile's when left out)."""

    year: int = Field(ge=2000, le=2100)
    due_days: int | None = Field(None, ge=1, le=120)
    note: Comment = ""


class RevenueAuditReport(Form):
    """Beijing 编制说明 4(二): the audit of how the proceeds from selling reductions were used."""

    year: int = Field(ge=2000, le=2100)
    proceeds_cny: Yuan
    costs_cny: Yuan
    returned_to_users_cny: Yuan
    auditor: ShortText
    report_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class OperationReport(Form):
    """Beijing 编制说明 (第四章 二类项目报告): a class-2 project publishes its revenue-management plan
    (碳普惠收益管理方案) and how it ran (项目运行情况) — once a year here (states/operation_report.py)."""

    year: int = Field(ge=2000, le=2100)
    revenue_management_plan: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
    operation_summary: Reasoning
    participants: int = Field(ge=0, lt=10**10, description="users or participants during the year")
    reductions_tco2e: Tonnes = Field(description="reductions by the level-2 methodology (disclosed, not issued)")
    revenue_cny: Yuan
    returned_to_users_cny: Yuan
