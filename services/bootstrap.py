"""Bring a database to the running schema and load the jurisdiction profiles into it."""

from __future__ import annotations

from sqlmodel import Session

from services.engine.clock import clock
from services.store.engine import Database
from services.store.migrate import upgrade
from services.store.tables import Jurisdiction
from states.machine import validate_profiles
from states.messages import label
from states.profiles import all_profiles
from states.spec import NATIONAL


def load_profiles(session: Session) -> list[str]:
    """Mirror `states/jurisdictions/*.toml` into the jurisdictions table (the files are the truth), beside
    the national scope's row (no profile: the national administrator's grant points at it)."""
    loaded = []
    if session.get(Jurisdiction, NATIONAL) is None:
        name = label(f"jurisdiction.{NATIONAL}")
        session.add(Jurisdiction(code=NATIONAL, name_zh=name["zh"], name_en=name["en"], profile={},
                                 profile_digest="", loaded_at=clock.now()))
    for code, profile in all_profiles().items():
        row = session.get(Jurisdiction, code) or Jurisdiction(code=code, name_zh="", name_en="", profile_digest="",
                                                              loaded_at=clock.now())
        if row.profile_digest != profile.digest:
            row.name_zh, row.name_en = profile.name_zh, profile.name_en
            row.profile, row.profile_digest, row.loaded_at = profile.model_dump(mode="json"), profile.digest, clock.now()
            session.add(row)
            loaded.append(code)
    return loaded


def setup(db: Database) -> None:
    validate_profiles()
    upgrade(db)
    with db.write() as session:
        load_profiles(session)
