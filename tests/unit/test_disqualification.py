"""Jiaxing art. 26 (取消参与碳普惠市场的资格) as a pure rule; no database.

Seed: 003_4691f5d268057b21.txt art. 26 second paragraph. Our reading (states/disqualification.py): barred
in the deciding jurisdiction from new cases, transfers to or from it and retirements on its own behalf;
no end date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from forms.common import Empty
from states import disqualification, rules
from states.disqualification import Disqualified
from states.machine import PROCEDURES, ProcedureUnavailable, procedure
from states.profiles import all_profiles, get_profile
from states.spec import CaseView, RuleInput

RECORD = Disqualified(org_name="某新能源公司", decided_on=date(2026, 3, 2), reason="提供虚假材料，逾期未改正",
                      case_id=7)


@dataclass
class Standing:
    record: Disqualified | None

    def disqualification(self) -> Disqualified | None:
        return self.record


def inp(record: Disqualified | None, code: str = "JX") -> RuleInput:
    case = CaseView(id=1, procedure="issuance", jurisdiction=code, state="open", subject_kind="project",
                    application={})
    return RuleInput(case=case, form=Empty(), facts=Standing(record), profile=get_profile(code), actor_id=1,
                     today=date(2026, 6, 1))


def test_no_record_no_reason() -> None:
    for action in disqualification.ACTIONS:
        assert disqualification.barred(None, action, get_profile("JX")) == []
    assert rules.applicant_not_disqualified(inp(None)) == []
    assert rules.holder_not_disqualified(inp(None)) == []


@pytest.mark.parametrize("action", disqualification.ACTIONS)
def test_every_barred_action_cites_art_26_with_reason_and_date(action: str) -> None:
    (why,) = disqualification.barred(RECORD, action, get_profile("JX"), field="x")
    assert why.code == "party_disqualified" and why.field == "x"
    assert "嘉兴办法第二十六条" in why.zh and "Jiaxing art. 26" in why.en
    assert "2026-03-02" in why.zh and "2026-03-02" in why.en and "提供虚假材料" in why.zh and "#7" not in why.zh


def test_no_end_date_a_record_bars_years_later() -> None:
    """Art. 26 names no term: the rule takes no date to compare with, so years later it still bars."""
    later = RuleInput(**{**inp(RECORD).__dict__, "today": date(2036, 1, 1)})
    assert [r.code for r in rules.applicant_not_disqualified(later)] == ["party_disqualified"]
    assert [r.field for r in rules.holder_not_disqualified(later)] == ["holder_org_id"]


def test_every_procedure_an_applicant_opens_asks_first_and_retirement_asks_again() -> None:
    for code in all_profiles():
        for name, entry in PROCEDURES.items():
            try:
                spec = procedure(name, code)
            except ProcedureUnavailable:
                continue
            asks = rules.applicant_not_disqualified in spec.opening_rules
            assert asks == (entry.opened_by == "applicant"), (code, name)
        (approve,) = procedure("retirement", code).arrows("approve", "requested")
        assert rules.holder_not_disqualified in approve.rules
