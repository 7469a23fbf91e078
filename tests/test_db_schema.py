"""The data layer: migrations own the schema, both backends agree, datetimes are UTC, SQLite never locks."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, event, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from db.base import Base
from db.migrate import pending
from db.models import Person, Side, Workspace, slack_bots, slack_installations, slack_oauth_states
from db.session import Database
from tests.databases import fresh_postgres_database, postgres_server_url


def test_models_and_migrations_agree(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations disagree; write a migration: {diff}"
    assert pending(database.engine) == []


def test_slack_store_tables_match_slack_sdk() -> None:
    theirs = MetaData()
    expected = {
        slack_installations: SQLAlchemyInstallationStore.build_installations_table(
            theirs, "slack_installations"
        ),
        slack_bots: SQLAlchemyInstallationStore.build_bots_table(theirs, "slack_bots"),
        slack_oauth_states: SQLAlchemyOAuthStateStore.build_oauth_states_table(theirs, "slack_oauth_states"),
    }
    for ours, sdk in expected.items():
        assert ours.name == sdk.name
        assert [(c.name, str(c.type), c.nullable, c.primary_key) for c in ours.columns] == [
            (c.name, str(c.type), c.nullable, c.primary_key) for c in sdk.columns
        ]


def test_datetimes_are_aware_and_utc(database: Database) -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    at = dt.datetime(2026, 3, 29, 9, 0, tzinfo=berlin)
    with database.begin() as session:
        session.add(Workspace(team_id="T_TZ", installed_at=at))
    with database.begin() as session:
        stored = session.scalars(select(Workspace.installed_at)).one()
    assert stored.tzinfo is not None and stored.utcoffset() == dt.timedelta(0)
    assert stored == at

    with pytest.raises(Exception, match="naive datetime"), database.begin() as session:
        session.add(Workspace(team_id="T_NAIVE", installed_at=dt.datetime(2026, 1, 1)))


def test_one_person_per_workspace_and_user(database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    with database.begin() as session:
        ws = Workspace(team_id="T1")
        session.add(ws)
        session.flush()
        session.add(Person(workspace_id=ws.id, slack_user_id="U1", side=Side.IT))
    with pytest.raises(IntegrityError), database.begin() as session:
        session.add(Person(workspace_id=ws.id, slack_user_id="U1", side=Side.MARKETING))


def test_sqlite_wal_and_concurrent_writers_never_lock(tmp_path: Path) -> None:
    from db.migrate import upgrade

    database = Database(f"sqlite:///{tmp_path / 'busy.db'}")
    upgrade(database.engine)
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    with database.begin() as session:
        session.add(Workspace(team_id="T1"))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                # Read, then write, in one transaction: the pattern that fails without BEGIN IMMEDIATE.
                with database.begin() as session:
                    ws = session.scalars(select(Workspace).where(Workspace.team_id == "T1")).one()
                    session.add(Person(workspace_id=ws.id, slack_user_id=f"U{n}-{i}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.begin() as session:
        assert session.scalar(text("SELECT count(*) FROM people")) == 8 * 40
    database.dispose()


def test_reads_and_health_checks_never_wait_for_a_writer(tmp_path: Path) -> None:
    # /healthz and read-only units of work must answer while the scheduler holds SQLite's write
    # lock (e.g. catching up thousands of rituals at start).
    from db.migrate import upgrade

    database = Database(f"sqlite:///{tmp_path / 'read.db'}")
    upgrade(database.engine)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with database.begin() as session:
            session.add(Workspace(team_id="T_WRITING"))
            session.flush()
            holding.set()
            release.wait(60)  # longer than the busy timeout: a reader that queued would fail

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        assert database.ping()
        with database.read() as session:
            # The writer has not committed: a reader sees the last committed state, without waiting.
            assert session.scalar(text("SELECT count(*) FROM workspaces")) == 0
            session.add(Workspace(team_id="T_NEVER"))
    finally:
        release.set()
        thread.join()
    with database.read() as session:
        teams = set(session.scalars(select(Workspace.team_id)))
    assert teams == {"T_WRITING"}  # a read unit of work never commits what was added in it
    database.dispose()


def test_writes_in_turn_are_served_first_come_first_served(tmp_path: Path) -> None:
    # The scheduler's preparer runs write after write; a poster's one short write must get its turn
    # when it comes, not whenever SQLite's busy handler happens to wake it (bench/README.md).
    from db.migrate import upgrade

    database = Database(f"sqlite:///{tmp_path / 'turns.db'}")
    upgrade(database.engine)
    turns = database.writes_in_turn()
    assert turns is not database and turns.engine is database.engine
    assert turns.writes_in_turn() is turns  # one set of turns, however often it is asked for
    lock = turns._write_turns
    assert lock is not None
    order: list[int] = []

    def writer(n: int) -> None:
        with turns.begin() as session:
            order.append(n)
            session.add(Workspace(team_id=f"T{n}"))

    waiting = []
    with turns.begin() as session:
        session.add(Workspace(team_id="T_FIRST"))
        for n in range(5):
            thread = threading.Thread(target=writer, args=(n,))
            thread.start()
            waiting.append(thread)
            deadline = time.monotonic() + 10
            while lock._next_ticket < n + 2:  # this writer took its ticket: it queues behind the last
                assert time.monotonic() < deadline
                time.sleep(0.001)
        with turns.read() as reader:  # reads never queue
            assert reader.scalar(text("SELECT count(*) FROM workspaces")) == 0
    for thread in waiting:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]
    with database.read() as session:
        assert session.scalar(text("SELECT count(*) FROM workspaces")) == 6
    database.dispose()


def test_writes_need_no_turns_on_postgresql(database: Database, is_postgres: bool) -> None:
    turns = database.writes_in_turn()
    assert (turns is database) == is_postgres


def _count_commits(database: Database) -> list[int]:
    commits = [0]

    @event.listens_for(database.engine, "commit")
    def counted(_conn: object) -> None:
        commits[0] += 1

    return commits


def test_units_of_work_asked_for_together_share_commits_and_each_gets_its_result(
    database: Database,
) -> None:
    # The poster's threads take a lease before each post and record its ts after: 10,000 check-ins
    # due at once were 20,000 transactions queued for SQLite's one write lock (bench/README.md).
    turns = database.writes_in_turn()
    commits = _count_commits(database)
    gate = threading.Barrier(24)
    results: dict[int, object] = {}

    def add(n: int) -> None:
        gate.wait(10)

        def work(session: Any) -> int:
            session.add(Workspace(team_id=f"T_G{n}"))
            time.sleep(0.005)  # while one group's transaction runs, the threads arriving gather
            return n * n

        results[n] = turns.together(work)
        # Committed when it returns: another connection sees the row at once.
        with database.read() as session:
            assert session.scalar(select(Workspace.id).where(Workspace.team_id == f"T_G{n}")) is not None

    threads = [threading.Thread(target=add, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == {n: n * n for n in range(24)}
    assert 1 <= commits[0] < 24  # some of them shared a commit


def _in_one_group(turns: Database, works: dict[str, Callable[[Any], Any]]) -> dict[str, object]:
    """Run `works` through `turns.together` from threads of their own, all gathered behind one group
    being committed so that they make up the next group together; what each returned or raised."""
    release = threading.Event()
    outcomes: dict[str, object] = {}

    def hold(session: object) -> None:
        release.wait(10)  # the first group runs this alone while the next ones gather behind it

    def run(name: str) -> None:
        try:
            outcomes[name] = turns.together(works[name])
        except Exception as exc:
            outcomes[name] = exc

    first = threading.Thread(target=turns.together, args=(hold,))
    first.start()
    deadline = time.monotonic() + 10
    while not turns._group.running:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    threads = [threading.Thread(target=run, args=(name,)) for name in works]
    for thread in threads:
        thread.start()
    while len(turns._group.waiting) < len(works):
        assert time.monotonic() < deadline
        time.sleep(0.001)
    release.set()
    for thread in [first, *threads]:
        thread.join(20)
    return outcomes


def test_a_unit_of_work_that_fails_in_a_group_undoes_nothing_of_the_others(database: Database) -> None:
    turns = database.writes_in_turn()
    with database.begin() as session:
        session.add(Workspace(team_id="T_THERE"))

    def add(team: str) -> Callable[[Any], None]:
        return lambda session: session.add(Workspace(team_id=team))

    def duplicate(session: Any) -> None:
        session.add(Workspace(team_id="T_THERE"))
        session.flush()  # the team id is taken: this one raises

    outcomes = _in_one_group(turns, {"T_A": add("T_A"), "T_B": add("T_B"), "dup": duplicate})
    assert outcomes["T_A"] is None and outcomes["T_B"] is None
    assert isinstance(outcomes["dup"], IntegrityError)
    with database.read() as session:
        teams = session.scalars(select(Workspace.team_id).where(Workspace.team_id.in_(["T_A", "T_B"])))
        assert sorted(teams) == ["T_A", "T_B"]


def test_a_database_failure_in_a_group_fails_each_of_its_units_of_work_once(database: Database) -> None:
    # Locked past the busy timeout, or gone: each unit of work alone would meet the same, so they are
    # not run again one by one (the last would wait for every timeout in turn).
    turns = database.writes_in_turn()
    runs: list[str] = []

    def work(name: str) -> Callable[[Any], None]:
        def run(session: Any) -> None:
            runs.append(name)
            if name == "locked":
                raise OperationalError("UPDATE …", {}, Exception("database is locked"))
            session.add(Workspace(team_id=f"T_{name}"))

        return run

    outcomes = _in_one_group(turns, {name: work(name) for name in ("a", "locked", "b")})
    assert all(isinstance(outcomes[n], OperationalError) for n in ("a", "locked", "b"))
    assert runs.count("locked") == 1 and len(runs) == len(set(runs))  # none run again alone
    with database.read() as session:
        assert session.scalar(select(Workspace.id).where(Workspace.team_id.in_(["T_a", "T_b"]))) is None


def _schema(url: str) -> dict[str, object]:
    database = Database(url)
    insp = inspect(database.engine)
    schema: dict[str, object] = {}
    for table in sorted(insp.get_table_names()):
        schema[table] = {
            "columns": [(c["name"], c["nullable"]) for c in insp.get_columns(table)],
            "pk": sorted(insp.get_pk_constraint(table)["constrained_columns"]),
            "fks": sorted(
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    fk["options"].get("ondelete"),
                )
                for fk in insp.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
                if not i.get("duplicates_constraint")
            ),
            "checks": sorted(c["name"] or "" for c in insp.get_check_constraints(table)),
        }
    database.dispose()
    return schema


def _tandem_db_upgrade(url: str, cwd: Path) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


@pytest.mark.postgres_only
def test_db_upgrade_gives_the_same_schema_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    server = postgres_server_url()
    if not server:
        pytest.skip("needs TANDEM_TEST_DATABASE_URL (the PostgreSQL run of CI sets it)")
    sqlite_url = f"sqlite:///{tmp_path / 'schema.db'}"
    _tandem_db_upgrade(sqlite_url, tmp_path)
    with fresh_postgres_database(server, prefix="tandem_schema") as pg_url:
        _tandem_db_upgrade(pg_url, tmp_path)
        _tandem_db_upgrade(pg_url, tmp_path)  # a second upgrade finds nothing to do
        pg = _schema(pg_url)
    lite = _schema(sqlite_url)
    assert list(lite) == list(pg)
    for table in lite:
        assert lite[table] == pg[table], table
    people = pg["people"]
    assert isinstance(people, dict) and "ck_people_side" in people["checks"]
