"""Expert panels drawn at random from a jurisdiction's pool, with recusal (issue: orchestration §3).

Eligible: experts of the jurisdiction with the field the case needs (if it names one), excluding
anyone affiliated with the applicant or its consultant, anyone who declared a conflict on the case,
anyone already seated or declined on it, and anyone who sat on a panel for the same subject within
the profile's cool-off window. The draw is `random.Random(seed).sample(sorted candidate ids, k)`:
the seed and the candidate list go into the audit trail, so anyone can re-run it and check.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from forms.registration import ExpertOpinion, PanelComposition, PanelDecline
from services.engine.context import Ctx
from services.engine.errors import Invalid
from services.engine.work import close_task, enqueue, open_task
from services.store.tables import Case, Organisation, PanelConflict, PanelMember, RoleGrant, User, id_column, pk
from states.effects import ComposePanel, ConvenePanel, DeclinePanel, DrawPanel, RecordOpinion
from states.messages import reason

ACTIVE_PANEL = select(PanelMember).where(PanelMember.case_id == sa.bindparam("case_id"), PanelMember.status == "active")
# The panel as the rules see it: plain rows, so the session holds no seats a command then updates blind.
PANEL_FACTS = sa.select(col(PanelMember.user_id), col(PanelMember.chair), col(PanelMember.opinion)).where(
    col(PanelMember.case_id) == sa.bindparam("case_id"), col(PanelMember.status) == "active")
PANEL_SEAT = select(PanelMember.id).where(PanelMember.case_id == sa.bindparam("case_id"),
                                          PanelMember.status == "active",
                                          PanelMember.user_id == sa.bindparam("user_id"))


def _same_subject_cases(ctx: Ctx) -> list[int]:
    """Other cases about the same subject: the project, or the methodology code."""
    case = ctx.case
    if case.project_id:
        q = select(id_column(Case)).where(col(Case.project_id) == case.project_id)
    else:
        q = select(id_column(Case)).where(col(Case.procedure) == case.procedure,
                                          col(Case.jurisdiction) == case.jurisdiction)
    code = case.application.get("code")
    ids = []
    for cid in ctx.session.exec(q):
        if cid == case.id:
            continue
        if case.project_id is None:
            other = ctx.session.get(Case, cid)
            if other is None or other.application.get("code") != code:
                continue
        ids.append(cid)
    return ids


def candidates(ctx: Ctx) -> list[int]:
    session, case = ctx.session, ctx.case
    rows = session.exec(select(User).join(RoleGrant, col(RoleGrant.user_id) == col(User.id)).where(
        col(RoleGrant.role) == "expert", col(RoleGrant.jurisdiction) == case.jurisdiction, col(User.active).is_(True)))
    field = case.application.get("expertise")
    org = session.get(Organisation, case.applicant_org_id) if case.applicant_org_id else None
    conflicted_names = {n for n in (org.name if org else None, case.application.get("consultant")) if n}
    excluded = set(session.exec(select(PanelConflict.user_id).where(PanelConflict.case_id == case.id)))
    excluded |= set(session.exec(select(PanelMember.user_id).where(PanelMember.case_id == case.id)))
    others = _same_subject_cases(ctx)
    if others:
        since = ctx.now - timedelta(days=ctx.profile.panel.cool_off_days)
        excluded |= set(session.exec(select(col(PanelMember.user_id)).where(
            col(PanelMember.case_id).in_(others), col(PanelMember.status) == "active",
            col(PanelMember.seated_at) >= since)))
    return sorted(pk(u) for u in rows if pk(u) not in excluded and u.affiliation not in conflicted_names
                  and (not field or field in (u.expert_fields or [])))


def draw(pool: list[int], k: int, seed: int | None = None) -> tuple[int, list[int]]:
    seed = secrets.randbits(63) if seed is None else seed
    return seed, random.Random(seed).sample(sorted(pool), k)


def _work(ctx: Ctx) -> ConvenePanel:
    """The panel's tasks, as the expert review state declares them."""
    return next(e for e in ctx.spec.state("expert_review").on_enter if isinstance(e, ConvenePanel))


def _seat(ctx: Ctx, members: list[int], chair: int, work: ConvenePanel) -> None:
    """Each member's opinion and the chair's conclusion, addressed to them."""
    for user_id in members:
        open_task(ctx, work.opinion, candidate=user_id)
    open_task(ctx, work.conclusion, candidate=chair)


def _sit(ctx: Ctx, members: list[int], chair: int, *, drawn: bool) -> None:
    """New seats, appended with the command's other rows (nothing in the command reads them back)."""
    for user_id in members:
        ctx.uow.add(PanelMember, {"case_id": ctx.case.id, "user_id": user_id, "chair": user_id == chair,
                                  "drawn": drawn, "status": "active", "seated_at": ctx.now})


