"""issuance and retirement as declared per profile, and their rules; no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from forms.issuance import IssuanceApproval, MonitoringReport, RetirementRequest, Verification
from states import rules
from states.machine import procedure, runner
from states.profiles import get_profile
from states.spec import CaseView, ProjectFacts, RuleInput, VerifierFacts
from tests.unit.test_project_registration import FakeFacts

ALL = ["SH", "BJ", "JX", "ORD", "SD"]
SHEET = "a" * 64
TODAY = date(2026, 3, 2)


class Facts(FakeFacts):
    def __init__(self, project=None, overlaps=(), taken=0, verifier=None, sheets=(SHEET,), held=0) -> None:
        super().__init__()
        self.project_, self.overlaps, self.taken, self.verifier_ = project, list(overlaps), taken, verifier
        self.sheets, self.held = set(sheets), held

    def project(self) -> ProjectFacts | None:
        return self.project_

    def overlapping_periods(self, start: date, end: date) -> list[tuple[int, date, date]]:
        return [o for o in self.overlaps if o[1] <= end and start <= o[2]]

    def open_issuances(self, project_id: int, vintage: int) -> int:
        return self.taken

    def verifier(self, verifier_id: int) -> VerifierFacts | None:
        return self.verifier_

    def document_hashes(self) -> set[str]:
        return self.sheets

    def holding(self, org_id: int | None, project_id: int | None, vintage: int | None) -> int:
        return self.held


def project(**kw) -> ProjectFacts:
    base = {"id": 7, "jurisdiction": "SD", "kind": "project", "status": "registered", "suspended": False,
            "project_class": None, "methodology_code": "SD-M-PV-001", "other_schemes": ()}
    return ProjectFacts(**(base | kw))


VERIFIER = VerifierFacts(id=3, jurisdiction="SD", uscc="91350100M000100Y43", org_id=30, scopes=("project",),
                         valid_from=date(2024, 1, 1), valid_until=date(2030, 12, 31))


def inp(code: str = "SD", facts: Facts | None = None, form=None, state: str = "open", actor_org: int | None = 30,
        **app) -> RuleInput:
    application = {"project_id": 7, "vintage": 2025, **app}
    case = CaseView(id=1, procedure="issuance", jurisdiction=code, state=state, subject_kind="project",
                    application=application, held_from=app.get("held_from"))
    return RuleInput(case=case, form=form or IssuanceApproval(issued_tco2e=1), facts=facts or Facts(project()),
                     profile=get_profile(code), actor_id=1, today=TODAY, actor_org_id=actor_org)


def report(**kw) -> MonitoringReport:
    base = {"period_start": "2025-01-01", "period_end": "2025-12-31", "claimed_tco2e": "100",
            "prepared_by_uscc": "91110000600037341L", "prepared_by_name": "咨询公司",
            "calculation_sheet_sha256": SHEET, "verifier_id": 3, "not_claimed_elsewhere": True}
    return MonitoringReport.model_validate(base | kw)


@pytest.mark.parametrize("code,stages", [
    ("SH", ["open", "verification", "submitted", "technical_review", "authority_decision", "issued"]),
    ("BJ", ["open", "verification", "submitted", "technical_review", "authority_decision", "issued"]),
    ("ORD", ["open", "verification", "submitted", "technical_review", "authority_decision", "issued"]),
    ("SD", ["open", "verification", "submitted", "technical_review", "authority_decision", "publicity", "issued"]),
    ("JX", ["open", "verification", "submitted", "technical_review", "expert_review", "authority_decision",
            "publicity", "issued"]),  # Jiaxing art. 17: committee review and publicity
])
def test_each_profile_has_its_stages(code: str, stages: list[str]) -> None:
    spec = procedure("issuance", code)
    path, state = ["open"], "open"
    for trigger in ("submit_monitoring_report", "verify", "accept", "pass_review", "panel_pass", "approve",
                    "publicity_end"):
        arrows = [a for a in spec.arrows(trigger, state) if a.dest not in ("objection_review",)]
        if arrows:
            state = arrows[0].dest
            path.append(state)
    assert path == stages


@pytest.mark.parametrize("code", ALL)
def test_every_state_before_issued_can_be_held_and_released_back(code: str) -> None:
    spec = procedure("issuance", code)
    machine = runner("issuance", code)
    holdable = [s.name for s in spec.states if not s.terminal and s.name != "on_hold"]
    for state in holdable:
        (hold,) = spec.arrows("hold", state)
        assert machine.move(state, hold) == "on_hold"
        back = [a for a in spec.arrows("release", "on_hold") if a.when(inp(code, held_from=state))]
        assert [a.dest for a in back] == [state]
    assert not spec.arrows("hold", "issued")


def test_opening_rules() -> None:
    assert rules.project_issuable(inp()) == []
    assert [r.code for r in rules.project_issuable(inp(facts=Facts(None)))] == ["project_unknown"]
    codes = [r.code for r in rules.project_issuable(inp(facts=Facts(project(status="draft", suspended=True,
                                                                           other_schemes=("CCER",))), ))]
    assert codes == ["project_not_registered", "project_suspended", "double_registration"]
    assert [r.code for r in rules.project_issuable(inp("BJ", Facts(project(jurisdiction="BJ", project_class=2))))] \
        == ["class2_no_issuance"]
    assert [r.code for r in rules.project_issuable(inp(facts=Facts(project(), taken=1)))] == ["vintage_taken"]
    # only Jiaxing files a project with its first reduction filing
    new = {"kind": "project", "title": "x", "other_schemes": []}
    assert [r.code for r in rules.project_issuable(inp("SD", new_project=new))] == ["first_filing_not_here"]
    declared = dict.fromkeys(get_profile("JX").registration.commitments, True)
    assert rules.project_issuable(inp("JX", new_project=new, commitments=declared)) == []
    # Jiaxing art. 13: the first filing declares the four (test_seed_rules_jx_ord.py has the rest)
    assert [r.code for r in rules.project_issuable(inp("JX", new_project=new))] == ["commitment_missing"] * 4


def test_monitoring_period_rules() -> None:
    assert rules.monitoring_period_allowed(inp(form=report())) == []
    late = inp(form=report(period_start="2025-06-01", period_end="2026-03-03"))
    assert [r.code for r in rules.monitoring_period_allowed(late)] == ["period_in_future", "period_vintage"]
    old = inp(form=report(period_start="2022-01-01"))  # look-back 3 years from 2026-03-02
    assert [r.code for r in rules.monitoring_period_allowed(old)] == ["period_lookback"]
    jx = inp("JX", form=report(period_start="2020-09-21", period_end="2020-12-31"), vintage=2020)
    assert [r.code for r in rules.monitoring_period_allowed(jx)] == ["period_too_early"]  # Jiaxing art. 12
    overlapping = Facts(project(), overlaps=[(9, date(2025, 10, 1), date(2025, 12, 31))])
    assert [r.code for r in rules.monitoring_period_allowed(inp(facts=overlapping, form=report()))] == [
        "period_overlap"]


def test_verifier_rules() -> None:
    ok = Facts(project(), verifier=VERIFIER)
    assert rules.verifier_accredited_and_independent(inp(facts=ok, form=report())) == []
    # Jiaxing art. 15: the verifier may not verify a report it prepared
    conflict = report(prepared_by_uscc=VERIFIER.uscc)
    assert [r.code for r in rules.verifier_accredited_and_independent(inp(facts=ok, form=conflict))] == [
        "verifier_conflict"]
    stale = Facts(project(kind="scenario", methodology_code="X"),
                  verifier=VerifierFacts(**{**VERIFIER.__dict__, "valid_until": date(2025, 12, 31)}), sheets=())
    assert [r.code for r in rules.verifier_accredited_and_independent(inp(facts=stale, form=report()))] == [
        "verifier_expired", "verifier_scope", "sheet_missing"]
    assert [r.code for r in rules.verifier_accredited_and_independent(inp(facts=Facts(project()),
                                                                          form=report()))] == ["verifier_unknown"]


def test_verification_and_decision_amounts() -> None:
    facts = Facts(project(), verifier=VERIFIER)
    claimed = {"report": {"verifier_id": 3, "claimed_tco2e": "100.5"}}
    good = inp(facts=facts, form=Verification(verified_tco2e=Decimal("100.5"), opinion="ok"), **claimed)
    assert rules.verified_by_the_commissioned_verifier(good) == []
    over = inp(facts=facts, form=Verification(verified_tco2e=Decimal("100.6"), opinion="ok"), **claimed)
    assert [r.code for r in rules.verified_by_the_commissioned_verifier(over)] == ["verified_over_claimed"]
    stranger = inp(facts=facts, form=Verification(verified_tco2e=Decimal("1"), opinion="ok"), actor_org=99,
                   **claimed)
    assert [r.code for r in rules.verified_by_the_commissioned_verifier(stranger)] == ["not_commissioned_verifier"]
    verified = {"verification": {"verified_tco2e": "100.25"}}
    assert rules.issued_within_verified(inp(form=IssuanceApproval(issued_tco2e=100), **verified)) == []
    assert [r.code for r in rules.issued_within_verified(inp(form=IssuanceApproval(issued_tco2e=101),
                                                             **verified))] == ["issued_over_verified"]
    assert [r.code for r in rules.issued_within_verified(inp(form=IssuanceApproval(issued_tco2e=1)))] == [
        "not_verified"]


def test_retirement_needs_what_is_held_and_a_document_for_compensation() -> None:
    form = RetirementRequest(amount_tco2e=10, purpose="voluntary", purpose_detail="x")
    enough = inp(facts=Facts(held=10), form=form, amount_tco2e=10, holder_org_id=1)
    assert rules.enough_held(enough) == []
    short = inp(facts=Facts(held=9), form=form, amount_tco2e=10, holder_org_id=1)
    assert [r.code for r in rules.enough_held(short)] == ["not_enough_held"]
    with pytest.raises(ValueError, match="检察院"):
        RetirementRequest(amount_tco2e=10, purpose="ecological_compensation", purpose_detail="x")
    with pytest.raises(ValueError):
        RetirementRequest(amount_tco2e=0, purpose="voluntary", purpose_detail="x")
    with pytest.raises(ValueError):
        IssuanceApproval(issued_tco2e=Decimal("1.5"))
