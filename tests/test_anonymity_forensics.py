"""Anonymity measured below the SQL: the raw bytes of the storage, read the way an attacker would.

After an anonymous pulse closes, each test reads what is on disk (SQLite: the database file, its
WAL and its shm; PostgreSQL: every page of every relation of the database, tables, indexes, TOAST
and catalogs alike, through the pageinspect extension) and tries to tie answers to people with
everything found there plus the workspace's user ids, and even with the server's secret key: it
hashes every user id with every 64-hex-character string found as a salt, both as Tandem keys voters
now and as it did before the server key, and looks for the result among the strings found.

The companion tests run the same attack where it must succeed, so that its silence means something:
before the close (with the key), and after a close whose erasure was switched off or held up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from bot import ids
from bot.blocks.pulse import encode_answer
from bot.config import Mode, Settings
from bot.runtime import Runtime
from bot.usecases.pulses import open_pulse
from db.migrate import upgrade
from db.models import Pulse, PulseBallot, PulseComment, PulseQuestion, PulseReminder
from db.pulses import PulseError, VoterKeys, record_answer
from db.session import Database, normalize_url
from db.working_hours import DEFAULT
from jobs import pulses as pulse_job
from tests.clock import FrozenClock
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, RunningApp, serve_runtime
from tests.databases import fresh_database
from tests.fake_slack import FakeSlack
from tests.world import SECRET_KEY, TEAM, World

MARKETING = ("U_M1", "U_M2", "U_M3")
IT = ("U_I1", "U_I2", "U_I3")
VOTERS = (*MARKETING, *IT)
# Everyone the attacker knows of in the workspace: the voters, and people who never answered.
WORKSPACE_USERS = (*VOTERS, "U_BYSTANDER", "U_CREATOR", "U_ADMIN")
SERVER_KEY = SECRET_KEY.encode()


# -- the attack -------------------------------------------------------------------------------------

_HEX_RUN = re.compile(rb"[0-9a-f]{64,}")


def hex_strings(blobs: Iterable[bytes]) -> set[str]:
    """Every 64-character lowercase hex string in `blobs` (each window of a longer run too): the
    shape of a salt and of a voter hash."""
    found: set[str] = set()
    for blob in blobs:
        for run in _HEX_RUN.findall(blob):
            word = run.decode()
            found.update(word[i : i + 64] for i in range(len(word) - 63))
    return found


def relink(blobs: list[bytes], user_ids: Iterable[str], server_keys: Iterable[bytes] = ()) -> set[str]:
    """The people whose ballot can be found in `blobs`: for every salt candidate found and every
    user id, the hash Tandem would have stored (with each of `server_keys`, and with the salt alone
    as before the server key); a hash found in the storage ties that person to the ballot it keys
    (the row beside it holds their side and score)."""
    found = hex_strings(blobs)
    keyrings = [VoterKeys(key) for key in server_keys]
    linked: set[str] = set()
    for salt in found:
        for user in user_ids:
            guesses = [hmac.new(salt.encode(), user.encode(), hashlib.sha256).hexdigest()]
            guesses += [keys.voter(salt, keys.check, user) for keys in keyrings]
            if any(guess in found for guess in guesses):
                linked.add(user)
    return linked


# -- the storage ------------------------------------------------------------------------------------


@dataclass
class Storage:
    url: str

    @property
    def backend(self) -> str:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"

    def raw(self) -> list[bytes]:
        """What is on disk now, below the SQL, while Tandem runs."""
        if self.backend == "sqlite":
            path = Path(self.url.removeprefix("sqlite:///"))
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            return [file.read_bytes() for file in files if file.exists()]
        return self._pages()

    def _pages(self) -> list[bytes]:
        engine = create_engine(normalize_url(self.url), isolation_level="AUTOCOMMIT")
        pages: list[bytes] = []
        try:
            with engine.connect() as conn:
                relations = conn.execute(
                    text(
                        "SELECT oid::regclass::text, pg_relation_size(oid) / current_setting('block_size')::int"
                        " FROM pg_class WHERE relkind IN ('r', 'i', 't', 'm', 'S')"
                        " AND relpersistence <> 't' AND pg_relation_size(oid) > 0"
                    )
                ).all()
                assert "pulses" in {name for name, _ in relations}  # (an empty table has no page)
                for name, blocks in relations:
                    pages += [
                        bytes(page)
                        for (page,) in conn.execute(
                            text("SELECT get_raw_page(:rel, n::int) FROM generate_series(0, :last) AS n"),
                            {"rel": name, "last": blocks - 1},
                        )
                    ]
        finally:
            engine.dispose()
        return pages

    def wal_bytes(self) -> int:
        path = Path(f"{self.url.removeprefix('sqlite:///')}-wal")
        return path.stat().st_size if path.exists() else 0


@dataclass
class ForensicApp:
    app: RunningApp
    storage: Storage


@pytest.fixture
def forensic(tmp_path: Path, fake_slack: FakeSlack, clock: FrozenClock) -> Iterator[ForensicApp]:
    """The real app over a database of its own (nothing another test wrote lingers in its files),
    with pageinspect on PostgreSQL."""
    with fresh_database(tmp_path, "forensic") as url:
        database = Database(url)
        upgrade(database.engine)
        if database.backend == "postgresql":
            with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pageinspect")
        database.dispose()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
            slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
            slack_api_url=fake_slack.base_url,
            database_url=url,
        )
        runtime = Runtime(settings, Mode.HTTP, clock=clock, listener_threads=1, poster_interval=0.0)
        with serve_runtime(runtime, fake_slack, clock) as app:
            yield ForensicApp(app, Storage(url))


# -- an anonymous pulse, as Slack drives it ---------------------------------------------------------


@dataclass
class Secrets:
    """What the database held while the pulse was open (read through SQL, before the close)."""

    salt: str
    hashes: set[str]


def click(app: RunningApp, pulse_id: int, user: str, question: PulseQuestion, score: int) -> None:
    app.slack.block_action(
        f"{ids.ACTION_PULSE_ANSWER_PREFIX}:{question.value}:{score}",
        value=encode_answer(pulse_id, question, score),
        user_id=user,
        channel_id="C_SHARED",
        response_url=app.fake.response_url(),
    )


def write_comment(app: RunningApp, pulse_id: int, user: str, text: str) -> None:
    """ "Add a comment" on the pulse message, then the modal's submission, as Slack sends them."""
    app.slack.block_action(
        ids.ACTION_PULSE_COMMENT,
        value=str(pulse_id),
        user_id=user,
        channel_id="C_SHARED",
        response_url=app.fake.response_url(),
    )
    app.drain()
    view = app.fake.calls("views.open")[-1].params["view"]
    assert view["callback_id"] == ids.VIEW_PULSE_COMMENT
    answer = app.slack.view_submission(
        ids.VIEW_PULSE_COMMENT,
        values={
            ids.BLOCK_PULSE_COMMENT_TEXT: {
                ids.ACTION_PULSE_COMMENT_TEXT: {"type": "plain_text_input", "value": text}
            }
        },
        user_id=user,
        private_metadata=view["private_metadata"],
    )
    assert answer.status_code == 200 and not answer.text  # saved: the modal closes
    app.drain()


