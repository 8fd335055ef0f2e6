"""People and organisations: users, role grants per jurisdiction (and administrators' scopes), API tokens
and passwords. Who is acting in a command is an `Actor` (services.engine.actors)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlmodel import Session, col, select

from services.engine import audit
from services.engine.actors import SYSTEM_ACTOR, Actor
from services.engine.clock import clock
from services.engine.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from services.engine.idempotency import Idem, once
from services.store.engine import Database
from services.store.tables import ApiToken, Jurisdiction, Organisation, RoleGrant, User, pk
from states.messages import reason, role_required
from states.profiles import all_profiles
from states.spec import ADMIN, NATIONAL, ROLES, SYSTEM

_hasher = PasswordHasher()




@dataclass(frozen=True)
class AdminScope:
    """What an administrator administers (DESIGN §7, Trust). National: the whole system — the State
    Council's calendar, system operations, rows that belong to no jurisdiction — and every
    jurisdiction. Otherwise only the jurisdictions of the person's admin grants, nothing system-wide."""

    national: bool
    jurisdictions: frozenset[str]  # the national administrator's: every profile

    def covers(self, jurisdiction: str | None) -> bool:
        """Whether something of this jurisdiction is the administrator's; None (system-wide) and the
        national scope itself are the national administrator's alone."""
        if jurisdiction is None or jurisdiction == NATIONAL:
            return self.national
        return jurisdiction in self.jurisdictions

    def where(self, column: Any) -> Any:
        """`covers` as a SQL condition on a jurisdiction column (a NULL one is national)."""
        return sa.true() if self.national else column.in_(sorted(self.jurisdictions))

    def as_dict(self) -> dict[str, Any]:
        return {"national": self.national, "jurisdictions": sorted(self.jurisdictions)}


def admin_scope(actor: Actor) -> AdminScope:
    """The one place an administrator's scope is worked out from their grants."""
    if (ADMIN, NATIONAL) in actor.grants:
        return AdminScope(True, frozenset(all_profiles()))
    return AdminScope(False, frozenset(j for r, j in actor.grants if r == ADMIN))


def require_admin(actor: Actor) -> AdminScope:
    scope = admin_scope(actor)
    if not scope.national and not scope.jurisdictions:
        raise Forbidden([role_required(ADMIN)])
    return scope


def require_national(actor: Actor) -> AdminScope:
    scope = require_admin(actor)
    if not scope.national:
        raise Forbidden([reason("national_admin_required")])
    return scope


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_actor(session: Session, user: User) -> Actor:
    grants = session.exec(select(RoleGrant.role, RoleGrant.jurisdiction).where(RoleGrant.user_id == user.id))
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name, org_id=user.org_id,
                 grants=frozenset((r, j) for r, j in grants))


def authenticate(session: Session, token: str | None) -> Actor:
    if not token:
        raise Unauthenticated([reason("unauthenticated")])
    row = session.exec(
        select(ApiToken, User).join(User, col(User.id) == col(ApiToken.user_id))
        .where(ApiToken.token_sha256 == token_digest(token))
    ).first()
    now = clock.now()
    if row is None:
        raise Unauthenticated([reason("unauthenticated")])
    tok, user = row
    if tok.revoked_at or (tok.expires_at and tok.expires_at <= now) or not user.active:
        raise Unauthenticated([reason("unauthenticated")])
    return load_actor(session, user)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except VerificationError:
        return False


def ensure_organisation(session: Session, uscc: str, name: str) -> Organisation:
    org = session.exec(select(Organisation).where(Organisation.uscc == uscc)).first()
    if org is None:
        org = Organisation(uscc=uscc, name=name, created_at=clock.now())
        session.add(org)
        session.flush()
    return org


def create_user(
    session: Session, *, username: str, display_name: str, grants: list[tuple[str, str]],
    org_id: int | None = None, password: str | None = None, password_hash: str | None = None,
    expert_fields: list[str] | None = None, affiliation: str | None = None, by: Actor = SYSTEM_ACTOR,
) -> User:
    bad = [r for r, _ in grants if r not in ROLES]
    if bad:
        raise Invalid([reason("forbidden")], unknown_roles=bad)
    national = [r for r, j in grants if j == NATIONAL and r != ADMIN]
    if national:
        raise Invalid([reason("national_admin_only", field="grants", role=r) for r in national])
    user = User(username=username, display_name=display_name, org_id=org_id,
                password_hash=password_hash or (hash_password(password) if password else None),
                expert_fields=expert_fields or [], affiliation=affiliation, created_at=clock.now())
    session.add(user)
    session.flush()
    for role, jurisdiction in grants:
        session.add(RoleGrant(user_id=pk(user), role=role, jurisdiction=jurisdiction))
    audit.append(session, stream="system", at=clock.now(), actor_id=by.user_id, actor_role=by.role_label,
                 event="user_created", payload={"user_id": user.id, "username": username, "grants": grants})
    return user


