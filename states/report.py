"""report 举报 — received ─triage→ investigating ─substantiate→ substantiated ─send_feedback→ feedback_sent;
investigating ─dismiss→ unsubstantiated ─send_feedback→ feedback_sent.

Seeds: Jiaxing art. 27 (anyone may report; investigate, reply, keep the reporter confidential);
Ordos art. 26; Shandong 五、第五章. The reporter's identity is kept apart (`report_identities`, services/supervision.py).
"""

from __future__ import annotations

from forms.supervision import Dismissal, Feedback, PublicReport, Substantiation, Triage
from states.profiles import Profile
from states.spec import ProcedureSpec, StateSpec, TaskSpec, TransitionSpec

NAME = "report"
OFFICER = ("case_officer",)


def build(profile: Profile) -> ProcedureSpec:
    feedback = TaskSpec("feedback", "case_officer", ("send_feedback",), sla="feedback")
    states = (
        StateSpec("received", "run", notify=("queue",),
                  tasks=(TaskSpec("triage", "case_officer", ("triage",), sla="triage"),)),
        StateSpec("investigating", "run",
                  tasks=(TaskSpec("investigation", "case_officer", ("substantiate", "dismiss"), sla="investigation"),)),
        StateSpec("substantiated", "stop", on_enter=("rectify_reported",), tasks=(feedback,)),
        StateSpec("unsubstantiated", "stop", tasks=(feedback,)),
        StateSpec("feedback_sent", "stop", terminal=True),
    )
    arrows = (
        TransitionSpec("triage", ("received",), "investigating", OFFICER, Triage),
        TransitionSpec("substantiate", ("investigating",), "substantiated", OFFICER, Substantiation,
                       effects=("record_findings",)),
        TransitionSpec("dismiss", ("investigating",), "unsubstantiated", OFFICER, Dismissal),
        TransitionSpec("send_feedback", ("substantiated", "unsubstantiated"), "feedback_sent", OFFICER, Feedback,
                       effects=("record_feedback",)),
    )
    return ProcedureSpec(NAME, "received", states, arrows, application=PublicReport)
