"""project_registration 项目/场景登记 — the whole procedure, per jurisdiction profile.

    draft ─submit→ submitted ─accept→ technical_review ─pass_review→ expert_review ─panel_pass→
    authority_decision ─approve→ publicity ─(timer publicity_end)→ registered | objection_review

Seeds: Shanghai arts. 12–14; Beijing 编制说明 3 第三章 and 4(一)(二); Ordos arts. 9–10, 17;
Shandong 五、第三章. Jiaxing has no separate registration (arts. 14–17): `build` refuses it.
"""

from __future__ import annotations

from forms.common import Note
from forms.registration import ApplicationEdit, ProjectApplication
from states import rules, stages
from states.effects import CreateSubject, DiscloseSubject, OpenFirstIssuance, RegisterSubject
from states.profiles import Profile
from states.spec import CaseView, OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import Joint, TaskSpec

NAME = "project_registration"
APPLICATION = ProjectApplication  # the form that opens a case
OPENED_BY: OpenedBy = "applicant"


def _joint_review(case: CaseView, profile: Profile) -> bool:
    # Shanghai art. 13: a scenario is assessed by the centre together with the exchange.
    return profile.registration.scenario_joint_review and case.subject_kind == "scenario"


REVIEW_TASKS = (
    stages.TECHNICAL_REVIEW,
    TaskSpec("technical_review", "operator", ("pass_review", "fail_review"), sla="technical_review",
             joint=Joint(moves_on="pass_review"), when=_joint_review),
)


def build(profile: Profile) -> ProcedureSpec:
    reg = profile.registration
    if not reg.separate:
        raise LookupError(f"{profile.code} has no separate project registration")
    classes = bool(reg.project_classes)  # Beijing: class 1 registered, class 2 only disclosed
    # Jiaxing art. 12 (area) and Ordos arts. 5 and 9 (standard priority at adoption, running first) ask
    # nothing where the profile does not say so
    subject_rules = (rules.not_registered_elsewhere, rules.project_class_fits, rules.methodology_usable,
                     rules.first_issuance_allowed, rules.location_in_area, rules.subject_running,
                     rules.highest_standard_adopted)

    states, arrows = stages.compose(
        stages.intake(edit_form=ApplicationEdit, edit_rules=(rules.methodology_chosen,),
                      submit_rules=(rules.commitments_given, rules.documents_attached, *subject_rules),
                      resubmit_rules=subject_rules, accepted="technical_review",
                      accept_rules=(rules.registrable_class,) if classes else ()),
        stages.review(passed="expert_review", tasks=REVIEW_TASKS),
        stages.panel(passed="authority_decision", resubmit_rules=subject_rules),
        stages.decision(approved="publicity"),
        stages.publicity(done="registered"),
        stages.endings(),
    )
    states += (StateSpec("registered", "stop", terminal=True, subject_status="registered",
                         on_enter=(RegisterSubject(), OpenFirstIssuance()), notify=("applicant",)),)
    if classes:
        states += (StateSpec("disclosed", "stop", terminal=True, subject_status="disclosed",
                             on_enter=(DiscloseSubject(),), notify=("applicant",)),)
        arrows += (TransitionSpec("disclose", ("submitted",), "disclosed", stages.OFFICER, Note,
                                  rules=(rules.disclosable_class,)),)
    return ProcedureSpec(NAME, "draft", states, arrows, application=APPLICATION, opening=(CreateSubject(),),
                         opening_rules=(rules.methodology_chosen,),
                         tracks_subject=True)
