"""Jiaxing arts. 12–13 and Ordos arts. 5 and 9 as pure rules, and the GB/T 2260 lookup; no database.

Seeds: 003_4691f5d268057b21.txt (Jiaxing) art. 12 全部减排量应产生在嘉兴市行政区域内, art. 13 禁止项目;
004_81a3b90dcbf20f97.txt (Ordos) art. 5 国家标准、地方标准/方法学、团体标准的次序, art. 9 正式运行后申请.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from pydantic import ValidationError

from forms.registration import Location, ProjectApplication
from services.demo import application
from states import divisions, rules
from states.profiles import get_profile
from states.spec import CaseView, MethodologyFacts, RuleInput
from tests.unit.test_project_registration import FakeFacts

TODAY = date(2026, 3, 2)


def registration(code: str, facts: FakeFacts | None = None, **app) -> RuleInput:
    application_ = {"kind": "project", "methodology_code": "M", "methodology_version": "1.0", **app}
    case = CaseView(id=1, procedure="project_registration", jurisdiction=code, state="draft", subject_kind="project",
                    application=application_)
    return RuleInput(case=case, form=Location(division="330402"), facts=facts or FakeFacts(),
                     profile=get_profile(code), actor_id=1, today=TODAY)


def first_filing(new_project: dict, commitments: dict | None = None) -> RuleInput:
    app = {"new_project": new_project, "vintage": 2025, "commitments": commitments or {}}
    case = CaseView(id=1, procedure="issuance", jurisdiction="JX", state="open", subject_kind="project",
                    application=app)
    return RuleInput(case=case, form=Location(division="330402"), facts=FakeFacts(), profile=get_profile("JX"),
                     actor_id=1, today=TODAY)


# --- GB/T 2260 -------------------------------------------------------------------------------------


def test_the_list_has_every_province_and_the_five_jurisdictions_down_to_counties() -> None:
    provinces = divisions.children(None)
    assert len(provinces) == 34 and {"110000", "310000", "330000", "150000", "370000", "650000"} <= {
        d.code for d in provinces}
    assert [d.code for d in divisions.children("330400")] == [
        "330402", "330411", "330421", "330424", "330481", "330482", "330483"]  # Jiaxing's seven
    assert len(divisions.children("150600")) == 9  # Ordos's two districts and seven banners
    assert len(divisions.children("110100")) == 16 and len(divisions.children("310100")) == 16
    assert len(divisions.children("370000")) == 16  # Shandong's cities
    assert not [c for c in divisions.divisions() if c[4] == "7"]  # statistical development zones are no division


def test_names_chain_and_containment() -> None:
    assert divisions.names("330402") == ("浙江省嘉兴市南湖区", "Nanhu, Jiaxing, Zhejiang")
    assert divisions.names("310114") == ("上海市嘉定区", "Jiading, Shanghai")  # 市辖区 is not said
    assert divisions.within("330481", "330400") and divisions.within("330400", "330400")
    assert not divisions.within("330000", "330400") and not divisions.within("310114", "330400")
    assert divisions.within_any("310114", ()) and divisions.chain("999999") == ()


def test_free_text_locations_resolve_to_codes_when_they_name_a_division() -> None:
    assert divisions.resolve_text("上海市浦东新区张江路 1 号") == "310115"
    assert divisions.resolve_text("浙江省海宁市") == "330481"
    assert divisions.resolve_text("鄂尔多斯市") == "150600"
    assert divisions.resolve_text("SH 示范区") is None and divisions.resolve_text("") is None


def test_a_location_is_a_listed_code_not_free_text() -> None:
    with pytest.raises(ValidationError) as exc:
        ProjectApplication.model_validate({**application("JX"), "location": "嘉兴市南湖区"})
    assert exc.value.errors()[0]["loc"] == ("location",)
    with pytest.raises(ValidationError) as exc:
        Location.model_validate({"division": "330499"})
    assert "GB/T 2260" in str(exc.value)
    assert Location.model_validate({"division": "330402", "address": " 1 号 "}).address == "1 号"


# --- Jiaxing art. 12: inside Jiaxing ----------------------------------------------------------------


def test_jiaxing_refuses_a_first_filing_located_elsewhere() -> None:
    declared = dict.fromkeys(get_profile("JX").registration.commitments, True)
    inside = {"kind": "project", "location": {"division": "330481"}, "other_schemes": []}
    assert rules.location_in_area(first_filing(inside, declared)) == []
    shanghai = {**inside, "location": {"division": "310114"}}
    (r,) = rules.location_in_area(first_filing(shanghai, declared))
    assert r.code == "location_outside_area" and r.field == "new_project.location.division"
    assert "上海市嘉定区" in r.zh and "嘉兴" in r.zh and "嘉兴办法第十二条" in r.zh
    assert "Jiading, Shanghai" in r.en and "Jiaxing art. 12" in r.en
    province = {**inside, "location": {"division": "330000"}}  # the whole province is more than Jiaxing
    assert [x.code for x in rules.location_in_area(first_filing(province))] == ["location_outside_area"]
    legacy = {**inside, "location": "嘉兴市南湖区"}  # free text from before: choose from the list
    assert [x.code for x in rules.location_in_area(first_filing(legacy))] == ["location_unlisted"]


@pytest.mark.parametrize("code", ["SH", "BJ", "ORD", "SD"])
def test_no_other_seed_limits_the_area(code: str) -> None:
    assert rules.location_in_area(registration(code, location={"division": "330402"})) == []


# --- Jiaxing art. 13: prohibited projects at the first filing -------------------------------------------


def test_the_first_filing_declares_the_four_and_names_the_national_ets() -> None:
    declared = dict.fromkeys(get_profile("JX").registration.commitments, True)
    clean = {"kind": "project", "location": {"division": "330402"}, "other_schemes": []}
    assert rules.first_filing_admissible(first_filing(clean, declared)) == []
    missing = rules.first_filing_admissible(first_filing(clean, {**declared, "inclusive": False}))
    assert [(r.code, r.field) for r in missing] == [("commitment_missing", "commitments.inclusive")]
    ets = {**clean, "other_schemes": [{"scheme": "CN_ETS", "reference": "全国碳市场重点排放单位"},
                                      {"scheme": "CCER", "reference": "CCER-001"}]}
    got = rules.first_filing_admissible(first_filing(ets, declared))
    assert [(r.code, r.field) for r in got] == [("prohibited_national_ets", "new_project.other_schemes.0"),
                                               ("double_registration", "new_project.other_schemes.1")]
    assert "嘉兴办法第十三条" in got[0].zh and "Jiaxing art. 13" in got[0].en


# --- Ordos art. 9: running before applying ---------------------------------------------------------------


def test_ordos_refuses_a_project_not_running_yet() -> None:
    ahead = registration("ORD", start_date="2026-05-01")
    (r,) = rules.subject_running(ahead)
    assert r.code == "not_running_yet" and r.field == "start_date" and "鄂尔多斯办法第九条" in r.zh
    assert rules.subject_running(registration("ORD", start_date="2026-03-02")) == []  # running from today
    for code in ("SH", "BJ", "SD"):  # nobody else asks
        assert rules.subject_running(registration(code, start_date="2026-05-01")) == []


# --- Ordos art. 5: priority at adoption ------------------------------------------------------------------


@dataclass
class Standards(FakeFacts):
    filed: list[MethodologyFacts] = field(default_factory=list)

    def covering_standards(self, scope: str, tiers: tuple[str, ...]) -> list[MethodologyFacts]:
        return [m for m in self.filed if m.scope == scope and m.tier in tiers and m.status == "filed"]


GROUP = MethodologyFacts("ORD-M-LED-002", "1.0", "ORD", "project", "group", "filed", scope="公共照明节能改造")


def test_ordos_refuses_a_group_standard_where_a_national_one_covers_the_scope() -> None:
    national = MethodologyFacts("GB-LED", "1.0", "ORD", "project", "national", "filed", scope="公共照明节能改造")
    other_scope = MethodologyFacts("GB-PV", "1.0", "ORD", "project", "national", "filed", scope="分布式光伏发电")
    scenario = MethodologyFacts("GB-LED-S", "1.0", "ORD", "scenario", "local", "filed", scope="公共照明节能改造")
    facts = Standards(methodology_=GROUP, filed=[national, other_scope, scenario])
    (r,) = rules.highest_standard_adopted(registration("ORD", facts))
    assert r.code == "higher_standard_applies" and r.field == "methodology_code"
    assert "GB-LED" in r.zh and "国家标准" in r.zh and "鄂尔多斯办法第五条" in r.zh and "Ordos art. 5" in r.en
    alone = Standards(methodology_=GROUP, filed=[other_scope, scenario])
    assert rules.highest_standard_adopted(registration("ORD", alone)) == []
    top = Standards(methodology_=national, filed=[national])
    assert rules.highest_standard_adopted(registration("ORD", top)) == []  # the national one itself


def test_profiles_without_a_priority_adopt_freely() -> None:
    facts = Standards(methodology_=MethodologyFacts("M", "1.0", "SH", "project", "class_II", "filed", scope="x"),
                      filed=[MethodologyFacts("N", "1.0", "SH", "project", "class_I", "filed", scope="x")])
    assert rules.highest_standard_adopted(registration("SH", facts)) == []


def test_migration_0008_keeps_old_text_as_the_address_under_the_division_it_names() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "services/store/migrations/versions/0008_seeda.py"
    spec = importlib.util.spec_from_file_location("m0008", path)
    assert spec and spec.loader
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    assert m._rewrite({"location": "上海市嘉定区安亭镇"}, "SH", True) == {
        "location": {"division": "310114", "address": "上海市嘉定区安亭镇"}}
    assert m._rewrite({"location": "SH 示范区"}, "SH", True)["location"]["division"] == "310000"  # the home division
    jx = m._rewrite({"new_project": {"location": "JX 示范区"}, "vintage": 2025}, "JX", True)
    assert jx["new_project"]["location"] == {"division": "330400", "address": "JX 示范区"}
    assert m._rewrite({"location": {"division": "310114"}}, "SH", True) is None  # already structured
    assert m._rewrite({"location": {"division": "310114", "address": "x"}}, "SH", False) == {"location": "x"}
