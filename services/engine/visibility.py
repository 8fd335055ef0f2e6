"""Who may see a case: the one rule every read and every command applies (a list, a case, a document, a
command's lock), as a SQL condition.

Staff of the case's jurisdiction (officers, approvers, review centre, operator, administrators) see
all of its cases; an applicant sees their organisation's; a verifier the cases whose monitoring report
commissioned their firm; an expert the cases they sit on a panel for. A case outside the rule is
"not found" (DESIGN §6: 404 is not yours to see), never "forbidden".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.engine.actors import Actor
from services.engine.errors import NotFound
from services.store.records import AnyCase
from services.store.tables import Case, PanelMember, Verifier, table_of
from states.profiles import all_profiles
from states.spec import PUBLIC, SYSTEM

STAFF_ROLES = ("case_officer", "approver", "review_centre", "operator", "admin")
_COMMISSIONED = table_of(Case).c.application["report"]["verifier_id"].as_integer()


def _where(actor: Actor, *roles: str) -> list[str]:
    return sorted(j for j in all_profiles() if any(actor.holds(r, j) for r in roles))


@lru_cache(maxsize=4096)
def visible(actor: Actor) -> Any:
    """Built once an actor (actors are immutable; a changed grant is a new actor), so a command's lock and
    a page's list reuse the expression and its compiled statement."""
    if actor.kind == SYSTEM:
        return sa.true()
    if actor.kind == PUBLIC:
        return sa.false()  # the public reads notices, not cases (their commands name a notice's case)
    ways: list[sa.ColumnElement[bool]] = []
    staff = _where(actor, *STAFF_ROLES)
    if staff:
        ways.append(col(Case.jurisdiction).in_(staff))
    applicant, verifier, expert = _where(actor, "applicant"), _where(actor, "verifier"), _where(actor, "expert")
    if applicant and actor.org_id is not None:
        ways.append(sa.and_(col(Case.jurisdiction).in_(applicant), col(Case.applicant_org_id) == actor.org_id))
    if verifier and actor.org_id is not None:
        ways.append(sa.and_(col(Case.jurisdiction).in_(verifier), sa.exists().where(
            col(Verifier.id) == _COMMISSIONED, col(Verifier.org_id) == actor.org_id)))
    if expert:
        ways.append(sa.and_(col(Case.jurisdiction).in_(expert), sa.exists().where(
            col(PanelMember.case_id) == col(Case.id), col(PanelMember.user_id) == actor.user_id,
            col(PanelMember.status) == "active")))
    return sa.or_(*ways) if ways else sa.false()


def can_see(session: Session, actor: Actor, case: Case) -> bool:
    if actor.kind == SYSTEM:
        return True
    return session.exec(select(Case.id).where(Case.id == case.id, visible(actor))).first() is not None


def visible_case(session: Session, actor: Actor, case_id: int) -> Case:
    """The case, read (not locked), or 404 when there is none the actor may see."""
    case = session.exec(select(Case).where(Case.id == case_id, visible(actor))).first()
    if case is None:
        raise NotFound.of("case")
    return case


def is_owner(actor: Actor, case: AnyCase) -> bool:
    return actor.org_id is not None and actor.org_id == case.applicant_org_id
