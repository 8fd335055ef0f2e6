"""Shanghai art. 17 (seeds/001_b40c8518fbadbe3f.txt): class-I reductions may be retired for the Shanghai
ETS's allowance compliance, class-II ones not; elsewhere the purpose does not exist. No database."""

from __future__ import annotations

from datetime import date

from forms.common import Empty
from states import rules
from states.profiles import get_profile
from states.spec import CaseView, RuleInput
from tests.unit.test_project_registration import FakeFacts

TIERS = {1: "class_I", 2: "class_II", 3: None}


class Facts(FakeFacts):
    def project_tier(self, project_id: int) -> str | None:
        return TIERS.get(project_id)


def check(code: str, **app) -> list[str]:
    case = CaseView(id=1, procedure="retirement", jurisdiction=code, state="requested", subject_kind="project",
                    application={"amount_tco2e": 100, **app})
    inp = RuleInput(case=case, form=Empty(), facts=Facts(), profile=get_profile(code), actor_id=1,
                    today=date(2026, 3, 2))
    return [r.code for r in rules.compliance_use_allowed(inp)]


def test_class_i_only_and_the_project_named() -> None:
    assert check("SH", purpose="ets_compliance", project_id=1) == []
    assert check("SH", purpose="ets_compliance", project_id=2) == ["compliance_tier"]
    assert check("SH", purpose="ets_compliance", project_id=3) == ["compliance_tier"]  # no class: not class I
    assert check("SH", purpose="ets_compliance") == ["compliance_needs_project"]
    assert check("SH", purpose="voluntary", project_id=2) == []  # every other use stays open to class II


def test_no_other_jurisdiction_has_the_purpose() -> None:
    for code in ("BJ", "JX", "ORD", "SD"):
        assert check(code, purpose="ets_compliance", project_id=1) == ["compliance_not_here"]
        assert check(code, purpose="large_event") == []
    assert get_profile("SH").methodology.compliance_tiers == ("class_I",)
