"""rectification, report and revenue_audit as declared per profile, and their rules; no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from forms.common import Empty
from forms.supervision import PublicReport, ReportHandlers, RevenueAuditReport
from states import rules
from states.effects import RectifyReported
from states.machine import ProcedureUnavailable, procedure, runner
from states.profiles import get_profile
from states.spec import CaseView, ProjectFacts, RuleInput
from tests.unit.test_project_registration import FakeFacts

ALL = ["SH", "BJ", "JX", "ORD", "SD"]


class Facts(FakeFacts):
    def __init__(self, project: ProjectFacts | None = None) -> None:
        super().__init__()
        self.project_ = project

    def project(self) -> ProjectFacts | None:
        return self.project_

    def document_hashes(self) -> set[str]:
        return {"b" * 64}


def inp(code: str, facts=None, form=None, **app) -> RuleInput:
    case = CaseView(id=1, procedure="rectification", jurisdiction=code, state="report_review",
                    subject_kind="project", application=app)
    return RuleInput(case=case, form=form or Empty(), facts=facts or Facts(), profile=get_profile(code), actor_id=1,
                     today=date(2026, 3, 2))


@pytest.mark.parametrize("code,failed", [("SH", "suspended"), ("BJ", "suspended"), ("JX", "revoked"),
                                         ("ORD", "revoked"), ("SD", "suspended")])
def test_a_missed_deadline_ends_as_the_profile_says(code: str, failed: str) -> None:
    spec = procedure("rectification", code)
    machine = runner("rectification", code)
    (deadline,) = spec.arrows("deadline_passed", "rectifying")
    assert deadline.dest == failed and deadline.roles == ("system",)
    for arrow in spec.transitions:
        for source in arrow.sources:
            assert machine.move(source, arrow) == (arrow.dest or source)


def test_rounds_are_bounded() -> None:
    assert rules.rounds_left(inp("SH", notices=[{}])) == []
    assert [r.code for r in rules.rounds_left(inp("SH", notices=[{}, {}]))] == ["rounds_exhausted"]


def test_a_suspended_or_revoked_project_blocks_issuance() -> None:
    base = {"id": 1, "jurisdiction": "SH", "kind": "project", "status": "registered", "suspended": False,
            "project_class": None, "methodology_code": None, "other_schemes": ()}
    assert rules.project_not_suspended(inp("SH", Facts(ProjectFacts(**base)))) == []
    assert [r.code for r in rules.project_not_suspended(inp("SH", Facts(ProjectFacts(**{**base, "suspended": True}))))
            ] == ["project_suspended"]
    assert [r.code for r in rules.project_not_suspended(inp("SH", Facts(ProjectFacts(**{**base, "status": "revoked"}))))
            ] == ["project_not_registered"]
    spec = procedure("issuance", "SH")
    guarded = {a.trigger for a in spec.transitions if rules.project_not_suspended in a.rules}
    assert {"submit_monitoring_report", "verify", "accept", "approve"} <= guarded
    assert not guarded & {"hold", "release", "withdraw"}


def test_report_procedure_and_its_form() -> None:
    spec = procedure("report", "JX")
    assert [a.dest for a in spec.arrows("substantiate", "investigating")] == ["substantiated"]
    assert spec.state("substantiated").on_enter == (RectifyReported(),)
    with pytest.raises(ValueError):
        PublicReport(subject="x", content="太短")


class HandlerFacts(Facts):
    def lacking_role(self, role: str, user_ids: list[int]) -> list[int]:
        return [u for u in user_ids if not (role == "case_officer" and u in (7, 8))]

    def report_handlers(self) -> tuple[int, ...]:
        return (7,)


def test_only_the_approver_assigns_report_handlers_and_only_officers() -> None:
    spec = procedure("report", "JX")
    (assign,) = spec.arrows("assign_handlers", "investigating")
    assert assign.dest is None and assign.roles == ("approver",)  # the state stays; no self-claim
    assert not spec.arrows("assign_handlers", "feedback_sent")  # closed: no new readers
    assert spec.arrows("withdraw_handlers", "feedback_sent")  # but access can always end
    assert [t.role for t in spec.state("received").tasks] == ["case_officer", "approver"]
    form = ReportHandlers(officers=[7, 9])
    assert [(r.code, r.params["user"]) for r in rules.handlers_are_officers(inp("JX", HandlerFacts(), form))] == [
        ("handler_not_officer", 9)]
    assert [(r.code, r.params["user"]) for r in rules.handlers_assigned(inp("JX", HandlerFacts(), form))] == [
        ("handler_not_assigned", 9)]


def test_revenue_audits_only_in_beijing_and_the_90_percent_line() -> None:
    for code in ("SH", "JX", "ORD", "SD"):
        with pytest.raises(ProcedureUnavailable):
            procedure("revenue_audit", code)
    form = RevenueAuditReport(year=2025, proceeds_cny=Decimal("100"), costs_cny=Decimal("0"),
                              returned_to_users_cny=Decimal("90"), auditor="x", report_sha256="b" * 64)
    assert rules.share_returned_enough(inp("BJ", form=form))
    assert not rules.share_returned_enough(inp("BJ", form=form.model_copy(update={"returned_to_users_cny":
                                                                                  Decimal("89.99")})))
    assert rules.returned_share(form.model_copy(update={"costs_cny": Decimal("200")})) == 1  # nothing to return
    assert rules.audit_report_attached(inp("BJ", form=form)) == []
    assert [r.code for r in rules.audit_report_attached(inp("BJ", form=form.model_copy(
        update={"report_sha256": "c" * 64})))] == ["sheet_missing"]
    assert ALL
