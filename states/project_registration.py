"""project_registration 项目/场景登记 — the whole procedure, per jurisdiction profile.

    draft ─submit→ submitted ─accept→ technical_review ─pass_review→ expert_review ─panel_pass→
    authority_decision ─approve→ publicity ─(timer publicity_end)→ registered | objection_review

Seeds: Shanghai arts. 12–14; Beijing 编制说明 3 第三章 and 4(一)(二); Ordos arts. 9–10, 17;
Shandong 五、第三章. Jiaxing has no separate registration (arts. 14–17): `build` refuses it.
"""

from __future__ import annotations

from forms.common import Empty, Note
from forms.registration import (
    ApplicationEdit,
    Approval,
    Objection,
    ObjectionDismissal,
    ObjectionUpheld,
    Rejection,
    Resubmission,
    ReviewOpinion,
    Submission,
    SupplementRequest,
    Withdrawal,
)
from states import rules
from states.profiles import Profile
from states.spec import CaseView, ProcedureSpec, StateSpec, TaskSpec, TimerSpec, TransitionSpec
from states.stages import panel_transitions

NAME = "project_registration"

APPLICANT = ("applicant",)
OFFICER = ("case_officer",)


def _joint_review(case: CaseView, profile: Profile) -> bool:
    # Shanghai art. 13: a scenario is assessed by the centre together with the exchange.
    return profile.registration.scenario_joint_review and case.subject_kind == "scenario"


