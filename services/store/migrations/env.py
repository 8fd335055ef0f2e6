"""Alembic environment: the URL comes from the caller (services.store.migrate) or DATABASE_URL."""

from alembic import context
from sqlmodel import SQLModel

import services.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from services.store.engine import Database

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    db = Database(config.get_main_option("sqlalchemy.url") or None)
    with db.reader.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    db.dispose()


run_migrations_online()
