"""retirement 注销 — requested ─approve→ retired (serials retired for good, certificate) | ─reject→ rejected.

Seeds: Shanghai arts. 17–20 (uses, incl. ecological-damage compensation on a court or procuratorate
document; art. 17: only class-I reductions for the Shanghai ETS's allowance compliance); Jiaxing art. 21
(注销后的减排量不可重复使用); Ordos art. 23 (运营管理机构经审核后予以注销，并出示注销证明).
"""

from __future__ import annotations

from forms.common import Note
from forms.issuance import RetirementRequest
from forms.registration import Rejection, Withdrawal
from states import rules
from states.effects import RecordHolder, RetireUnits
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import TaskSpec

NAME = "retirement"
APPLICATION = RetirementRequest  # the form that opens a case
OPENED_BY: OpenedBy = "applicant"


def build(profile: Profile) -> ProcedureSpec:
    states = (
        StateSpec("requested", "run", notify=("queue",),
                  tasks=(TaskSpec("retirement_review", "operator", ("approve", "reject"), sla="retirement_review"),)),
        StateSpec("retired", "stop", terminal=True, on_enter=(RetireUnits(),), notify=("applicant",)),
        StateSpec("rejected", "stop", terminal=True, notify=("applicant",)),
        StateSpec("withdrawn", "stop", terminal=True),
    )
    arrows = (
        TransitionSpec("approve", ("requested",), "retired", ("operator",), Note,
                       rules=(rules.holder_not_disqualified, rules.enough_held, rules.units_not_frozen,
                              rules.compliance_use_allowed)),
        TransitionSpec("reject", ("requested",), "rejected", ("operator",), Rejection),
        TransitionSpec("withdraw", ("requested",), "withdrawn", ("applicant",), Withdrawal, owner_only=True),
    )
    return ProcedureSpec(NAME, "requested", states, arrows, application=APPLICATION,
                         opening_rules=(rules.enough_held, rules.units_not_frozen, rules.compliance_use_allowed),
                         opening=(RecordHolder(),))
