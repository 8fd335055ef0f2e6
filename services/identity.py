"""Who is acting: users, role grants per jurisdiction, API tokens and passwords."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlmodel import Session, select

from services import audit
from services.clock import clock
from services.errors import Invalid, Unauthenticated
from services.store.tables import ApiToken, Organisation, RoleGrant, User
from states.messages import reason
from states.spec import PUBLIC, ROLES, SYSTEM

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    display_name: str = ""
    org_id: int | None = None
    grants: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (role, jurisdiction)
    kind: str = "user"  # user | public | system

    def holds(self, role: str, jurisdiction: str) -> bool:
        if role == PUBLIC:
            return self.kind == PUBLIC
        if role == SYSTEM:
            return self.kind == SYSTEM
        return (role, jurisdiction) in self.grants

    def roles_in(self, jurisdiction: str) -> list[str]:
        return sorted(r for r, j in self.grants if j == jurisdiction)

    @property
    def key(self) -> str:
        # anonymous callers are told apart by where they call from (public:<address>)
        return f"user:{self.user_id}" if self.user_id is not None else self.username

    @property
    def role_label(self) -> str:
        return self.kind if self.kind != "user" else ",".join(sorted({r for r, _ in self.grants})) or "user"


PUBLIC_ACTOR = Actor(user_id=None, username="public", kind=PUBLIC)


def public_actor(client_host: str | None) -> Actor:
    return Actor(user_id=None, username=f"public:{client_host or '-'}"[:40], kind=PUBLIC)
SYSTEM_ACTOR = Actor(user_id=None, username="system", kind=SYSTEM)


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
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
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
    user = User(username=username, display_name=display_name, org_id=org_id,
                password_hash=password_hash or (hash_password(password) if password else None),
                expert_fields=expert_fields or [], affiliation=affiliation, created_at=clock.now())
    session.add(user)
    session.flush()
    for role, jurisdiction in grants:
        session.add(RoleGrant(user_id=user.id, role=role, jurisdiction=jurisdiction))
    audit.append(session, stream="system", at=clock.now(), actor_id=by.user_id, actor_role=by.role_label,
                 event="user_created", payload={"user_id": user.id, "username": username, "grants": grants})
    return user


def issue_token(session: Session, user: User, name: str = "api", expires_at: datetime | None = None,
                token: str | None = None) -> str:
    """Return a new bearer token; only its SHA-256 is stored."""
    token = token or "ci_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_sha256=token_digest(token), created_at=clock.now(),
                         expires_at=expires_at))
    audit.append(session, stream="system", at=clock.now(), actor_id=user.id, actor_role="system",
                 event="token_issued", payload={"user_id": user.id, "name": name})
    return token
