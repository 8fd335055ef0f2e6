"""scenario_issuance 场景减排量签发 — one scenario and one closed period, opened by the periodic campaign
with the period's digital verification report attached.

    digital verification (Ordos art. 15):   technical_review ─pass_review→ authority_decision ─approve→ issued
    otherwise (Shanghai art. 15):           commissioning ─commission_verifier→ verification ─verify_report→
                                            technical_review …;  verification ─decline_verification→ commissioning
    technical_review ─fail_review→ rejected;  authority_decision ─reject→ rejected

`issued` mints the block (whole tonnes of what users are eligible for) into the scenario enterprise's
holding account on the users' behalf (Ordos arts. 12, 16: 场景减排量归属个人, 由场景运营主体代为持有),
records each user's allocation (states/scenarios.allocate; what is under a tonne carries into the next
period per user) and puts the allocation's Merkle root on the ledger entry, hence in the signed log.
"""

from __future__ import annotations

from dataclasses import replace

from forms.common import Empty
from forms.registration import Approval
from forms.scenarios import ReportVerification, VerifierChoice
from states import rules, stages
from states.effects import AddressVerifier, CommissionVerifier, IssueToUsers, RecordForm
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import TaskSpec

NAME = "scenario_issuance"
ISSUED = "issued"
APPLICATION = Empty  # the campaign opens the case (services/procedures/scenarios/issuance.py)
OPENED_BY: OpenedBy = "system"


def _third_party() -> stages.Stage:
    """Where scenarios are not verified digitally, the centre commissions a filed verifier (Shanghai art. 15:
    由市减污降碳中心组织技术服务机构核证) who verifies the period's report."""
    states = (
        StateSpec("commissioning", "run", notify=("queue",),
                  tasks=(TaskSpec("commission_verifier", "case_officer", ("commission_verifier",),
                                  sla="completeness_check"),)),
        StateSpec("verification", "pause", on_enter=(AddressVerifier(),),
                  tasks=(TaskSpec("verification", "verifier", ("verify_report", "decline_verification"),
                                  sla="verification"),)),
    )
    arrows = (
        TransitionSpec("commission_verifier", ("commissioning",), "verification", ("case_officer",), VerifierChoice,
                       rules=(rules.verifier_filed,), effects=(CommissionVerifier(),)),
        TransitionSpec("verify_report", ("verification",), "technical_review", ("verifier",), ReportVerification,
                       rules=(rules.verified_by_the_commissioned_verifier,), effects=(RecordForm("verification"),)),
        TransitionSpec("decline_verification", ("verification",), "commissioning", ("verifier",),
                       ReportVerification, rules=(rules.verified_by_the_commissioned_verifier,)),
    )
    return states, arrows


def build(profile: Profile) -> ProcedureSpec:
    digital = profile.scenarios.digital_verification
    states, arrows = stages.compose(
        *([] if digital else [_third_party()]),
        stages.review(passed="authority_decision"),
        stages.decision(approved=ISSUED, form=Approval, effects=(RecordForm("decision"),)),
    )
    states += (StateSpec("rejected", "stop", terminal=True, notify=("applicant",)),
               StateSpec(ISSUED, "stop", terminal=True, on_enter=(IssueToUsers(),), notify=("queue",)),)
    # a suspended scenario (a rectification runs, e.g. Ordos art. 11) issues nothing until it resumes
    arrows = tuple(replace(a, rules=(*a.rules, rules.project_not_suspended)) for a in arrows)
    return ProcedureSpec(NAME, "technical_review" if digital else "commissioning", states, arrows,
                         application=APPLICATION, opened_by=OPENED_BY)
