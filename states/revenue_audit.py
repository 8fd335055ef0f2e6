"""revenue_audit 收益使用审计 (Beijing 编制说明 4(二)): each year a class-1 project files an audit of how
it used the proceeds; at least 90% of the proceeds after costs must go back to participating users.

    open ─file_audit→ filed (≥ 90%) | below_threshold (< 90%: a rectification opens)
    open ─(deadline passed)→ missed (a rectification opens)
"""

from __future__ import annotations

from forms.common import Empty
from forms.supervision import RevenueAuditReport
from states import rules
from states.effects import RecordAudit, RectifyRevenue
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import AnnualDate, TaskSpec, TimerSpec

NAME = "revenue_audit"
APPLICATION = Empty  # the form that opens a case
OPENED_BY: OpenedBy = "system"
# The year's audit report is due on the profile's day of the following year (Beijing 编制说明 4(二))
REPORT_DUE = AnnualDate(lambda p: p.revenue_audit.due)


def build(profile: Profile) -> ProcedureSpec:
    if not profile.revenue_audit.enabled:
        raise LookupError(f"{profile.code} has no revenue audits")
    states = (
        StateSpec("open", "stop", notify=("applicant",),
                  tasks=(TaskSpec("revenue_report", "applicant", ("file_audit",), due=REPORT_DUE),),
                  timers=(TimerSpec("audit_deadline", "audit_deadline", REPORT_DUE),)),
        StateSpec("filed", "stop", terminal=True),
        StateSpec("below_threshold", "stop", terminal=True, on_enter=(RectifyRevenue(),), notify=("applicant",)),
        StateSpec("missed", "stop", terminal=True, on_enter=(RectifyRevenue(),), notify=("applicant",)),
    )
    arrows = (
        TransitionSpec("file_audit", ("open",), "filed", ("applicant",), RevenueAuditReport,
                       rules=(rules.audit_report_attached,), when=rules.share_returned_enough,
                       effects=(RecordAudit(),), owner_only=True),
        TransitionSpec("file_audit", ("open",), "below_threshold", ("applicant",), RevenueAuditReport,
                       rules=(rules.audit_report_attached,), when=lambda inp: not rules.share_returned_enough(inp),
                       effects=(RecordAudit(),), owner_only=True),
        TransitionSpec("audit_deadline", ("open",), "missed", ("system",), Empty),
    )
    return ProcedureSpec(NAME, "open", states, arrows, application=APPLICATION, opened_by=OPENED_BY)
