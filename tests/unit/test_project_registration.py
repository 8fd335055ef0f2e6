"""project_registration as declared: every arrow in every profile, every rule, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from forms.common import Empty
from forms.registration import Approval, PanelComposition, PanelConclusion, Submission
from states import rules
from states.machine import ProcedureUnavailable, mermaid, procedure, runner
from states.profiles import all_profiles, get_profile
from states.spec import CaseView, MethodologyFacts, PanelFacts, RuleInput

REGISTERING = ["SH", "BJ", "ORD", "SD"]

# PROCESSES.md, project_registration: (trigger, source) -> destination (None = stays)
CONTRACT = {
    ("submit", "draft"): "submitted",
    ("accept", "submitted"): "technical_review",
    ("request_supplement", "submitted"): "supplement_requested",
    ("resubmit", "supplement_requested"): "submitted",
    ("lapse", "supplement_requested"): "lapsed",
    ("pass_review", "technical_review"): "expert_review",
    ("fail_review", "technical_review"): "rejected",
    ("panel_pass", "expert_review"): "authority_decision",
    ("panel_revise", "expert_review"): "revision_requested",
    ("panel_reject", "expert_review"): "authority_decision",
    ("resubmit", "revision_requested"): "expert_review",
    ("approve", "authority_decision"): "publicity",
    ("reject", "authority_decision"): "rejected",
    ("lodge_objection", "publicity"): None,
    ("dismiss_objections", "objection_review"): "registered",
    ("withdraw", "draft"): "withdrawn",
    ("withdraw", "submitted"): "withdrawn",
    ("withdraw", "supplement_requested"): "withdrawn",
    ("withdraw", "technical_review"): "withdrawn",
}


@dataclass
class FakeFacts:
    objections: int = 0
    panel_: PanelFacts | None = None
    methodology_: MethodologyFacts | None = None
    experts: set[int] = field(default_factory=lambda: {1, 2, 3, 4, 5})

    def open_objections(self) -> int:
        return self.objections

    def panel(self) -> PanelFacts | None:
        return self.panel_

    def methodology(self) -> MethodologyFacts | None:
        return self.methodology_

    def not_experts(self, user_ids: list[int]) -> list[int]:
        return [u for u in dict.fromkeys(user_ids) if u not in self.experts]


def inp(code: str = "SH", form=None, facts=None, actor: int | None = 1, **app) -> RuleInput:
    application = {"kind": "project", "methodology_code": "M", "methodology_version": "1.0", **app}
    case = CaseView(id=1, procedure="project_registration", jurisdiction=code, state="draft",
                    subject_kind=application["kind"], application=application)
    return RuleInput(case=case, form=form or Empty(), facts=facts or FakeFacts(), profile=get_profile(code),
                     actor_id=actor, today=date(2026, 3, 2))


def filed(code: str = "SH", kind: str = "project", tier: str | None = None, status: str = "filed") -> FakeFacts:
    return FakeFacts(methodology_=MethodologyFacts("M", "1.0", code, kind, tier, status))


@pytest.mark.parametrize("code", REGISTERING)
def test_every_contract_arrow_exists_and_lands_where_processes_says(code: str) -> None:
    spec = procedure("project_registration", code)
    machine = runner("project_registration", code)
    for (trigger, source), dest in CONTRACT.items():
        arrows = spec.arrows(trigger, source)
        assert arrows, f"{code}: {trigger} from {source} missing"
        assert arrows[0].dest == dest
        assert machine.move(source, arrows[0]) == (dest or source)


@pytest.mark.parametrize("code", REGISTERING)
def test_publicity_end_branches_on_open_objections(code: str) -> None:
    spec = procedure("project_registration", code)
    arrows = spec.arrows("publicity_end", "publicity")
    chosen_none = [a.dest for a in arrows if a.when(inp(code, facts=FakeFacts(objections=0)))]
    chosen_some = [a.dest for a in arrows if a.when(inp(code, facts=FakeFacts(objections=2)))]
    assert chosen_none == ["registered"] and chosen_some == ["objection_review"]
    assert all(a.roles == ("system",) for a in arrows)


def test_uphold_objection_chooses_destination_by_outcome() -> None:
    from forms.registration import ObjectionUpheld

    spec = procedure("project_registration", "SH")
    for outcome, dest in (("re_review", "technical_review"), ("reject", "rejected")):
        form = ObjectionUpheld(reasoning="成立", outcome=outcome)
        chosen = [a.dest for a in spec.arrows("uphold_objection", "objection_review") if a.when(inp(form=form))]
        assert chosen == [dest]


def test_jiaxing_refuses_separate_registration() -> None:
    # Jiaxing arts. 14–17: the project is filed with its first reduction filing.
    with pytest.raises(ProcedureUnavailable):
        procedure("project_registration", "JX")


def test_only_beijing_has_disclosure_of_class_2() -> None:
    assert procedure("project_registration", "BJ").arrows("disclose", "submitted")[0].dest == "disclosed"
    for code in ("SH", "ORD", "SD"):
        assert not procedure("project_registration", code).arrows("disclose", "submitted")


def test_shanghai_scenario_review_is_joint_and_projects_are_not() -> None:
    state = procedure("project_registration", "SH").state("technical_review")
    scenario = inp("SH", kind="scenario").case
    project = inp("SH").case
    sh = get_profile("SH")
    assert [t.role for t in state.tasks if t.when is None or t.when(scenario, sh)] == ["review_centre", "operator"]
    assert [t.role for t in state.tasks if t.when is None or t.when(project, sh)] == ["review_centre"]
    bj_state = procedure("project_registration", "BJ").state("technical_review")
    opened = [t.role for t in bj_state.tasks if t.when is None or t.when(scenario, get_profile("BJ"))]
    assert opened == ["review_centre"]


@pytest.mark.parametrize("code,required", [
    ("SH", {"no_other_voluntary_scheme", "no_green_power_trading", "no_green_certificate"}),  # art. 14
    ("BJ", {"implementation_plan", "revenue_return_90", "annual_revenue_audit"}),  # note 4(二)
    ("ORD", {"no_ccer_vcs"}),  # art. 17
    ("SD", {"no_other_voluntary_scheme"}),
])
def test_missing_commitments_are_each_named(code: str, required: set[str]) -> None:
    reasons = rules.commitments_given(inp(code, form=Submission(commitments={})))
    assert {r.field.split(".")[1] for r in reasons} == required
    assert all(r.code == "commitment_missing" and r.zh and r.en for r in reasons)
    assert rules.commitments_given(inp(code, form=Submission(commitments=dict.fromkeys(required, True)))) == []
    # a commitment given as false is still missing
    half = {c: c != sorted(required)[0] for c in required}
    assert len(rules.commitments_given(inp(code, form=Submission(commitments=half)))) == 1


def test_double_registration_names_every_scheme() -> None:
    reasons = rules.not_registered_elsewhere(inp(other_schemes=[{"scheme": "CCER", "reference": "001"},
                                                                {"scheme": "VCS", "reference": "VCS-9"}]))
    assert [r.params["scheme"] for r in reasons] == ["CCER", "VCS"]
    assert rules.not_registered_elsewhere(inp(other_schemes=[])) == []


def test_project_class_only_in_beijing() -> None:
    assert [r.code for r in rules.project_class_fits(inp("BJ"))] == ["class_required"]
    assert rules.project_class_fits(inp("BJ", project_class=1)) == []
    assert [r.code for r in rules.project_class_fits(inp("SH", project_class=1))] == ["class_not_in_profile"]


def test_methodology_rules_report_every_problem() -> None:
    assert [r.code for r in rules.methodology_usable(inp(facts=FakeFacts()))] == ["methodology_unknown"]
    bad = FakeFacts(methodology_=MethodologyFacts("M", "1.0", "BJ", "scenario", "level_2", "superseded"))
    codes = [r.code for r in rules.methodology_usable(inp("SH", facts=bad))]
    assert codes == ["methodology_jurisdiction", "methodology_kind", "methodology_superseded"]
    withdrawn = FakeFacts(methodology_=MethodologyFacts("M", "1.0", "SH", "project", None, "withdrawn"))
    assert [r.code for r in rules.methodology_usable(inp("SH", facts=withdrawn))] == ["methodology_not_filed"]
    assert rules.methodology_usable(inp("SH", facts=filed("SH"))) == []
    # Beijing 编制说明 4(一): class 1 needs a level-1 methodology
    assert [r.code for r in rules.methodology_usable(inp("BJ", facts=filed("BJ", tier="level_2"),
                                                         project_class=1))] == ["methodology_tier"]
    assert rules.methodology_usable(inp("BJ", facts=filed("BJ", tier="level_1"), project_class=1)) == []


def test_panel_composition_reports_all_failures_together() -> None:
    form = PanelComposition(members=[1, 2, 2, 9, 4], chair=7)  # 4 distinct: even
    codes = sorted(r.code for r in rules.panel_composition_valid(inp(form=form)))
    assert codes == ["panel_chair", "panel_duplicate", "panel_not_expert", "panel_size"]
    ok = PanelComposition(members=[1, 2, 3], chair=2)
    assert rules.panel_composition_valid(inp(form=ok)) == []
    composed = FakeFacts(panel_=PanelFacts((1, 2, 3), 1, {}))
    assert [r.code for r in rules.panel_composition_valid(inp(form=ok, facts=composed))] == ["panel_already"]


def test_opinions_once_per_member_and_conclusion_by_chair_with_quorum() -> None:
    panel = FakeFacts(panel_=PanelFacts((1, 2, 3), 1, {2: "agree"}))
    assert rules.is_panel_member_without_opinion(inp(facts=panel, actor=1)) == []
    assert [r.code for r in rules.is_panel_member_without_opinion(inp(facts=panel, actor=2))] == ["opinion_recorded"]
    assert [r.code for r in rules.is_panel_member_without_opinion(inp(facts=panel, actor=8))] == ["not_panel_member"]
    form = PanelConclusion(conclusion="通过")
    # quorum ⅔ of 3 = 2 opinions; one given; and actor 2 is not the chair
    assert sorted(r.code for r in rules.chair_with_quorum(inp(form=form, facts=panel, actor=2))) == [
        "not_panel_chair", "quorum"]
    two = FakeFacts(panel_=PanelFacts((1, 2, 3), 1, {2: "agree", 3: "disagree"}))
    assert rules.chair_with_quorum(inp(form=form, facts=two, actor=1)) == []
    from fractions import Fraction

    assert rules.panel_quorum(Fraction(2, 3), 5) == 4 and rules.panel_quorum(Fraction(2, 3), 3) == 2


def test_publicity_length_bounded_by_profile() -> None:
    # Ordos art. 10: 不少于5个工作日 — longer allowed; Shanghai arts. 12–13: exactly 5.
    assert rules.publicity_days_in_range(inp("ORD", form=Approval(publicity_days=10))) == []
    assert [r.code for r in rules.publicity_days_in_range(inp("ORD", form=Approval(publicity_days=4)))] == [
        "publicity_days"]
    assert [r.code for r in rules.publicity_days_in_range(inp("SH", form=Approval(publicity_days=10)))] == [
        "publicity_days"]
    assert rules.publicity_days_in_range(inp("SH", form=Approval())) == []


def test_every_state_reachable_and_terminals_have_no_exit() -> None:
    for code in REGISTERING:
        spec = procedure("project_registration", code)
        reached, frontier = {spec.initial}, [spec.initial]
        while frontier:
            s = frontier.pop()
            for t in spec.available(s):
                nxt = t.dest or s
                if nxt not in reached:
                    reached.add(nxt)
                    frontier.append(nxt)
        assert reached == {s.name for s in spec.states}, code
        for s in spec.states:
            assert bool(s.terminal) == (not spec.available(s.name)), (code, s.name)


def test_profiles_load_and_cite_their_seed() -> None:
    profiles = all_profiles()
    assert set(profiles) == {"SH", "BJ", "JX", "ORD", "SD"}
    assert {p.seed[:3] for p in profiles.values()} == {"000", "001", "002", "003", "004"}
    assert profiles["ORD"].registration.publicity_days_max > 5


def test_diagram_is_drawn_from_the_live_machine() -> None:
    text = mermaid("project_registration", "BJ", "publicity")
    assert text.startswith("---") and "stateDiagram-v2" in text
    assert "submitted --> disclosed: disclose" in text
    assert "Class publicity s_active" in text
    assert "disclosed" not in mermaid("project_registration", "SH")


def test_superseded_methodology_usable_only_within_grace() -> None:
    def superseded(until: date) -> FakeFacts:
        return FakeFacts(methodology_=MethodologyFacts("M", "1.0", "SH", "project", None, "superseded",
                                                       grace_until=until, current_version="2.0"))

    assert rules.methodology_usable(inp("SH", facts=superseded(date(2026, 3, 2)))) == []  # last day of grace
    (late,) = rules.methodology_usable(inp("SH", facts=superseded(date(2026, 3, 1))))
    assert late.code == "methodology_superseded" and "2.0" in late.zh and "cite 2.0" in late.en
