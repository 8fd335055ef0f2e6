"""issuance 减排量签发 — the whole procedure, per jurisdiction profile.

    open ─submit_monitoring_report→ verification ─verify→ submitted ─accept→ technical_review
    ─pass_review→ [expert_review ─panel_pass→] authority_decision ─approve→ [publicity ─(timer)→] issued
    any state before issued ─hold→ on_hold ─release→ back where it was;  open ─(window closes)→ expired

Seeds: Shanghai art. 15 (annual; technical service agency verifies; first issuance may ride with
registration); Beijing 编制说明 3 第四章 and 4(一) (annual with a deadline; class 2 never issued);
Jiaxing arts. 12–17 (owner commissions an independent verifier; centre → committee → authority →
publicity → filing; the first filing also files the project); Ordos arts. 12–17 (filed verifiers;
no CCER/VCS); Shandong 五、第三章 (review, registration, publicity).
"""

from __future__ import annotations

from dataclasses import replace

from forms.common import Empty
from forms.issuance import (
    HoldReason,
    IssuanceApplication,
    IssuanceApproval,
    MonitoringReport,
    Verification,
    VerificationDeclined,
)
from forms.registration import Withdrawal
from states import rules, stages
from states.effects import AddressVerifier, ForgetHold, LinkSubject, Mint, RecordForm, RegisterSubject, RememberHold
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import AnnualDate, FirstOf, TaskSpec, TimerSpec, WorkingDays

NAME = "issuance"
ISSUED = "issued"  # the state whose case holds its vintage and period for good
APPLICATION = IssuanceApplication  # the form that opens a case
OPENED_BY: OpenedBy = "applicant"
APPLICANT = ("applicant",)
# Annual profiles: the window of vintage Y closes on `window_closes` of year Y + 1 (Shanghai art. 15,
# Beijing 编制说明 第四章); the applicant's report is due then, and the case expires after it.
WINDOW_CLOSES = AnnualDate(lambda p: p.issuance.window_closes if p.issuance.window == "annual" else None)


def build(profile: Profile) -> ProcedureSpec:
    iss = profile.issuance
    after_review = "expert_review" if iss.expert_review else "authority_decision"
    after_decision = "publicity" if iss.publicity else "issued"
    states, arrows = stages.compose(
        ((StateSpec("open", "stop", notify=("applicant",),
                    tasks=(TaskSpec("monitoring_report", "applicant", ("submit_monitoring_report",),
                                    sla="monitoring_report",
                                    due=FirstOf((WINDOW_CLOSES, WorkingDays("monitoring_report")))),),
                    timers=(TimerSpec("application_window", "expire", WINDOW_CLOSES),)),
          # the verifier the applicant commissioned (AddressVerifier names its firm)
          StateSpec("verification", "pause", on_enter=(AddressVerifier(),),
                    tasks=(TaskSpec("verification", "verifier", ("verify", "decline_verification"),
                                    sla="verification"),))),
         (TransitionSpec("submit_monitoring_report", ("open",), "verification", APPLICANT, MonitoringReport,
                         rules=(rules.monitoring_period_allowed, rules.verifier_accredited_and_independent,
                                rules.documents_attached, rules.declared_not_claimed_elsewhere),
                         effects=(RecordForm("report"),), owner_only=True),
          TransitionSpec("verify", ("verification",), "submitted", ("verifier",), Verification,
                         rules=(rules.verified_by_the_commissioned_verifier,), effects=(RecordForm("verification"),)),
          TransitionSpec("decline_verification", ("verification",), "open", ("verifier",), VerificationDeclined,
                         rules=(rules.verified_by_the_commissioned_verifier,)),
          TransitionSpec("expire", ("open",), "expired", ("system",), Empty, while_suspended=True))),
        stages.completeness(accepted="technical_review"),
        stages.review(passed=after_review),
        *([stages.panel(passed="authority_decision")] if iss.expert_review else []),
        stages.decision(approved=after_decision, form=IssuanceApproval, rules_=(rules.issued_within_verified,),
                        effects=(RecordForm("decision"),)),
        *([stages.publicity(done="issued")] if iss.publicity else []),
        stages.endings(),
    )
    # Jiaxing: the first filing registers the project (numbered first, so its serials carry the number)
    issued_effects = (Mint(),) if profile.registration.separate else (RegisterSubject(), Mint())
    states += (
        StateSpec(ISSUED, "stop", terminal=True, on_enter=issued_effects, notify=("applicant",)),
        StateSpec("expired", "stop", terminal=True, notify=("applicant",)),
        StateSpec("on_hold", "pause", notify=("applicant",)),
    )
    # A suspended project's cases wait on hold and come back where they were (issue: supervision).
    holdable = tuple(s.name for s in states if not s.terminal and s.name != "on_hold")
    arrows += (
        TransitionSpec("withdraw", ("open", "verification"), "withdrawn", APPLICANT, Withdrawal, owner_only=True,
                       while_suspended=True),
        TransitionSpec("hold", holdable, "on_hold", ("system", "case_officer"), HoldReason,
                       effects=(RememberHold(),), while_suspended=True),
        *(TransitionSpec("release", ("on_hold",), state, ("system", "case_officer"), HoldReason,
                         when=rules.returns_to(state), effects=(ForgetHold(),), while_suspended=True)
          for state in holdable),
    )
    # While the project is suspended no case advances (it waits on hold): every arrow that does not
    # declare `while_suspended` checks it.
    arrows = tuple(a if a.while_suspended else replace(a, rules=(*a.rules, rules.project_not_suspended))
                   for a in arrows)
    return ProcedureSpec(NAME, "open", states, arrows, application=APPLICATION,
                         opening_rules=(rules.project_issuable, rules.location_in_area), opening=(LinkSubject(),))
