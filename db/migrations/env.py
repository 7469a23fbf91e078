"""Alembic environment. Used by `tandem db upgrade`, by `tandem serve` at start, and by the tests.

The connection comes from `config.attributes["connection"]` when the caller has one (tests, the
CLI) or from the URL in the config (`DATABASE_URL` when run through the `alembic` command).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, text

import db.models  # noqa: F401  (registers every table on Base.metadata)
from db.base import Base
from db.session import make_engine

config = context.config
target_metadata = Base.metadata

# Any constant will do: it only has to be the same in every Tandem process on a database.
PG_MIGRATION_LOCK = 74_236_001


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table, the same
        # migration then runs unchanged on PostgreSQL.
        render_as_batch=True,
        compare_type=True,
    )
    if connection.dialect.name == "postgresql":
        # Several web workers may start at once: one migrates, the others wait and find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "sqlite:///tandem.db")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            run_migrations(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Tandem's migrations run online only: use `tandem db upgrade`.")
run_online()
