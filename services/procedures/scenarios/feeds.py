"""A registered scenario's data feed (Ordos art. 14: the enterprise sends its users' data to the platform
daily; Shanghai art. 13: data of authorised scenario entities is connected after validation): the
credential batches are submitted with, and who may see the feed.

An officer of the jurisdiction or the scenario's owner issues the credential; issuing again rotates it
(the old one stops working at once). The token is shown once and only its SHA-256 is kept, so a copy of
the database cannot submit data. A retried issuance therefore answers a fresh token, never the stored one:
the last token issued is the one that works."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, NotFound, Unauthenticated
from services.engine.visibility import STAFF_ROLES
from services.store.engine import Database
from services.store.tables import Project, ScenarioFeed
from states.messages import reason

TOKEN_PREFIX = "scn_"
# who may issue a credential besides the owner: the officers who connect a scenario's data
ISSUERS = ("case_officer", "operator", "approver")


@dataclass(frozen=True)
class Feed:
    """The caller of a feed route, authenticated by the scenario's credential."""

    project_id: int
    jurisdiction: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_feed_token(token: str | None) -> bool:
    return bool(token) and str(token).startswith(TOKEN_PREFIX)


def scenario(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None or project.kind != "scenario":
        raise NotFound.of("scenario")
    return project


def owns(actor: Actor, project: Project) -> bool:
    return actor.org_id is not None and actor.org_id == project.owner_org_id and actor.holds(
        "applicant", project.jurisdiction)


def may_see(actor: Actor, project: Project) -> bool:
    """The owner's people and the jurisdiction's staff see the feed's batches; nobody else learns it exists."""
    return owns(actor, project) or any(actor.holds(r, project.jurisdiction) for r in STAFF_ROLES)


def visible_scenario(session: Session, actor: Actor, project_id: int) -> Project:
    project = scenario(session, project_id)
    if not may_see(actor, project):
        raise NotFound.of("scenario")
    return project


def issue(db: Database, actor: Actor, project_id: int) -> dict[str, Any]:
    """Issue (or rotate) the scenario's credential; the token is in this reply only."""
    with db.write() as session:
        project = visible_scenario(session, actor, project_id)
        if not (owns(actor, project) or any(actor.holds(r, project.jurisdiction) for r in ISSUERS)):
            raise Forbidden([reason("scenario_feed_issuer")])
        if project.status != "registered":  # data is connected after validation (Shanghai art. 13)
            raise Conflict([reason("scenario_not_registered", status=project.status)])
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = clock.now()
        feed = session.get(ScenarioFeed, project_id)
        rotated = feed is not None and feed.token_sha256 is not None
        if feed is None:
            feed = ScenarioFeed(project_id=project_id, jurisdiction=project.jurisdiction, created_at=now)
        feed.token_sha256, feed.token_issued_at = _digest(token), now
        session.add(feed)
        return {"scenario_id": project_id, "token": token, "issued_at": now.isoformat(), "rotated": rotated}


def authenticate(session: Session, token: str | None, project_id: int) -> Feed:
    """The feed the token belongs to; 401 for no or an unknown token, 403 for another scenario's."""
    if not is_feed_token(token):
        raise Unauthenticated([reason("scenario_feed_token")])
    feed = session.exec(select(ScenarioFeed).where(col(ScenarioFeed.token_sha256) == _digest(str(token)))).first()
    if feed is None:
        raise Unauthenticated([reason("scenario_feed_token")])
    if feed.project_id != project_id:
        raise Forbidden([reason("scenario_feed_other")])
    project = scenario(session, project_id)
    if project.status != "registered":
        raise Conflict([reason("scenario_not_registered", status=project.status)])
    return Feed(project_id=project_id, jurisdiction=feed.jurisdiction)


def status(session: Session, project_id: int) -> dict[str, Any]:
    feed = session.get(ScenarioFeed, project_id)
    issued = feed.token_issued_at if feed is not None and feed.token_sha256 else None
    return {"credential_issued_at": issued.isoformat() if issued else None}
