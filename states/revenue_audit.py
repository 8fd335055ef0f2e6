"""revenue_audit 收益使用审计 (Beijing 编制说明 4(二)): each year a class-1 project files an audit of how
it used the proceeds; at least 90% of the proceeds after costs must go back to participating users.

    open ─file_audit→ filed (≥ 90%) | below_threshold (< 90%: a rectification opens)
    open ─(deadline passed)→ missed (a rectification opens)
"""

from __future__ import annotations

from forms.common import Empty
from forms.supervision import RevenueAuditReport
from states import rules
from states.profiles import Profile
from states.spec import ProcedureSpec, StateSpec, TaskSpec, TransitionSpec

NAME = "revenue_audit"


def build(profile: Profile) -> ProcedureSpec:
    if not profile.revenue_audit.enabled:
        raise LookupError(f"{profile.code} has no revenue audits")
    states = (
        StateSpec("open", "stop", on_enter=("arm_audit_deadline",), notify=("applicant",),
                  tasks=(TaskSpec("revenue_report", "applicant", ("file_audit",)),)),
        StateSpec("filed", "stop", terminal=True),
        StateSpec("below_threshold", "stop", terminal=True, on_enter=("rectify_revenue",), notify=("applicant",)),
        StateSpec("missed", "stop", terminal=True, on_enter=("rectify_revenue",), notify=("applicant",)),
    )
    arrows = (
        TransitionSpec("file_audit", ("open",), "filed", ("applicant",), RevenueAuditReport,
                       rules=(rules.audit_report_attached,), when=rules.share_returned_enough,
                       effects=("record_audit",)),
        TransitionSpec("file_audit", ("open",), "below_threshold", ("applicant",), RevenueAuditReport,
                       rules=(rules.audit_report_attached,), when=lambda inp: not rules.share_returned_enough(inp),
                       effects=("record_audit",)),
        TransitionSpec("audit_deadline", ("open",), "missed", ("system",), Empty),
    )
    return ProcedureSpec(NAME, "open", states, arrows, application=Empty)