COMMENTS = {
    "U_M1": "Launch dates reach IT too late",
    "U_M2": "The new intake form helps",
    "U_I1": "Briefs change after sign-off",
    "U_I2": "Good kickoff last week",
}


def answered_pulse(app: RunningApp) -> int:
    """An anonymous pulse of a ritual of MARKETING and IT: five answer both questions, one changes
    their mind, the sixth gets the reminder DM and then answers too. Four of them also comment (one
    edits their comment), so every attack below covers the comments as well."""
    app.fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    ritual_id = World(app.services.database, app.clock).ritual(
        team_id=TEAM,
        marketing=MARKETING,
        it=IT,
        pulse_anonymous=True,
        pulse_window_hours=24,
        pulse_comments=True,
    )
    pulse_id = open_pulse(app.services, ritual_id, owner="U_M1")
    assert pulse_id is not None
    app.settle()
    # Reminders go out in the recipient's working hours (db.working_hours): the team works in a zone
    # where the reminder time falls inside them, so U_I3's reminder goes at once, whatever the clock.
    due = pulse_of(app, pulse_id).reminders_due_at
    assert due is not None
    due = due.replace(tzinfo=dt.UTC) if due.tzinfo is None else due
    zone = next(
        z for z in (f"Etc/GMT{-h:+d}" if h else "UTC" for h in range(-11, 13)) if DEFAULT.contains(due, z)
    )
    for user in WORKSPACE_USERS:
        app.fake.add_user(user, tz=zone, team_id=TEAM)
    for i, user in enumerate(VOTERS[:-1]):
        click(app, pulse_id, user, PulseQuestion.PARTNER, 1 + i % 5)
        click(app, pulse_id, user, PulseQuestion.LEVEL, 5 - i % 5)
    click(app, pulse_id, "U_I1", PulseQuestion.PARTNER, 2)  # a change of mind
    app.drain()
    write_comment(app, pulse_id, "U_M1", "Launch dates reach us late")
    for user, words in COMMENTS.items():
        write_comment(app, pulse_id, user, words)  # U_M1 edits theirs
    reminders_due = pulse_of(app, pulse_id).reminders_due_at
    assert reminders_due is not None
    app.clock.set(reminders_due + dt.timedelta(seconds=1))
    pulse_job.run(app.services, now=app.clock.now())  # the minutely job: U_I3's reminder
    assert [c.params["channel"] for c in app.fake.calls("chat.postMessage")].count("U_I3") == 1
    click(app, pulse_id, "U_I3", PulseQuestion.PARTNER, 3)
    click(app, pulse_id, "U_I3", PulseQuestion.LEVEL, 3)
    app.drain()
    return pulse_id


