"""Publicity and consultation notices with their periods (Civil Code arts. 201–203: from the first working
day after publication to 24:00 of the last), objections lodged by the public, comments and their
published answers (Shanghai art. 11)."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlmodel import col, select

from forms.methodology import CommentAnswer
from forms.registration import Objection as Lodged  # the form an objector sends; the table is Objection
from services.engine import preload
from services.engine.context import Ctx
from services.engine.work import arm, enqueue
from services.store.tables import Comment, Notice, Objection
from states.effects import (
    AnswerComment,
    CloseNotice,
    PublishDispositions,
    PublishNotice,
    RecordComment,
    RecordObjection,
    SettleObjections,
)

OPEN_NOTICES = select(Notice).where(Notice.case_id == sa.bindparam("case_id"), Notice.kind == sa.bindparam("kind"),
                                    Notice.status == "open")
# the timer a notice's end arms, by kind of notice
END_TIMERS = {"publicity": "publicity_end", "consultation": "comment_period_end"}


def publish_notice(ctx: Ctx, effect: PublishNotice) -> None:
    """The profile's length: a publicity notice of the procedure's (the approver may set a longer one
    where the seed says "at least", e.g. Ordos art. 10), a consultation of the methodology rules'."""
    if effect.kind == "publicity":
        rules = ctx.profile.publicity_for(ctx.case.procedure)
        days, counts = getattr(ctx.form, "publicity_days", None) or rules.days, rules.publication_day_counts
    else:
        days, counts = ctx.profile.methodology.comment_days, ctx.profile.registration.publication_day_counts
    period = ctx.cal.publicity(ctx.today, days, publication_day_counts=counts, jurisdiction=ctx.case.jurisdiction)
    # appended with the command's other rows: nothing in the command reads the notice back
    ctx.uow.add(Notice, {"case_id": ctx.case.id, "kind": effect.kind, "jurisdiction": ctx.case.jurisdiction,
                         "title": ctx.case.application.get("title", ""), "published_on": ctx.today,
                         "first_day": period.first_day, "last_day": period.last_day,
                         "closes_at": period.closes_at, "provisional": period.provisional, "status": "open"})
    arm(ctx, kind=END_TIMERS[effect.kind], trigger=effect.end_trigger, fire_at=period.closes_at, days=days,
        provisional=period.provisional)
    enqueue(ctx, f"open_{effect.kind}", "public", {"first_day": period.first_day.isoformat(),
                                                   "last_day": period.last_day.isoformat()})


def close_notice(ctx: Ctx, effect: CloseNotice) -> None:
    notices = preload.get(ctx.session, "notices", ctx.case.id)
    if notices is None:
        notices = list(ctx.session.exec(OPEN_NOTICES, params={"case_id": ctx.case.id, "kind": effect.kind}))
    for notice in notices:
        if notice.kind != effect.kind or notice.status != "open":
            continue
        notice.status = "closed"
        ctx.session.add(notice)
        enqueue(ctx, f"close_{effect.kind}", "public", {"notice_id": notice.id})


def record_objection(ctx: Ctx, effect: RecordObjection) -> None:
    """The objection and its receipt; the objector's name and contact stay in this row only."""
    form = ctx.form_as(Lodged)
    receipt = f"OBJ-{ctx.today:%Y%m%d}-{secrets.token_hex(4).upper()}"
    ctx.session.add(Objection(case_id=ctx.case.id, receipt=receipt, name=form.name,
                              contact=form.contact, text=form.text, received_at=ctx.now))
    # the objection review goes to the least-loaded officer at once, who is told (assign_least_loaded);
    # the officers of the jurisdiction hear that an objection came in
    enqueue(ctx, "assign", "case_officer")
    enqueue(ctx, "notify", "queue", {"event": "objection_lodged", "roles": ["case_officer"]})
    ctx.extra["receipt"] = receipt


def settle_objections(ctx: Ctx, effect: SettleObjections) -> None:
    ctx.session.execute(sa.update(Objection)
                        .where(col(Objection.case_id) == ctx.case.id, col(Objection.status) == "open")
                        .values(status=effect.outcome, decided_at=ctx.now))


def record_comment(ctx: Ctx, effect: RecordComment) -> None:
    assert ctx.form is not None
    comment = Comment(case_id=ctx.case.id, received_at=ctx.now, **ctx.form.model_dump())
    ctx.session.add(comment)
    ctx.session.flush()
    ctx.extra["comment_id"] = comment.id


def answer_comment(ctx: Ctx, effect: AnswerComment) -> None:
    form = ctx.form_as(CommentAnswer)
    ctx.session.execute(sa.update(Comment).where(col(Comment.id) == form.comment_id,
                                                 col(Comment.case_id) == ctx.case.id)
                        .values(answer=form.answer, disposition=form.disposition,
                                answered_at=ctx.now))


def publish_dispositions(ctx: Ctx, effect: PublishDispositions) -> None:
    ctx.session.execute(sa.update(Comment).where(col(Comment.case_id) == ctx.case.id).values(published=True))
    enqueue(ctx, "publish_dispositions", "public", {})
