"""Rules (guards) as pure functions: each returns every reason it fails, never only the first."""

from __future__ import annotations

from fractions import Fraction
from math import ceil
from typing import Any

from states.messages import CATALOGUE, Reason, reason
from states.spec import RuleInput


def _app(inp: RuleInput) -> dict[str, Any]:
    return dict(inp.case.application)


# --- submission ---------------------------------------------------------------------------


def commitments_given(inp: RuleInput) -> list[Reason]:
    """Every commitment the profile requires is affirmed (Shanghai art. 14, Ordos art. 17, ...)."""
    given = getattr(inp.form, "commitments", {}) or {}
    missing = [c for c in inp.profile.registration.commitments if given.get(c) is not True]
    out = []
    for key in missing:
        zh, en = CATALOGUE[f"commitment.{key}"]
        out.append(reason("commitment_missing", field=f"commitments.{key}", label_zh=zh, label_en=en))
    return out


def not_registered_elsewhere(inp: RuleInput) -> list[Reason]:
    """No double registration: CCER, VCS or any other scheme (Ordos art. 17, Shanghai art. 14)."""
    return [
        reason("double_registration", field=f"other_schemes.{i}", scheme=o["scheme"], reference=o["reference"])
        for i, o in enumerate(_app(inp).get("other_schemes") or [])
    ]


def project_class_fits(inp: RuleInput) -> list[Reason]:
    """Beijing distinguishes class-1 and class-2 projects (编制说明 4(一)); nobody else does."""
    classes = inp.profile.registration.project_classes
    given = _app(inp).get("project_class")
    if classes and given is None:
        return [reason("class_required", field="project_class")]
    if not classes and given is not None:
        return [reason("class_not_in_profile", field="project_class")]
    return []


def methodology_usable(inp: RuleInput) -> list[Reason]:
    """The cited methodology is filed, of this jurisdiction and of the subject's kind."""
    app = _app(inp)
    ref = {"code": app.get("methodology_code"), "version": app.get("methodology_version")}
    m = inp.facts.methodology()
    if m is None:
        return [reason("methodology_unknown", field="methodology_code", **ref)]
    out = []
    if m.jurisdiction != inp.case.jurisdiction:
        out.append(reason("methodology_jurisdiction", field="methodology_code", **ref))
    if m.kind != inp.case.subject_kind:
        kinds = {"project": ("减排项目", "project"), "scenario": ("减排场景", "scenario")}
        zh, en = kinds.get(m.kind, (m.kind, m.kind))
        out.append(reason("methodology_kind", field="methodology_code", kind_zh=zh, kind_en=en, **ref))
    if m.status != "filed":
        out.append(reason("methodology_not_filed", field="methodology_version", status=m.status, **ref))
    # Beijing 编制说明 4(一): 根据一级方法学开发并经审核予以登记的项目为一类项目.
    if app.get("project_class") == 1 and m.tier not in (None, "level_1"):
        out.append(reason("methodology_tier", field="project_class"))
    return out


# --- Beijing classes at acceptance ---------------------------------------------------------


def registrable_class(inp: RuleInput) -> list[Reason]:
    """Only class-1 projects are reviewed for registration; class 2 is only disclosed."""
    if _app(inp).get("project_class") == 2:
        return [reason("class2_not_registered", field="project_class")]
    return []


def disclosable_class(inp: RuleInput) -> list[Reason]:
    if _app(inp).get("project_class") != 2:
        return [reason("class1_not_disclosed", field="project_class")]
    return []


# --- expert panel --------------------------------------------------------------------------


def panel_composition_valid(inp: RuleInput) -> list[Reason]:
    members: list[int] = list(inp.form.members)  # type: ignore[attr-defined]
    chair: int = inp.form.chair  # type: ignore[attr-defined]
    minimum = inp.profile.panel.min_size
    out = []
    if inp.facts.panel() is not None:
        out.append(reason("panel_already"))
    if len(set(members)) != len(members):
        out.append(reason("panel_duplicate", field="members"))
    if len(set(members)) < minimum or len(set(members)) % 2 == 0:
        out.append(reason("panel_size", field="members", min=minimum))
    if chair not in members:
        out.append(reason("panel_chair", field="chair"))
    out.extend(reason("panel_not_expert", field="members", user=u) for u in inp.facts.not_experts(members))
    return out


def is_panel_member_without_opinion(inp: RuleInput) -> list[Reason]:
    panel = inp.facts.panel()
    if panel is None:
        return [reason("panel_missing")]
    if inp.actor_id not in panel.members:
        return [reason("not_panel_member")]
    if inp.actor_id in panel.opinions:
        return [reason("opinion_recorded")]
    return []


def panel_quorum(needed_share: Fraction, members: int) -> int:
    """Opinions needed: the profile's share of members, rounded up (default ⅔: 2 of 3, 4 of 5)."""
    return max(1, ceil(needed_share * members))


def chair_with_quorum(inp: RuleInput) -> list[Reason]:
    panel = inp.facts.panel()
    if panel is None:
        return [reason("panel_missing")]
    out = []
    if inp.actor_id != panel.chair:
        out.append(reason("not_panel_chair"))
    needed = panel_quorum(inp.profile.panel.quorum_share, len(panel.members))
    if len(panel.opinions) < needed:
        out.append(reason("quorum", given=len(panel.opinions), needed=needed))
    return out


# --- decision and publicity ----------------------------------------------------------------


def publicity_days_in_range(inp: RuleInput) -> list[Reason]:
    days = getattr(inp.form, "publicity_days", None)
    lo, hi = inp.profile.registration.publicity_days, inp.profile.registration.publicity_days_max
    if days is not None and not lo <= days <= hi:
        return [reason("publicity_days", field="publicity_days", min=lo, max=hi)]
    return []


def has_open_objection(inp: RuleInput) -> list[Reason]:
    return [] if inp.facts.open_objections() else [reason("no_open_objection")]


def no_open_objection(inp: RuleInput) -> bool:
    return inp.facts.open_objections() == 0


def objection_open(inp: RuleInput) -> bool:
    return inp.facts.open_objections() > 0
