"""methodology_filing as declared in each profile, and its rules; no database."""

from __future__ import annotations

from datetime import date

import pytest

from forms.methodology import CommentAnswer, MethodologyApplication
from states import rules
from states.machine import procedure, runner
from states.profiles import get_profile
from states.spec import CaseView, CommentFacts, MethodologyFacts, RuleInput
from tests.unit.test_project_registration import FakeFacts

ALL = ["SH", "BJ", "JX", "ORD", "SD"]


class Facts(FakeFacts):
    def __init__(self, versions=(), open_filings=0, covering=(), comments=None) -> None:
        super().__init__()
        self.versions = {(m.code, m.version): m for m in versions}
        self.filings, self.covering = open_filings, list(covering)
        self.comment_facts = CommentFacts((), ()) if comments is None else comments

    def methodology_version(self, code: str, version: str) -> MethodologyFacts | None:
        return self.versions.get((code, version))

    def open_filings(self, code: str, version: str) -> int:
        return self.filings

    def covering_standards(self, scope: str, tiers: tuple[str, ...]) -> list[MethodologyFacts]:
        return [m for m in self.covering if m.tier in tiers and m.scope == scope]

    def comments(self) -> CommentFacts:
        return self.comment_facts


def inp(code: str, facts: Facts | None = None, form=None, **app) -> RuleInput:
    application = {"code": "M-1", "version": "1.0", "kind": "project", "scope": "光伏", "tier": None, **app}
    case = CaseView(id=1, procedure="methodology_filing", jurisdiction=code, state="draft", subject_kind="project",
                    application=application)
    return RuleInput(case=case, form=form or MethodologyApplication.model_construct(), facts=facts or Facts(),
                     profile=get_profile(code), actor_id=1, today=date(2026, 3, 2))


def path(code: str) -> list[str]:
    """The happy path's states, following the arrows the declaration has."""
    spec = procedure("methodology_filing", code)
    order = ["draft"]
    for trigger in ("submit", "accept", "pass_review", "panel_pass"):
        order.append(spec.arrows(trigger, order[-1])[0].dest)
    if order[-1] == "public_comment":
        order.append("comment_disposition")
        order.append(spec.arrows("disposition_done", "comment_disposition")[0].dest)
    order.append(spec.arrows("approve", order[-1])[0].dest)
    if order[-1] == "publicity":
        order.append([a.dest for a in spec.arrows("publicity_end", "publicity") if a.dest != "objection_review"][0])
    return order


@pytest.mark.parametrize("code,expected", [
    ("SH", ["draft", "submitted", "technical_review", "expert_review", "public_comment", "comment_disposition",
            "authority_decision", "filed"]),                                     # Shanghai art. 11
    ("JX", ["draft", "submitted", "technical_review", "expert_review", "authority_decision", "publicity",
            "filed"]),                                                            # Jiaxing art. 10
    ("BJ", ["draft", "submitted", "technical_review", "expert_review", "authority_decision", "filed"]),
    ("ORD", ["draft", "submitted", "technical_review", "expert_review", "authority_decision", "filed"]),
    ("SD", ["draft", "submitted", "technical_review", "expert_review", "authority_decision", "filed"]),
])
def test_each_profile_has_its_stages(code: str, expected: list[str]) -> None:
    assert path(code) == expected


@pytest.mark.parametrize("code", ALL)
def test_every_arrow_moves_the_machine_where_declared(code: str) -> None:
    spec = procedure("methodology_filing", code)
    machine = runner("methodology_filing", code)
    for arrow in spec.transitions:
        for source in arrow.sources:
            assert machine.move(source, arrow) == (arrow.dest or source)
    shared = {"edit", "submit", "accept", "request_supplement", "resubmit", "lapse", "withdraw", "pass_review",
              "fail_review", "compose_panel", "record_opinion", "panel_pass", "panel_revise", "panel_reject",
              "approve", "reject"}
    assert shared <= set(spec.triggers)
    assert ("comment" in spec.triggers) == (code == "SH")
    assert ("lodge_objection" in spec.triggers) == (code == "JX")


