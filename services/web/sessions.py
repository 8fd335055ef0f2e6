"""Signed-in browsers: sign in with a password, a server-side session row, the hat worn, sign out.

The cookie holds a random token; the table holds its SHA-256 (a copy of the database signs nobody
in). A session ends after `IDLE` without a request or `LIFETIME` after sign-in, whichever is first.

Guessing is throttled (`services.engine.throttle`) so that a third party cannot lock the owner out
(OWASP's device-cookie scheme, `services.web.devices`):
- a browser holding a device cookie for the account (it signed in as it before) counts its failures
  against that device only (`DEVICE`): 10 in 15 minutes and that browser alone waits;
- any other client counts against its address (`ADDRESS`: 20 in 15 minutes, then the address waits)
  and against the account (`ACCOUNT`: 5 in 15 minutes, then the account refuses clients without a
  device cookie for it).
So a guesser hammering an account from elsewhere blocks only untrusted clients; its owner, signing
in from a browser they used before, is not affected, and does not share their office address's
limit with the guesser either. A refused attempt is not processed at all: no password hash is
computed and nothing is audited; the failure that starts a block is audited once
(`sign_in_throttled`). A successful sign-in forgets the device's failures.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from services.accounts.identity import check_password, load_actor, token_digest
from services.engine import audit
from services.engine.actors import Actor
from services.engine.clock import clock
from services.engine.throttle import Limit, clear, count_failure, refuse_if_blocked
from services.store.tables import User, WebSession, pk
from states.spec import NATIONAL

IDLE = timedelta(hours=2)
LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=5)  # don't write last_seen_at on every page view
GUESSING_WINDOW = timedelta(minutes=15)
ADDRESS = Limit("sign-in:address", 20, GUESSING_WINDOW)
ACCOUNT = Limit("sign-in:account", 5, GUESSING_WINDOW, serialise=True)
DEVICE = Limit("sign-in:device", 10, GUESSING_WINDOW, serialise=True)


@dataclass(frozen=True)
class Signed:
    """Who is signed in, with every grant, and the hat (role, jurisdiction) worn right now."""

    session_id: int
    csrf: str
    person: Actor  # all grants
    hat: tuple[str, str] | None
    stale: bool = False  # last seen long enough ago to be worth writing down

    @property
    def actor(self) -> Actor:
        """The actor commands see: only the hat's grant, so a person who is both expert and officer
        acts as one of them at a time (the switcher changes which)."""
        if self.hat is None:
            return self.person
        return Actor(user_id=self.person.user_id, username=self.person.username,
                     display_name=self.person.display_name, org_id=self.person.org_id,
                     grants=frozenset({self.hat}), kind=self.person.kind)

    @property
    def user_id(self) -> int:
        """The signed-in person's user id: a session belongs to a stored user, so it is never None."""
        if self.person.user_id is None:
            raise ValueError(f"session {self.session_id} has no user")
        return self.person.user_id

    @property
    def hats(self) -> list[tuple[str, str]]:
        """The national hat first, then by jurisdiction."""
        return sorted(self.person.grants, key=lambda g: (g[1] != NATIONAL, g[1], g[0]))


def default_hat(actor: Actor) -> tuple[str, str] | None:
    """Staff roles first: the work queue is the home page most people need; an administrator starts
    with the widest scope they hold."""
    order = ("case_officer", "review_centre", "approver", "operator", "expert", "verifier", "applicant", "admin")
    hats = sorted(actor.grants, key=lambda g: (order.index(g[0]) if g[0] in order else 99, g[1] != NATIONAL, g[1]))
    return hats[0] if hats else None


def _throttles(username: str, client: str, device: str | None) -> tuple[tuple[Limit, str], ...]:
    """What a failure counts against: the device when the browser is known for this account, else
    the address and the account (names compared without case: a variant spelling is no new account)."""
    if device is not None:
        return ((DEVICE, device),)
    return ((ADDRESS, client), (ACCOUNT, username.lower()))


def sign_in(session: Session, username: str, password: str, *, client: str,
            device: str | None = None) -> tuple[str, Signed] | None:
    """A new session for the right password, else None (the caller says only "wrong name or password").

    `client` is the address the request came from, `device` the nonce of a genuine device cookie
    issued for `username` (None without one). Raises `Throttled` (429) while blocked."""
    now = clock.now()
    throttles = _throttles(username, client, device)
    refuse_if_blocked(session, now, *throttles)
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active or not check_password(user.password_hash, password):
        audit.append(session, stream="system", at=now, actor_id=user.id if user else None,
                     actor_role="public", event="sign_in_failed", payload={"username": username[:64]})
        started = [limit.name for limit in count_failure(session, now, *throttles)]
        if started:  # this failure reached a limit: the block starts now (later attempts are refused unseen)
            audit.append(session, stream="system", at=now, actor_id=user.id if user else None, actor_role="public",
                         event="sign_in_throttled", payload={"username": username[:64], "limits": started,
                                                             "address": client[:64]})
        return None
    if device is not None:
        clear(session, DEVICE, device)
    actor = load_actor(session, user)
    token = secrets.token_urlsafe(32)
    hat = default_hat(actor)
    row = WebSession(token_sha256=token_digest(token), user_id=pk(user), csrf=secrets.token_urlsafe(24),
                     role=hat[0] if hat else None, jurisdiction=hat[1] if hat else None,
                     created_at=now, last_seen_at=now, expires_at=now + LIFETIME)
    session.add(row)
    session.flush()
    audit.append(session, stream="system", at=now, actor_id=user.id, actor_role="user", event="signed_in",
                 payload={"user_id": user.id})
    return token, Signed(pk(row), row.csrf, actor, hat)


def current(session: Session, token: str | None) -> Signed | None:
    """The live session for a cookie token, or None when absent, ended, idle too long or expired."""
    if not token:
        return None
    row = session.exec(select(WebSession).where(WebSession.token_sha256 == token_digest(token))).first()
    now = clock.now()
    if row is None or row.ended_at or row.expires_at <= now or row.last_seen_at + IDLE <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    actor = load_actor(session, user)
    hat = (row.role, row.jurisdiction) if row.role and row.jurisdiction else None
    if hat is not None and hat not in actor.grants:  # a grant withdrawn since: fall back
        hat = default_hat(actor)
    return Signed(pk(row), row.csrf, actor, hat, stale=now - row.last_seen_at >= TOUCH_EVERY)


def touch(session: Session, signed: Signed) -> None:
    """Keep an active session alive (a write, so done apart from the read that found it)."""
    row = session.get(WebSession, signed.session_id)
    if row is not None:
        row.last_seen_at = clock.now()
        session.add(row)


def wear(session: Session, signed: Signed, role: str, jurisdiction: str) -> bool:
    """Switch hats; False when the person holds no such grant."""
    if (role, jurisdiction) not in signed.person.grants:
        return False
    row = session.get(WebSession, signed.session_id)
    if row is None:
        return False
    row.role, row.jurisdiction = role, jurisdiction
    session.add(row)
    return True


def sign_out(session: Session, signed: Signed) -> None:
    row = session.get(WebSession, signed.session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = clock.now()
        session.add(row)
        audit.append(session, stream="system", at=row.ended_at, actor_id=signed.person.user_id, actor_role="user",
                     event="signed_out", payload={"user_id": signed.person.user_id})