def issue_token(session: Session, user: User, name: str = "api", expires_at: datetime | None = None,
                token: str | None = None) -> str:
    """Return a new bearer token; only its SHA-256 is stored."""
    token = token or "ci_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=pk(user), name=name, token_sha256=token_digest(token), created_at=clock.now(),
                         expires_at=expires_at))
    audit.append(session, stream="system", at=clock.now(), actor_id=user.id, actor_role="system",
                 event="token_issued", payload={"user_id": user.id, "name": name})
    return token


def _grant_target(session: Session, user_id: int, role: str, jurisdiction: str) -> tuple[User, RoleGrant | None]:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound([reason("user_unknown", field="username")])
    if role not in ROLES:
        raise Invalid([reason("role_unknown", field="role", role=role)])
    if session.get(Jurisdiction, jurisdiction) is None:
        raise Invalid([reason("unknown_jurisdiction", field="jurisdiction", code=jurisdiction)])
    if jurisdiction == NATIONAL and role != ADMIN:
        raise Invalid([reason("national_admin_only", field="role", role=role)])
    held = session.exec(select(RoleGrant).where(RoleGrant.user_id == user_id, RoleGrant.role == role,
                                                RoleGrant.jurisdiction == jurisdiction)).first()
    return user, held


def _may_grant(by: Actor, jurisdiction: str) -> None:
    """Grants in a jurisdiction are its administrators' (and the national administrator's); the
    national grant is the national administrator's alone. The command line acts as `system`."""
    if by.kind != SYSTEM and not admin_scope(by).covers(jurisdiction):
        raise Forbidden([reason("admin_scope", code=jurisdiction)])


def grant_role(session: Session, user_id: int, role: str, jurisdiction: str, by: Actor) -> RoleGrant:
    """An administrator gives a user a role in a jurisdiction; audited like `create_user`."""
    _may_grant(by, jurisdiction)
    user, held = _grant_target(session, user_id, role, jurisdiction)
    if held is not None:
        raise Invalid([reason("role_held", field="role", username=user.username)])
    grant = RoleGrant(user_id=user_id, role=role, jurisdiction=jurisdiction)
    session.add(grant)
    session.flush()
    audit.append(session, stream="system", at=clock.now(), actor_id=by.user_id, actor_role=by.role_label,
                 event="role_granted", payload={"user_id": user_id, "username": user.username, "role": role,
                                                "jurisdiction": jurisdiction})
    return grant


def revoke_role(session: Session, user_id: int, role: str, jurisdiction: str, by: Actor) -> None:
    """Withdraw a grant; the user's open sessions fall back to another hat on their next request."""
    _may_grant(by, jurisdiction)
    user, held = _grant_target(session, user_id, role, jurisdiction)
    if held is None:
        raise Invalid([reason("role_not_held", field="role", username=user.username)])
    session.delete(held)
    audit.append(session, stream="system", at=clock.now(), actor_id=by.user_id, actor_role=by.role_label,
                 event="role_revoked", payload={"user_id": user_id, "username": user.username, "role": role,
                                                "jurisdiction": jurisdiction})


def register_organisation(db: Database, actor: Actor, *, uscc: str, name: str, idempotency_key: str | None = None
                          ) -> dict[str, Any]:
    """An applicant registers the organisation they apply for (a checked USCC); one per account."""
    if not any(r == "applicant" for r, _ in actor.grants):
        raise Forbidden([role_required("applicant")])

    def command(session: Session) -> tuple[int, dict[str, Any]]:
        user = session.get(User, actor.user_id)
        if user is None or user.org_id is not None:
            raise Conflict([reason("org_linked")])
        if session.exec(select(Organisation).where(Organisation.uscc == uscc)).first():
            # Knowing a code is no proof of belonging to the organisation: its own users must invite you.
            raise Conflict([reason("org_exists", field="uscc")])
        org = Organisation(uscc=uscc, name=name, created_at=clock.now())
        session.add(org)
        session.flush()
        user.org_id = org.id
        session.add(user)
        audit.append(session, stream="system", at=clock.now(), actor_id=actor.user_id, actor_role="applicant",
                     event="organisation_registered", payload={"org_id": org.id, "uscc": org.uscc})
        return 201, {"id": org.id, "uscc": org.uscc, "name": org.name}

    return once(db, Idem(actor.key, idempotency_key, {"organisation": uscc, "name": name}), command)[1]
