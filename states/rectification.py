"""rectification 暂停与整改 — the whole procedure, per jurisdiction profile.

    opened ─issue_notice→ rectifying (project suspended; deadline timer) ─submit_report→ report_review
    report_review ─accept_report→ resumed | ─reject_report→ rectifying (new deadline, ≤ max rounds)
    rectifying ─(deadline passed)→ revoked | suspended (profile);  report_review ─revoke→ revoked

Seeds: Beijing 编制说明 4(二)(三) (suspend issuance, restore once rectified); Ordos art. 11 (track,
rectify, exit; correct reductions from anomalous data); Jiaxing art. 26 (false materials: deadline,
disqualification, claw-back, public notice); Shanghai art. 8; Shandong 五、第五章.
"""

from __future__ import annotations

from forms.common import Empty
from forms.supervision import RectificationNotice, RectificationReport, ReportReview, Revocation
from states import rules
from states.effects import RecordNotice, ResumeProject, RevokeProject, Suspend
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import LatestNoticeDays, TaskSpec, TimerSpec

NAME = "rectification"
APPLICATION = Empty  # the form that opens a case
OPENED_BY: OpenedBy = "system"
SUPERVISORS = ("case_officer", "operator")
# The notice sets the working days to rectify (the profile's default where it does not)
DEADLINE = LatestNoticeDays("deadline_days", lambda p: p.rectification.deadline_days)


def build(profile: Profile) -> ProcedureSpec:
    failed = "revoked" if profile.rectification.on_failure == "revoke" else "suspended"
    states = (
        StateSpec("opened", "stop", tasks=(TaskSpec("issue_notice", "case_officer", ("issue_notice",),
                                                    sla="issue_notice"),)),
        StateSpec("rectifying", "stop", on_enter=(Suspend(),), notify=("applicant",),
                  tasks=(TaskSpec("rectification_report", "applicant", ("submit_report",), due=DEADLINE),),
                  timers=(TimerSpec("rectification_deadline", "deadline_passed", DEADLINE),)),
        StateSpec("report_review", "stop", notify=("queue",),
                  tasks=(TaskSpec("rectification_review", "case_officer", ("accept_report", "reject_report"),
                                  sla="rectification_review"),)),
        StateSpec("resumed", "stop", terminal=True, on_enter=(ResumeProject(),), notify=("applicant",)),
        StateSpec("revoked", "stop", terminal=True, on_enter=(RevokeProject(),), notify=("applicant",)),
        StateSpec("suspended", "stop", terminal=True, notify=("applicant",)),
    )
    arrows = (
        TransitionSpec("issue_notice", ("opened",), "rectifying", SUPERVISORS, RectificationNotice,
                       effects=(RecordNotice(),)),
        TransitionSpec("submit_report", ("rectifying",), "report_review", ("applicant",), RectificationReport,
                       owner_only=True),
        TransitionSpec("accept_report", ("report_review",), "resumed", ("case_officer",), ReportReview),
        TransitionSpec("reject_report", ("report_review",), "rectifying", ("case_officer",), ReportReview,
                       rules=(rules.rounds_left,), effects=(RecordNotice(),)),
        TransitionSpec("deadline_passed", ("rectifying",), failed, ("system",), Empty),
        TransitionSpec("revoke", ("report_review",), "revoked", ("approver",), Revocation),
    )
    return ProcedureSpec(NAME, "opened", states, arrows, application=APPLICATION, opened_by=OPENED_BY)
