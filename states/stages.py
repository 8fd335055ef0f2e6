"""Stages the approval procedures share, declared once (PROCESSES.md: "supplement, revise, withdraw
as above"). Each function returns the states and arrows of one stage; a procedure file composes
them in order, so its whole shape still reads top to bottom in one place.

    intake      draft ─submit→ submitted ─accept→ <review>; supplement loop with its deadline; withdraw
    review      technical_review ─pass_review→ <next> | ─fail_review→ rejected  (AND-join when joint)
    panel       expert_review: draw_panel | compose_panel, record_opinion | decline_panel,
                panel_pass | panel_revise | panel_reject
    decision    authority_decision ─approve→ <next> | ─reject→ rejected
    publicity   publicity ─(timer)→ <done> | objection_review; objections by the public
    endings     rejected, withdrawn, lapsed
"""

from __future__ import annotations

from pydantic import BaseModel

from forms.common import Empty, Note
from forms.registration import (
    Approval,
    ExpertOpinion,
    Objection,
    ObjectionDismissal,
    ObjectionUpheld,
    PanelComposition,
    PanelConclusion,
    PanelDecline,
    Rejection,
    Resubmission,
    ReviewOpinion,
    Submission,
    SupplementRequest,
    Withdrawal,
)
from states import rules
from states.effects import (
    ApplyEdit,
    CloseNotice,
    ComposePanel,
    ConvenePanel,
    DeclinePanel,
    DrawPanel,
    Effect,
    PublishNotice,
    RecordObjection,
    RecordOpinion,
    RecordSubmission,
    RectifyObjection,
    SettleObjections,
)
from states.spec import Rule, StateSpec, TransitionSpec
from states.tasks import Joint, TaskSpec, TimerSpec, WorkingDays, WorkingDaysAfter

Stage = tuple[tuple[StateSpec, ...], tuple[TransitionSpec, ...]]
APPLICANT = ("applicant",)
OFFICER = ("case_officer",)
REVIEWERS = ("review_centre", "operator")

COMPOSE_PANEL = TaskSpec("compose_panel", "case_officer", ("compose_panel",), sla="compose_panel")
# One per member, addressed to that expert as the panel is seated; declining ends it too.
EXPERT_OPINION = TaskSpec("expert_opinion", "expert", ("record_opinion", "decline_panel"), sla="expert_opinion")
# The chair concludes on the members' opinions: due once theirs are, plus the conclusion's own days.
PANEL_CONCLUSION = TaskSpec(
    "panel_conclusion", "expert", ("panel_pass", "panel_revise", "panel_reject"), sla="panel_conclusion",
    due=WorkingDaysAfter("panel_conclusion", after=("expert_opinion",)),
)
CONVENE_PANEL = ConvenePanel(compose=COMPOSE_PANEL, opinion=EXPERT_OPINION, conclusion=PANEL_CONCLUSION)
OBJECTION_REVIEW = TaskSpec("objection_review", "case_officer", ("dismiss_objections", "uphold_objection"),
                            sla="objection_review")
TECHNICAL_REVIEW = TaskSpec("technical_review", "review_centre", ("pass_review", "fail_review"),
                            sla="technical_review", joint=Joint(moves_on="pass_review"))


def intake(*, edit_form: type[BaseModel], submit_rules: tuple[Rule, ...], resubmit_rules: tuple[Rule, ...],
           accepted: str, accept_rules: tuple[Rule, ...] = (), edit_rules: tuple[Rule, ...] = ()) -> Stage:
    states = (StateSpec("draft", "stop", subject_status="draft"),)
    arrows = (
        TransitionSpec("edit", ("draft", "supplement_requested", "revision_requested"), None, APPLICANT,
                       edit_form, rules=edit_rules, effects=(ApplyEdit(),), owner_only=True),
        TransitionSpec("submit", ("draft",), "submitted", APPLICANT, Submission, rules=submit_rules,
                       effects=(RecordSubmission(),), owner_only=True),
        TransitionSpec("withdraw", ("draft", "submitted", "supplement_requested", "technical_review"),
                       "withdrawn", APPLICANT, Withdrawal, owner_only=True),
    )
    return compose((states, arrows), completeness(accepted=accepted, accept_rules=accept_rules,
                                                  resubmit_rules=resubmit_rules))


