"""Who is acting in a command: a person with their role grants (role, jurisdiction), the public (told
apart by address), or the system (timers, flows)."""

from __future__ import annotations

from dataclasses import dataclass, field

from states.profiles import all_profiles
from states.spec import ADMIN, NATIONAL, PUBLIC, SYSTEM


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
        if (role, jurisdiction) in self.grants:
            return True
        # the national administrator administers every jurisdiction (and only jurisdictions with a profile)
        return role == ADMIN and (ADMIN, NATIONAL) in self.grants and jurisdiction in all_profiles()

    @property
    def key(self) -> str:
        # anonymous callers are told apart by where they call from (public:<address>)
        return f"user:{self.user_id}" if self.user_id is not None else self.username

    @property
    def role_label(self) -> str:
        return self.kind if self.kind != "user" else ",".join(sorted({r for r, _ in self.grants})) or "user"


PUBLIC_ACTOR = Actor(user_id=None, username="public", kind=PUBLIC)
SYSTEM_ACTOR = Actor(user_id=None, username="system", kind=SYSTEM)


def public_actor(client_host: str | None) -> Actor:
    return Actor(user_id=None, username=f"public:{client_host or '-'}"[:40], kind=PUBLIC)
