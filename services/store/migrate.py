"""Run the Alembic migrations to the one head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from services.store.engine import Database

INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(INI))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(db: Database) -> None:
    cfg = alembic_config()
    with db.writer.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()
