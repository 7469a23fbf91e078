"""Test databases: a SQLite file by default, or a fresh PostgreSQL database per run.

`TANDEM_TEST_DATABASE_URL` names a PostgreSQL server (any database on it); the run creates a
database of its own there and drops it afterwards, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.session import normalize_url

ENV = "TANDEM_TEST_DATABASE_URL"


def postgres_server_url() -> str | None:
    url = os.environ.get(ENV)
    return normalize_url(url) if url else None


@contextmanager
def fresh_postgres_database(server_url: str, prefix: str = "tandem_test") -> Iterator[str]:
    """Create an empty database on the server of `server_url`, yield its URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_database(tmp_dir: Path, name: str = "tandem") -> Iterator[str]:
    """A fresh empty database on the configured backend."""
    server = postgres_server_url()
    if server:
        with fresh_postgres_database(server) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_dir / (name + '.db')}"