def test_comment_period_end_branches_on_comments() -> None:
    spec = procedure("methodology_filing", "SH")
    arrows = spec.arrows("comment_period_end", "public_comment")
    none = Facts(comments=CommentFacts((), ()))
    some = Facts(comments=CommentFacts((4,), ()))
    assert [a.dest for a in arrows if a.when(inp("SH", none))] == ["authority_decision"]
    assert [a.dest for a in arrows if a.when(inp("SH", some))] == ["comment_disposition"]


def test_comment_answers_and_disposition() -> None:
    facts = Facts(comments=CommentFacts((4, 5), (4,)))
    ans = CommentAnswer(comment_id=4, answer="已答复", disposition="adopted")
    assert [r.code for r in rules.comment_open(inp("SH", facts, form=ans))] == ["comment_answered"]
    unknown = CommentAnswer(comment_id=9, answer="x", disposition="adopted")
    assert [r.code for r in rules.comment_open(inp("SH", facts, form=unknown))] == ["comment_unknown"]
    assert rules.comment_open(inp("SH", facts, form=CommentAnswer(comment_id=5, answer="x",
                                                                  disposition="not_adopted"))) == []
    (left,) = rules.every_comment_answered(inp("SH", facts))
    assert left.code == "comments_unanswered" and "5" in left.zh
    assert rules.every_comment_answered(inp("SH", Facts(comments=CommentFacts((4,), (4,))))) == []


@pytest.mark.parametrize("code,tier,ok", [
    ("SH", "class_I", True), ("SH", "class_II", True), ("SH", "level_1", False), ("SH", None, False),
    ("BJ", "level_2", True), ("ORD", "group", True), ("JX", None, True), ("JX", "class_I", False),
    ("SD", None, True),
])
def test_tiers_per_profile(code: str, tier: str | None, ok: bool) -> None:
    assert (rules.tier_fits(inp(code, tier=tier)) == []) is ok


def test_duplicates_and_revisions() -> None:
    filed = MethodologyFacts("M-1", "1.0", "SH", "project", None, "filed")
    superseded = MethodologyFacts("M-1", "0.9", "SH", "project", None, "superseded")
    facts = Facts(versions=[filed, superseded])
    assert [r.code for r in rules.version_is_new(inp("SH", facts))] == ["duplicate_version"]
    assert [r.code for r in rules.version_is_new(inp("SH", Facts(open_filings=1)))] == ["duplicate_version"]
    assert rules.version_is_new(inp("SH", facts, version="2.0")) == []
    assert rules.revises_a_filed_version(inp("SH", facts, version="2.0", revises="1.0")) == []
    assert [r.code for r in rules.revises_a_filed_version(inp("SH", facts, version="2.0", revises="0.9"))] == [
        "revision_not_filed"]
    assert [r.code for r in rules.revises_a_filed_version(inp("SH", facts, version="2.0", revises="3.0"))] == [
        "revision_not_filed"]
    assert [r.code for r in rules.revises_a_filed_version(inp("SH", facts, revises="1.0"))] == [
        "revision_same_version"]


def test_ordos_group_standard_yields_to_national_or_local() -> None:
    # Ordos art. 5: 国家标准 > 地方标准/方法学 > 团体标准
    national = MethodologyFacts("N-1", "1.0", "ORD", "project", "national", "filed", scope="光伏")
    local = MethodologyFacts("L-1", "1.0", "ORD", "project", "local", "filed", scope="光伏")
    other_scope = MethodologyFacts("N-2", "1.0", "ORD", "project", "national", "filed", scope="照明")
    facts = Facts(covering=[national, local, other_scope])
    refused = rules.no_higher_standard(inp("ORD", facts, tier="group"))
    assert [(r.code, r.params["code"]) for r in refused] == [("higher_standard", "N-1"), ("higher_standard", "L-1")]
    assert rules.no_higher_standard(inp("ORD", facts, tier="local")) == []
    assert rules.no_higher_standard(inp("ORD", facts, tier="group", scope="风电")) == []
    assert rules.no_higher_standard(inp("SH", facts, tier="class_II")) == []  # no priority elsewhere
