"""Running Alembic from code: `tandem db upgrade`, `tandem serve` at start, and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply pending migrations in one transaction (PostgreSQL) or as far as they go (SQLite)."""
    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def pending(engine: Engine) -> list[str]:
    """Revisions not yet applied, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    revisions = [r.revision for r in script.walk_revisions()]
    applied: set[str] = set()
    for rev in current:
        applied |= {r.revision for r in script.iterate_revisions(rev, "base")}
    return [r for r in reversed(revisions) if r not in applied]
