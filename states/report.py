"""report 举报 — received ─triage→ investigating ─substantiate→ substantiated ─send_feedback→ feedback_sent;
investigating ─dismiss→ unsubstantiated ─send_feedback→ feedback_sent.

Seeds: Jiaxing art. 27 (anyone may report; investigate, reply, keep the reporter confidential);
Ordos art. 26; Shandong 五、第五章. The reporter's identity is kept apart (`report_identities`) and
read only by the officers the approver assigned as the report's handlers (`assign_handlers`), each
read audited (services/procedures/reports.py). Claiming a task grants nothing.
"""

from __future__ import annotations

from forms.supervision import Dismissal, Feedback, PublicReport, ReportHandlers, Substantiation, Triage
from states.effects import AssignHandlers, RecordFeedback, RecordFindings, RectifyReported, WithdrawHandlers
from states.profiles import Profile
from states.rules import handlers_are_officers, handlers_assigned
from states.spec import OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import TaskSpec

NAME = "report"
APPLICATION = PublicReport  # the form that opens a case
OPENED_BY: OpenedBy = "public"
OFFICER = ("case_officer",)
# The schemes name no separate supervisor role: the jurisdiction's approver (审定人), who answers for
# the authority's decisions, is the one who assigns a report's handlers.
SUPERVISOR = ("approver",)
OPEN = ("received", "investigating", "substantiated", "unsubstantiated")


def build(profile: Profile) -> ProcedureSpec:
    feedback = TaskSpec("feedback", "case_officer", ("send_feedback",), sla="feedback")
    states = (
        StateSpec("received", "run", notify=("queue",),
                  tasks=(TaskSpec("triage", "case_officer", ("triage",), sla="triage"),
                         TaskSpec("handler_assignment", "approver", ("assign_handlers",), sla="triage"))),
        StateSpec("investigating", "run",
                  tasks=(TaskSpec("investigation", "case_officer", ("substantiate", "dismiss"), sla="investigation"),)),
        StateSpec("substantiated", "stop", on_enter=(RectifyReported(),), tasks=(feedback,)),
        StateSpec("unsubstantiated", "stop", tasks=(feedback,)),
        StateSpec("feedback_sent", "stop", terminal=True),
    )
    arrows = (
        TransitionSpec("triage", ("received",), "investigating", OFFICER, Triage),
        TransitionSpec("substantiate", ("investigating",), "substantiated", OFFICER, Substantiation,
                       effects=(RecordFindings(),)),
        TransitionSpec("dismiss", ("investigating",), "unsubstantiated", OFFICER, Dismissal),
        TransitionSpec("send_feedback", ("substantiated", "unsubstantiated"), "feedback_sent", OFFICER, Feedback,
                       effects=(RecordFeedback(),)),
        # internal: the state stays. Withdrawing is possible after the report closes too (access ends).
        TransitionSpec("assign_handlers", OPEN, None, SUPERVISOR, ReportHandlers, rules=(handlers_are_officers,),
                       effects=(AssignHandlers(),)),
        TransitionSpec("withdraw_handlers", (*OPEN, "feedback_sent"), None, SUPERVISOR, ReportHandlers,
                       rules=(handlers_assigned,), effects=(WithdrawHandlers(),)),
    )
    return ProcedureSpec(NAME, "received", states, arrows, application=APPLICATION, opened_by=OPENED_BY)