def pulse_of(app: RunningApp, pulse_id: int) -> Pulse:
    with app.services.database.begin() as session:  # (a read-only unit of work would expire it)
        pulse = session.get(Pulse, pulse_id)
        assert pulse is not None
        return pulse


def secrets_of(app: RunningApp, pulse_id: int, *, extra_commenters: int = 0) -> Secrets:
    with app.services.database.read() as session:
        salt = pulse_of(app, pulse_id).ballot_salt
        assert salt is not None
        hashes = set(session.scalars(select(PulseBallot.voter).where(PulseBallot.pulse_id == pulse_id)))
        hashes |= set(session.scalars(select(PulseReminder.voter).where(PulseReminder.pulse_id == pulse_id)))
        commenters = set(session.scalars(select(PulseComment.voter).where(PulseComment.pulse_id == pulse_id)))
    assert len(commenters) == len(COMMENTS) + extra_commenters and None not in commenters
    hashes |= {voter for voter in commenters if voter is not None}
    assert len(hashes) == len(VOTERS) + extra_commenters
    return Secrets(salt, hashes)


def close(app: RunningApp, pulse_id: int) -> None:
    """Its time comes and the scheduler's minutely job closes it and posts its results."""
    app.clock.set(pulse_of(app, pulse_id).closes_at + dt.timedelta(seconds=1))
    pulse_job.run(app.services, now=app.clock.now())
    app.settle()
    assert pulse_of(app, pulse_id).closed_at is not None
    results = [c for c in app.fake.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert results, "the results were posted in the pulse's thread"


def assert_nothing_left(storage: Storage, secrets: Secrets) -> None:
    raw = storage.raw()
    assert raw and sum(map(len, raw)) > 0
    found = hex_strings(raw)
    assert secrets.salt not in found
    assert not secrets.hashes & found
    # With everything on disk, every user id of the workspace and even the server's key: nobody.
    assert relink(raw, WORKSPACE_USERS, [SERVER_KEY]) == set()
    assert not any(SERVER_KEY in blob for blob in raw), "the server key never enters the database"


# -- the tests --------------------------------------------------------------------------------------


def test_after_close_the_raw_storage_ties_no_answer_to_anyone(forensic: ForensicApp) -> None:
    app, storage = forensic.app, forensic.storage
    pulse_id = answered_pulse(app)
    secrets = secrets_of(app, pulse_id)
    close(app, pulse_id)
    assert_nothing_left(storage, secrets)
    if storage.backend == "sqlite":
        assert storage.wal_bytes() == 0  # checkpointed and truncated after the close committed


def test_after_close_nothing_ties_a_comment_to_its_writer(forensic: ForensicApp) -> None:
    """Comments are keyed like ballots while the pulse is open: someone who only commented (never
    answered) is found through the comments table alone, with the key; after close their comment
    is still shown, and nothing below the SQL ties it, or any other, to its writer."""
    app, storage = forensic.app, forensic.storage
    pulse_id = answered_pulse(app)
    assert "Marketing side" in app.slack.command("role marketing", user_id="U_BYSTANDER").json()["text"]
    write_comment(app, pulse_id, "U_BYSTANDER", "Someone who did not answer")
    secrets = secrets_of(app, pulse_id, extra_commenters=1)
    assert relink(storage.raw(), WORKSPACE_USERS, [SERVER_KEY]) == {*VOTERS, "U_BYSTANDER"}
    close(app, pulse_id)
    assert_nothing_left(storage, secrets)
    with app.services.database.read() as session:
        kept = session.execute(
            select(PulseComment.voter, PulseComment.text).where(PulseComment.pulse_id == pulse_id)
        ).all()
    assert {voter for voter, _ in kept} == {None}
    assert sorted(text for _, text in kept) == sorted([*COMMENTS.values(), "Someone who did not answer"])
    # The texts are still in the storage (they are what the thread shows), with no hash beside them.
    assert any(b"Someone who did not answer" in blob for blob in storage.raw())


def test_the_attack_works_on_an_open_pulse_with_the_key_and_fails_without_it(forensic: ForensicApp) -> None:
    app, storage = forensic.app, forensic.storage
    pulse_id = answered_pulse(app)
    raw = storage.raw()
    # The attack is real: given the server key, the open pulse's storage names every voter.
    assert relink(raw, WORKSPACE_USERS, [SERVER_KEY]) == set(VOTERS)
    # The database alone (a dump, a leaked backup, the WAL) names nobody, even while it is open.
    assert relink(raw, WORKSPACE_USERS) == set()
    assert relink(raw, WORKSPACE_USERS, [b"a guessed key " * 3]) == set()
    assert not any(SERVER_KEY in blob for blob in raw)
    close(app, pulse_id)


def test_without_the_erasure_a_closed_pulse_is_relinked_from_the_raw_storage(
    forensic: ForensicApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `Database.erase_residue` is for: with it switched off, the deleted salt and ballots of a
    closed pulse are still on disk (SQLite: in the WAL; PostgreSQL: dead tuples in heap pages), and
    whoever also holds the key ties every voter to their answers."""
    monkeypatch.setattr(Database, "erase_residue", lambda self, *tables: False)
    app, storage = forensic.app, forensic.storage
    pulse_id = answered_pulse(app)
    secrets = secrets_of(app, pulse_id)
    close(app, pulse_id)
    with app.services.database.read() as session:  # in SQL, the close did delete them
        assert pulse_of(app, pulse_id).ballot_salt is None
        assert session.scalars(select(PulseBallot)).all() == []
    raw = storage.raw()
    assert secrets.salt in hex_strings(raw)
    assert relink(raw, WORKSPACE_USERS, [SERVER_KEY]) == set(VOTERS)
    assert relink(raw, WORKSPACE_USERS) == set()  # and still nobody without the key


def test_a_reader_holding_the_erasure_up_delays_it_to_the_next_minute(forensic: ForensicApp) -> None:
    """A checkpoint cannot truncate the WAL while a reader still reads an older snapshot, and VACUUM
    FULL waits for the table's readers: the erasure gives up after a short wait, stays pending, and
    the next run of the minutely pulse job finishes it."""
    app, storage = forensic.app, forensic.storage
    pulse_id = answered_pulse(app)
    secrets = secrets_of(app, pulse_id)
    app.services.database.erase_wait = 0.3
    release = threading.Event()
    holding = threading.Event()

    def reader() -> None:
        if storage.backend == "sqlite":
            conn = sqlite3.connect(storage.url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM pulse_ballots").fetchone()  # a snapshot from before the close
            holding.set()
            release.wait(30)
            conn.execute("COMMIT")
            conn.close()
        else:
            engine = create_engine(normalize_url(storage.url))
            with engine.connect() as conn, conn.begin():
                # Holds the share lock of the first table the erasure rewrites.
                conn.execute(text("SELECT count(*) FROM pulse_ballots")).scalar()
                holding.set()
                release.wait(30)
            engine.dispose()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert holding.wait(10)
        close(app, pulse_id)
        raw = storage.raw()
        assert secrets.salt in hex_strings(raw), "held up: the residue is still there"
        assert relink(raw, WORKSPACE_USERS, [SERVER_KEY]) == set(VOTERS)
    finally:
        release.set()
        thread.join(10)
    app.clock.set(app.clock.now() + dt.timedelta(minutes=1))
    pulse_job.run(app.services, now=app.clock.now())
    assert_nothing_left(storage, secrets)


def test_an_uninstall_closing_an_open_pulse_leaves_nothing_below_the_sql(forensic: ForensicApp) -> None:
    app, storage = forensic.app, forensic.storage
    pulse_id = answered_pulse(app)
    secrets = secrets_of(app, pulse_id)
    response = app.slack.event({"type": ids.EVENT_APP_UNINSTALLED}, team_id=TEAM)
    assert response.response.status_code == 200
    app.drain()
    assert pulse_of(app, pulse_id).closed_at is not None
    assert_nothing_left(storage, secrets)


def test_a_changed_server_key_stores_no_answer_to_a_pulse_opened_under_the_old_one(
    forensic: ForensicApp,
) -> None:
    """Answers keyed with another key would not find a person's earlier answer, which would then
    count twice: an answer under a changed key is refused instead, and nothing is stored."""
    app = forensic.app
    pulse_id = answered_pulse(app)

    def ballots() -> list[tuple[str, str, int]]:
        with app.services.database.read() as session:
            rows = session.execute(
                select(PulseBallot.voter, PulseBallot.question, PulseBallot.score).order_by(PulseBallot.id)
            ).all()
        return [(voter, question.value, score) for voter, question, score in rows]

    before = ballots()
    with pytest.raises(PulseError, match="secret key"), app.services.database.connect() as conn:
        record_answer(
            conn,
            pulse_id,
            team_id=TEAM,
            user_id="U_M1",
            question=PulseQuestion.PARTNER,
            score=5,
            action_ts="9999999999.000001",
            now=app.clock.now(),
            keys=VoterKeys(b"another-server-key-0123456789abcdef"),
        )
    assert ballots() == before


def test_a_snapshot_older_than_the_close_makes_the_erasure_run_again(forensic: ForensicApp) -> None:
    """PostgreSQL: VACUUM FULL copies dead rows that an older snapshot may still see, even one that
    never touched the pulse tables (a long report, a backup in progress). The erasure notices such a
    transaction and runs again at the next minute, after it ended."""
    app, storage = forensic.app, forensic.storage
    if storage.backend != "postgresql":
        pytest.skip("SQLite's case is the reader test above: a checkpoint waits for old snapshots itself")
    pulse_id = answered_pulse(app)
    secrets = secrets_of(app, pulse_id)
    engine = create_engine(normalize_url(storage.url))
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.execute(text("SELECT count(*) FROM workspaces")).scalar()  # a snapshot, no pulse table
                close(app, pulse_id)
                assert secrets.salt in hex_strings(storage.raw()), "still visible to that snapshot"
        app.clock.set(app.clock.now() + dt.timedelta(minutes=1))
        pulse_job.run(app.services, now=app.clock.now())
    finally:
        engine.dispose()
    assert_nothing_left(storage, secrets)


def test_forget_me_takes_a_voters_open_answers_out_of_the_raw_storage_too(forensic: ForensicApp) -> None:
    app, storage = forensic.app, forensic.storage
    pulse_id = answered_pulse(app)
    ask = app.slack.command("forget-me", user_id="U_M2").json()
    confirm = next(
        e
        for b in ask["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.ACTION_FORGET_CONFIRM
    )
    app.slack.block_action(
        confirm["action_id"], value=confirm.get("value"), user_id="U_M2", response_url=app.fake.response_url()
    )
    app.drain()
    # The pulse is still open, so with the key the others can be found: U_M2 no longer.
    assert relink(storage.raw(), WORKSPACE_USERS, [SERVER_KEY]) == set(VOTERS) - {"U_M2"}
    close(app, pulse_id)
    assert relink(storage.raw(), WORKSPACE_USERS, [SERVER_KEY]) == set()


def test_planner_statistics_keep_no_salt_or_voter_hash(forensic: ForensicApp) -> None:
    """PostgreSQL's ANALYZE copies sample values into pg_statistic, where they would outlive the pulse."""
    app, storage = forensic.app, forensic.storage
    if storage.backend != "postgresql":
        pytest.skip("SQLite gathers no statistics unless asked (ANALYZE), and Tandem never asks")
    pulse_id = answered_pulse(app)
    secrets = secrets_of(app, pulse_id)
    engine = create_engine(normalize_url(storage.url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE pulses, pulse_ballots, pulse_reminders, pulse_comments"))
            sampled = conn.execute(
                text(
                    "SELECT tablename, attname FROM pg_stats WHERE tablename IN"
                    " ('pulses', 'pulse_ballots', 'pulse_reminders', 'pulse_comments')"
                    " AND attname IN ('ballot_salt', 'voter')"
                )
            ).all()
            assert sampled == []
            assert conn.execute(
                text("SELECT count(*) FROM pg_stats WHERE tablename = 'pulse_ballots'")
            ).scalar()
    finally:
        engine.dispose()
    close(app, pulse_id)
    assert_nothing_left(storage, secrets)