def convene(ctx: Ctx, effect: ConvenePanel) -> None:
    """Entering expert review: a panel already seated re-reviews (after a revision), its opinions
    cleared; otherwise the officer is asked to compose one, and where the profile draws the dispatcher
    draws one at random (the officer's task stays as the fallback)."""
    members = list(ctx.session.exec(ACTIVE_PANEL, params={"case_id": ctx.case.id}))
    if not members:
        open_task(ctx, effect.compose)
        if ctx.profile.panel.draw:
            enqueue(ctx, "convene_panel", "system")
        return
    for m in members:
        m.opinion = m.score = m.comments = m.opinion_at = None
        ctx.session.add(m)
    _seat(ctx, [m.user_id for m in members], next(m.user_id for m in members if m.chair), effect)


def compose(ctx: Ctx, effect: ComposePanel) -> None:
    form = ctx.form_as(PanelComposition)
    _sit(ctx, form.members, form.chair, drawn=False)
    _seat(ctx, form.members, form.chair, _work(ctx))
    _invite(ctx, form.members)


def _invite(ctx: Ctx, user_ids: list[int]) -> None:
    """Each newly seated member is told (in-app, e-mail): whether the officer named them or the draw did."""
    for user_id in user_ids:
        enqueue(ctx, "notify", f"user:{user_id}", {"event": "panel_invitation"})


def record_opinion(ctx: Ctx, effect: RecordOpinion) -> None:
    """The member's seat updated blind, sent with the command's other writes (the rule
    `is_panel_member_without_opinion` has checked that it is theirs, reading the panel as plain rows:
    the session holds no seat to keep in step)."""
    form = ctx.form_as(ExpertOpinion)
    ctx.uow.update(PanelMember, {"case_id": ctx.case.id, "user_id": ctx.actor.user_id, "status": "active"},
                   {"opinion": form.opinion, "score": form.score, "comments": form.comments, "opinion_at": ctx.now})


def draw_panel(ctx: Ctx, effect: DrawPanel) -> None:
    """Seat the profile's panel size (odd); with fewer eligible experts, the largest odd number
    not below the minimum; with fewer still, refuse, and the officer names the panel by hand."""
    rules = ctx.profile.panel
    pool = candidates(ctx)
    k = rules.size if len(pool) >= rules.size else (len(pool) if len(pool) % 2 else len(pool) - 1)
    if k < rules.min_size:
        raise Invalid([reason("panel_pool_too_small", available=len(pool), needed=rules.size)])
    seed, chosen = draw(pool, k)
    _sit(ctx, chosen, chosen[0], drawn=True)
    for task in [t for t in ctx.tasks if t.kind == "compose_panel"]:
        close_task(ctx, task, "cancelled", "drawn")
    _seat(ctx, chosen, chosen[0], _work(ctx))
    _invite(ctx, chosen)
    ctx.extra["draw"] = {"seed": seed, "candidates": pool, "chosen": chosen, "chair": chosen[0]}


def decline(ctx: Ctx, effect: DeclinePanel) -> None:
    """An expert declines (or declares a conflict); a fresh draw replaces them, taking the chair if
    they held it. With nobody left to draw, the chair passes to the first remaining member."""
    work = _work(ctx)
    session, case, actor = ctx.session, ctx.case, ctx.actor
    form = ctx.form_as(PanelDecline)
    panel = list(session.exec(select(PanelMember).where(col(PanelMember.case_id) == case.id,
                                                        col(PanelMember.status) == "active")))
    me = next(m for m in panel if m.user_id == actor.user_id)
    was_chair = me.chair
    me.status, me.declined_reason, me.chair = "declined", form.reason, False
    session.add(me)
    if form.conflict:
        session.add(PanelConflict(case_id=pk(case), user_id=me.user_id, reason=form.reason, declared_at=ctx.now))
    for task in [t for t in ctx.tasks if t.candidate_user_id == actor.user_id and t.kind == "panel_conclusion"]:
        close_task(ctx, task, "cancelled", "declined")
    session.flush()
    pool = candidates(ctx)
    record: dict[str, Any] = {"declined": actor.user_id, "conflict": form.conflict, "candidates": pool}
    if pool:
        seed, (new,) = draw(pool, 1)
        member = PanelMember(case_id=case.id, user_id=new, chair=was_chair, drawn=True, seated_at=ctx.now)
        session.add(member)
        open_task(ctx, work.opinion, candidate=new)
        _invite(ctx, [new])
        record |= {"seed": seed, "replacement": new}
        chair = new if was_chair else None
    else:
        remaining = [m for m in panel if m.user_id != actor.user_id]
        chair = remaining[0].user_id if was_chair and remaining else None
        if chair is not None:
            remaining[0].chair = True
            session.add(remaining[0])
        record["replacement"] = None
    if chair is not None:
        open_task(ctx, work.conclusion, candidate=chair)
        record["chair"] = chair
    ctx.extra["decline"] = record