def build(profile: Profile) -> ProcedureSpec:
    reg = profile.registration
    if not reg.separate:
        raise LookupError(f"{profile.code} has no separate project registration")
    classes = bool(reg.project_classes)

    states = (
        StateSpec("draft", "stop", subject_status="draft"),
        StateSpec(
            "submitted", "run", subject_status="under_review", notify=("queue",),
            tasks=(TaskSpec("completeness_check", "case_officer", ("accept", "request_supplement"),
                            sla="completeness_check"),),
        ),
        StateSpec(
            "supplement_requested", "pause", subject_status="under_review", notify=("applicant",),
            tasks=(TaskSpec("supplement", "applicant", ("resubmit",), sla="supplement"),),
            timers=(TimerSpec("supplement_deadline", "lapse", days="supplement"),),
        ),
        StateSpec(
            "technical_review", "run", subject_status="under_review", notify=("queue",),
            tasks=(
                TaskSpec("technical_review", "review_centre", ("pass_review", "fail_review"),
                         sla="technical_review", join=True),
                TaskSpec("technical_review", "operator", ("pass_review", "fail_review"),
                         sla="technical_review", join=True, when=_joint_review),
            ),
        ),
        StateSpec("expert_review", "pause", subject_status="under_review", on_enter=("convene_panel",)),
        StateSpec(
            "revision_requested", "pause", subject_status="under_review", notify=("applicant",),
            tasks=(TaskSpec("revise", "applicant", ("resubmit",), sla="revise"),),
        ),
        StateSpec(
            "authority_decision", "run", subject_status="under_review", notify=("queue",),
            tasks=(TaskSpec("authority_decision", "approver", ("approve", "reject"), sla="authority_decision"),),
        ),
        # The timer is set by `publish_notice`: its moment comes from the publicity period, not an SLA.
        StateSpec("publicity", "pause", subject_status="in_publicity", on_enter=("publish_notice",),
                  on_exit=("close_notice",), notify=("applicant",)),
        StateSpec(
            "objection_review", "run", subject_status="in_publicity",
            tasks=(TaskSpec("objection_review", "case_officer", ("dismiss_objections", "uphold_objection"),
                            sla="objection_review"),),
        ),
        StateSpec("registered", "stop", terminal=True, subject_status="registered",
                  on_enter=("register_subject",), notify=("applicant",)),
        StateSpec("rejected", "stop", terminal=True, subject_status="rejected", notify=("applicant",)),
        StateSpec("withdrawn", "stop", terminal=True, subject_status="withdrawn"),
        StateSpec("lapsed", "stop", terminal=True, subject_status="lapsed", notify=("applicant",)),
        *([StateSpec("disclosed", "stop", terminal=True, subject_status="disclosed",
                     on_enter=("disclose_subject",), notify=("applicant",))] if classes else []),
    )

    submit_rules = (rules.commitments_given, rules.not_registered_elsewhere, rules.project_class_fits,
                    rules.methodology_usable)
    transitions = (
        TransitionSpec("edit", ("draft", "supplement_requested", "revision_requested"), None, APPLICANT,
                       ApplicationEdit, effects=("apply_edit",)),
        TransitionSpec("submit", ("draft",), "submitted", APPLICANT, Submission, rules=submit_rules,
                       effects=("record_submission",)),
        TransitionSpec("accept", ("submitted",), "technical_review", OFFICER, Note,
                       rules=(rules.registrable_class,) if classes else ()),
        TransitionSpec("request_supplement", ("submitted",), "supplement_requested", OFFICER, SupplementRequest),
        TransitionSpec("resubmit", ("supplement_requested",), "submitted", APPLICANT, Resubmission,
                       rules=(rules.not_registered_elsewhere, rules.project_class_fits, rules.methodology_usable),
                       effects=("apply_edit",)),
        TransitionSpec("lapse", ("supplement_requested",), "lapsed", ("system",), Empty),
        TransitionSpec("pass_review", ("technical_review",), "expert_review", ("review_centre", "operator"),
                       ReviewOpinion),
        TransitionSpec("fail_review", ("technical_review",), "rejected", ("review_centre", "operator"),
                       ReviewOpinion),
        *panel_transitions("expert_review", passed="authority_decision", revise="revision_requested",
                           # The approver decides with the panel's negative opinion on file.
                           rejected="authority_decision"),
        TransitionSpec("resubmit", ("revision_requested",), "expert_review", APPLICANT, Resubmission,
                       rules=(rules.not_registered_elsewhere, rules.methodology_usable),
                       effects=("apply_edit",)),
        TransitionSpec("approve", ("authority_decision",), "publicity", ("approver",), Approval,
                       rules=(rules.publicity_days_in_range,)),
        TransitionSpec("reject", ("authority_decision",), "rejected", ("approver",), Rejection),
        TransitionSpec("lodge_objection", ("publicity",), None, ("public",), Objection,
                       effects=("record_objection",)),
        TransitionSpec("publicity_end", ("publicity",), "registered", ("system",), Empty,
                       when=rules.no_open_objection),
        TransitionSpec("publicity_end", ("publicity",), "objection_review", ("system",), Empty,
                       when=rules.objection_open),
        # During publicity an officer may settle objections early; the timer then registers the case.
        TransitionSpec("dismiss_objections", ("publicity",), None, OFFICER, ObjectionDismissal,
                       rules=(rules.has_open_objection,), effects=("dismiss_objections",)),
        TransitionSpec("dismiss_objections", ("objection_review",), "registered", OFFICER, ObjectionDismissal,
                       effects=("dismiss_objections",)),
        TransitionSpec("uphold_objection", ("publicity", "objection_review"), "technical_review", OFFICER,
                       ObjectionUpheld, rules=(rules.has_open_objection,),
                       when=lambda inp: inp.form.outcome == "re_review", effects=("uphold_objection",)),
        TransitionSpec("uphold_objection", ("publicity", "objection_review"), "rejected", OFFICER,
                       ObjectionUpheld, rules=(rules.has_open_objection,),
                       when=lambda inp: inp.form.outcome == "reject", effects=("uphold_objection",)),
        TransitionSpec("withdraw", ("draft", "submitted", "supplement_requested", "technical_review"),
                       "withdrawn", APPLICANT, Withdrawal),
        *([TransitionSpec("disclose", ("submitted",), "disclosed", OFFICER, Note,
                          rules=(rules.disclosable_class,))] if classes else []),
    )
    return ProcedureSpec(NAME, "draft", states, transitions)
