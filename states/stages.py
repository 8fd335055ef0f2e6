"""Stages several procedures share, declared once: the expert panel.

The panel runs inside one state (e.g. `expert_review`): a case officer composes it (manual
alternative to the orchestration issue's draw), each member records an opinion, the chair records
the conclusion, which moves the case.
"""

from __future__ import annotations

from forms.registration import ExpertOpinion, PanelComposition, PanelConclusion
from states import rules
from states.spec import TaskSpec, TransitionSpec

COMPOSE_PANEL = TaskSpec("compose_panel", "case_officer", ("compose_panel",), sla="compose_panel")
# One per member, addressed to that expert by the `convene_panel` effect.
EXPERT_OPINION = TaskSpec("expert_opinion", "expert", ("record_opinion",), sla="expert_opinion")
PANEL_CONCLUSION = TaskSpec(
    "panel_conclusion", "expert", ("panel_pass", "panel_revise", "panel_reject"), sla="panel_conclusion"
)
PANEL_TASKS = {t.kind: t for t in (COMPOSE_PANEL, EXPERT_OPINION, PANEL_CONCLUSION)}


def panel_transitions(review: str, *, passed: str, revise: str, rejected: str) -> tuple[TransitionSpec, ...]:
    return (
        TransitionSpec(
            "compose_panel", (review,), None, ("case_officer",), PanelComposition,
            rules=(rules.panel_composition_valid,), effects=("compose_panel",),
        ),
        TransitionSpec(
            "record_opinion", (review,), None, ("expert",), ExpertOpinion,
            rules=(rules.is_panel_member_without_opinion,), effects=("record_opinion",),
        ),
        TransitionSpec("panel_pass", (review,), passed, ("expert",), PanelConclusion,
                       rules=(rules.chair_with_quorum,)),
        TransitionSpec("panel_revise", (review,), revise, ("expert",), PanelConclusion,
                       rules=(rules.chair_with_quorum,)),
        TransitionSpec("panel_reject", (review,), rejected, ("expert",), PanelConclusion,
                       rules=(rules.chair_with_quorum,)),
    )
