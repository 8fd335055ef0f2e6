"""methodology_filing 方法学备案 — the whole procedure, per jurisdiction profile.

    draft ─submit→ submitted ─accept→ technical_review ─pass_review→ expert_review ─panel_pass→
    [public_comment ─(timer)→ comment_disposition ─disposition_done→] authority_decision ─approve→
    [publicity ─(timer)→] filed

Seeds: Shanghai arts. 9–11 (class I/II, public comment); Beijing 编制说明 3 第二章 and 4(一) (level 1/2);
Jiaxing arts. 7–11 (centre → committee → authority → publicity → filing; parameters from national
data, art. 11); Ordos arts. 5–8 (national > local > group standards); Shandong 五、第二章.
A filed methodology is a version; a revision (`revises`) files a new version of the same code and
supersedes the old one from its filing date, with the profile's grace period for citing it.
"""

from __future__ import annotations

from forms.common import Empty
from forms.methodology import CommentAnswer, DispositionDone, MethodologyApplication, MethodologyEdit, PublicComment
from states import rules, stages
from states.effects import (
    AnswerComment,
    CloseNotice,
    FileMethodology,
    PublishDispositions,
    PublishNotice,
    RecordComment,
)
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, StateSpec, TransitionSpec
from states.tasks import TaskSpec

NAME = "methodology_filing"
APPLICATION = MethodologyApplication  # the form that opens a case
OPENED_BY: OpenedBy = "applicant"

OPENING = (rules.tier_fits, rules.version_is_new, rules.revises_a_filed_version, rules.no_higher_standard)


def _consultation() -> stages.Stage:
    """Shanghai art. 11: the methodology is put to public comment; the review centre answers each
    comment, and the answers are published, before the authority decides."""
    states = (
        StateSpec("public_comment", "pause",
                  on_enter=(PublishNotice("consultation", end_trigger="comment_period_end"),),
                  on_exit=(CloseNotice("consultation"),)),
        StateSpec(
            "comment_disposition", "run",
            tasks=(TaskSpec("comment_disposition", "review_centre", ("disposition_done",),
                            sla="comment_disposition"),),
        ),
    )
    arrows = (
        TransitionSpec("comment", ("public_comment",), None, ("public",), PublicComment, effects=(RecordComment(),)),
        TransitionSpec("comment_period_end", ("public_comment",), "comment_disposition", ("system",), Empty,
                       when=rules.comments_received),
        TransitionSpec("comment_period_end", ("public_comment",), "authority_decision", ("system",), Empty,
                       when=rules.no_comments),
        TransitionSpec("answer_comment", ("comment_disposition",), None, ("review_centre",), CommentAnswer,
                       rules=(rules.comment_open,), effects=(AnswerComment(),)),
        TransitionSpec("disposition_done", ("comment_disposition",), "authority_decision", ("review_centre",),
                       DispositionDone, rules=(rules.every_comment_answered,), effects=(PublishDispositions(),)),
    )
    return states, arrows


def build(profile: Profile) -> ProcedureSpec:
    m = profile.methodology
    after_panel = "public_comment" if m.public_comment else "authority_decision"
    after_decision = "publicity" if m.publicity else "filed"
    states, arrows = stages.compose(
        stages.intake(edit_form=MethodologyEdit, submit_rules=(*OPENING, rules.documents_attached),
                      resubmit_rules=OPENING[:1] + OPENING[3:],
                      accepted="technical_review"),
        stages.review(passed="expert_review"),
        stages.panel(passed=after_panel, resubmit_rules=OPENING[:1] + OPENING[3:]),
        *([_consultation()] if m.public_comment else []),
        stages.decision(approved=after_decision),
        *([stages.publicity(done="filed")] if m.publicity else []),
        stages.endings(),
    )
    states += (StateSpec("filed", "stop", terminal=True, on_enter=(FileMethodology(),), notify=("applicant",)),)
    return ProcedureSpec(NAME, "draft", states, arrows, application=APPLICATION, opening_rules=OPENING)