def completeness(*, accepted: str, resubmit_rules: tuple[Rule, ...] = (), accept_rules: tuple[Rule, ...] = ()
                 ) -> Stage:
    """The completeness check with its supplement loop and deadline (lapse)."""
    states = (
        StateSpec(
            "submitted", "run", subject_status="under_review", notify=("queue",),
            tasks=(TaskSpec("completeness_check", "case_officer", ("accept", "request_supplement"),
                            sla="completeness_check"),),
        ),
        StateSpec(
            "supplement_requested", "pause", subject_status="under_review", notify=("applicant",),
            tasks=(TaskSpec("supplement", "applicant", ("resubmit",), sla="supplement"),),
            timers=(TimerSpec("supplement_deadline", "lapse", WorkingDays("supplement")),),
        ),
    )
    arrows = (
        TransitionSpec("accept", ("submitted",), accepted, OFFICER, Note, rules=accept_rules),
        TransitionSpec("request_supplement", ("submitted",), "supplement_requested", OFFICER, SupplementRequest),
        TransitionSpec("resubmit", ("supplement_requested",), "submitted", APPLICANT, Resubmission,
                       rules=resubmit_rules, effects=(ApplyEdit(),), owner_only=True),
        TransitionSpec("lapse", ("supplement_requested",), "lapsed", ("system",), Empty),
    )
    return states, arrows


def review(*, passed: str, tasks: tuple[TaskSpec, ...] | None = None) -> Stage:
    tasks = tasks or (TECHNICAL_REVIEW,)
    states = (StateSpec("technical_review", "run", subject_status="under_review", notify=("queue",), tasks=tasks),)
    arrows = (
        TransitionSpec("pass_review", ("technical_review",), passed, REVIEWERS, ReviewOpinion),
        TransitionSpec("fail_review", ("technical_review",), "rejected", REVIEWERS, ReviewOpinion),
    )
    return states, arrows


def panel(*, passed: str, resubmit_rules: tuple[Rule, ...] = ()) -> Stage:
    """The case officer composes the panel (manual alternative to a drawn panel), each member records
    an opinion, the chair concludes. A negative conclusion goes to the approver with the panel's
    opinion on file; a revision comes back to the same panel."""
    states = (
        StateSpec("expert_review", "pause", subject_status="under_review", on_enter=(CONVENE_PANEL,)),
        StateSpec(
            "revision_requested", "pause", subject_status="under_review", notify=("applicant",),
            tasks=(TaskSpec("revise", "applicant", ("resubmit",), sla="revise"),),
        ),
    )
    conclude = (rules.chair_with_quorum,)
    arrows = (
        TransitionSpec("compose_panel", ("expert_review",), None, OFFICER, PanelComposition,
                       rules=(rules.panel_composition_valid,), effects=(ComposePanel(),)),
        # the orchestration's random draw (services/procedures/panels.py), fired by the dispatcher as `system`
        TransitionSpec("draw_panel", ("expert_review",), None, ("system",), Empty,
                       rules=(rules.no_panel_yet,), effects=(DrawPanel(),)),
        TransitionSpec("record_opinion", ("expert_review",), None, ("expert",), ExpertOpinion,
                       rules=(rules.is_panel_member_without_opinion,), effects=(RecordOpinion(),)),
        TransitionSpec("decline_panel", ("expert_review",), None, ("expert",), PanelDecline,
                       rules=(rules.is_panel_member_without_opinion,), effects=(DeclinePanel(),)),
        TransitionSpec("panel_pass", ("expert_review",), passed, ("expert",), PanelConclusion, rules=conclude),
        TransitionSpec("panel_revise", ("expert_review",), "revision_requested", ("expert",), PanelConclusion,
                       rules=conclude),
        TransitionSpec("panel_reject", ("expert_review",), "authority_decision", ("expert",), PanelConclusion,
                       rules=conclude),
        TransitionSpec("resubmit", ("revision_requested",), "expert_review", APPLICANT, Resubmission,
                       rules=resubmit_rules, effects=(ApplyEdit(),), owner_only=True),
    )
    return states, arrows


