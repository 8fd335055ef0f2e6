"""Ordos art. 17 (first half) and Shanghai art. 14 as pure rules; no database.

Seeds: 004_81a3b90dcbf20f97.txt art. 17 已经公示或签发的碳普惠减排量，不得重复申报国内外温室气体自愿减排机制;
001_b40c8518fbadbe3f.txt art. 14 承诺不重复参与国内外温室气体自愿减排项目. Reading: states/double_claim.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from forms.common import Empty
from states import double_claim, rules
from states.double_claim import IssuedBlock
from states.machine import procedure
from states.profiles import get_profile
from states.spec import CaseView, RuleInput

SERIAL = "ORD-2025-P00001-000001-001100"


def test_the_declaration_is_required_only_where_the_seed_says() -> None:
    for code, article in (("ORD", "Ordos art. 17"), ("SH", "Shanghai art. 14")):
        for declared in (None, False):
            (why,) = double_claim.declaration_reasons(get_profile(code), declared)
            assert why.code == "declaration_missing" and why.field == "not_claimed_elsewhere" and article in why.en
        assert double_claim.declaration_reasons(get_profile(code), True) == []
    for code in ("BJ", "JX", "SD"):
        assert double_claim.declaration_reasons(get_profile(code), None) == []
    for code in ("ORD", "SH", "BJ"):
        (submit,) = procedure("issuance", code).arrows("submit_monitoring_report", "open")
        assert rules.declared_not_claimed_elsewhere in submit.rules


def test_a_finding_needs_the_seed_a_known_block_and_no_earlier_finding() -> None:
    ordos = get_profile("ORD")
    assert double_claim.finding_reasons(ordos, IssuedBlock(SERIAL, "ORD", None), SERIAL, "CCER") == []
    assert [r.code for r in double_claim.finding_reasons(ordos, None, SERIAL, "CCER")] == ["issued_block_unknown"]
    assert [r.code for r in double_claim.finding_reasons(ordos, IssuedBlock(SERIAL, "SH", None), SERIAL, "CCER")] == [
        "issued_block_unknown"]  # another jurisdiction's block
    again = double_claim.finding_reasons(ordos, IssuedBlock(SERIAL, "ORD", "VCS"), SERIAL, "CCER")
    assert [r.code for r in again] == ["already_found_elsewhere"] and "VCS" in again[0].en
    assert [r.code for r in double_claim.finding_reasons(get_profile("BJ"), None, SERIAL, "CCER")] == [
        "double_claim_not_here"]


def test_frozen_units_are_named_when_asked_for_or_when_the_rest_is_not_enough() -> None:
    sh = get_profile("SH")
    assert double_claim.frozen_reasons(sh, []) == []
    (why,) = double_claim.frozen_reasons(sh, ["SH-2025-P00001-000001-000300"], field="serials")
    assert why.code == "units_frozen" and why.field == "serials" and "Shanghai art. 14" in why.en
    assert double_claim.frozen_reasons(sh, ["x"], asked=10, available=10) == []
    assert [r.code for r in double_claim.frozen_reasons(sh, ["x"], asked=11, available=10)] == ["units_frozen"]
    assert double_claim.units(["SH-2025-P00001-000001-000300", "SH-2025-P00001-000401-000500"]) == 400
    key = ("SH", 2025, "P00001")
    assert double_claim.overlaps([(key, 1, 300)], key, 300, 400)
    assert not double_claim.overlaps([(key, 1, 300)], key, 301, 400)
    assert not double_claim.overlaps([(key, 1, 300)], ("SH", 2024, "P00001"), 1, 300)


@dataclass
class Holding:
    held: int
    frozen_: list[str] = field(default_factory=list)

    def holding(self, org_id: int | None, project_id: int | None, vintage: int | None) -> int:
        return self.held

    def frozen(self, org_id: int | None, project_id: int | None, vintage: int | None) -> list[str]:
        return self.frozen_


@pytest.mark.parametrize("asked,codes", [(700, []), (701, ["units_frozen"])])
def test_a_retirement_takes_only_unfrozen_units(asked: int, codes: list[str]) -> None:
    case = CaseView(id=1, procedure="retirement", jurisdiction="ORD", state="requested", subject_kind="project",
                    application={"amount_tco2e": asked, "holder_org_id": 1})
    inp = RuleInput(case=case, form=Empty(), facts=Holding(1000, ["ORD-2025-P00001-000001-000300"]),
                    profile=get_profile("ORD"), actor_id=1, today=date(2026, 6, 1))
    assert [r.code for r in rules.units_not_frozen(inp)] == codes
    spec = procedure("retirement", "ORD")
    assert rules.units_not_frozen in spec.opening_rules
    assert rules.units_not_frozen in spec.arrows("approve", "requested")[0].rules