def decision(*, approved: str, form: type[BaseModel] = Approval, rules_: tuple[Rule, ...] = (),
             effects: tuple[Effect, ...] = ()) -> Stage:
    states = (
        StateSpec(
            "authority_decision", "run", subject_status="under_review", notify=("queue",),
            tasks=(TaskSpec("authority_decision", "approver", ("approve", "reject"), sla="authority_decision"),),
        ),
    )
    arrows = (
        TransitionSpec("approve", ("authority_decision",), approved, ("approver",), form,
                       rules=(*rules_, rules.publicity_days_in_range), effects=effects),
        TransitionSpec("reject", ("authority_decision",), "rejected", ("approver",), Rejection),
    )
    return states, arrows


def publicity(*, done: str) -> Stage:
    """N working days of publicity (profile); the public may object, which opens the objection review at
    once; the end fires from the notice's timer. An upheld objection sends the case back to technical
    review or rejects it."""
    states = (
        StateSpec("publicity", "pause", subject_status="in_publicity",
                  on_enter=(PublishNotice("publicity", end_trigger="publicity_end"),),
                  on_exit=(CloseNotice("publicity"),), notify=("applicant",)),
        StateSpec("objection_review", "run", subject_status="in_publicity", tasks=(OBJECTION_REVIEW,)),
    )
    arrows = (
        TransitionSpec("lodge_objection", ("publicity",), None, ("public",), Objection,
                       effects=(RecordObjection(),), opens=(OBJECTION_REVIEW,), while_suspended=True),
        TransitionSpec("publicity_end", ("publicity",), done, ("system",), Empty, when=rules.no_open_objection),
        TransitionSpec("publicity_end", ("publicity",), "objection_review", ("system",), Empty,
                       when=rules.objection_open),
        # During publicity an officer may settle objections early; the timer then ends the period.
        TransitionSpec("dismiss_objections", ("publicity",), None, OFFICER, ObjectionDismissal,
                       rules=(rules.has_open_objection,), effects=(SettleObjections("dismissed"),)),
        TransitionSpec("dismiss_objections", ("objection_review",), done, OFFICER, ObjectionDismissal,
                       effects=(SettleObjections("dismissed"),)),
        TransitionSpec("uphold_objection", ("publicity", "objection_review"), "technical_review", OFFICER,
                       ObjectionUpheld, rules=(rules.has_open_objection,),
                       when=rules.form_says("outcome", "re_review"), effects=(SettleObjections("upheld"),)),
        TransitionSpec("uphold_objection", ("publicity", "objection_review"), "rejected", OFFICER,
                       ObjectionUpheld, rules=(rules.has_open_objection,),
                       when=rules.form_says("outcome", "reject"), effects=(SettleObjections("upheld"),)),
        TransitionSpec("uphold_objection", ("publicity", "objection_review"), "rejected", OFFICER,
                       ObjectionUpheld, rules=(rules.has_open_objection, rules.project_registered),
                       when=rules.form_says("outcome", "rectify"),
                       effects=(SettleObjections("upheld"), RectifyObjection())),
    )
    return states, arrows


def endings() -> Stage:
    states = (
        StateSpec("rejected", "stop", terminal=True, subject_status="rejected", notify=("applicant",)),
        StateSpec("withdrawn", "stop", terminal=True, subject_status="withdrawn"),
        StateSpec("lapsed", "stop", terminal=True, subject_status="lapsed", notify=("applicant",)),
    )
    return states, ()


def compose(*stages: Stage) -> Stage:
    return (tuple(s for st, _ in stages for s in st), tuple(a for _, arrows in stages for a in arrows))
