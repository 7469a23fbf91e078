"""Shared fixtures: a migrated database, the fake Web API, and the real app served over HTTP."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from sqlalchemy import create_engine, text

from bot.config import Mode, Settings
from bot.runtime import Runtime
from bot.services import Services
from db.base import Base
from db.migrate import upgrade
from db.session import Database
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.databases import fresh_database, postgres_server_url
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.world import SECRET_KEY

SIGNING_SECRET = "test-signing-secret-0123456789"
# Every Settings a test builds (and the scheduler processes tests start) gets the test server key,
# so no test run ever generates a key file into the working directory.
os.environ.setdefault("TANDEM_SECRET_KEY", SECRET_KEY)
BOT_TOKEN = "xoxb-test-token"
START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def pytest_report_header(config: pytest.Config) -> str:
    server = postgres_server_url()
    return f"tandem test database: {'PostgreSQL at ' + server.split('@')[-1] if server else 'SQLite'}"


def pytest_sessionstart(session: pytest.Session) -> None:
    # A PostgreSQL run that cannot reach its server must fail, never quietly run on nothing.
    server = postgres_server_url()
    if server:
        engine = create_engine(server)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise pytest.UsageError(
                f"TANDEM_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}"
            ) from exc
        finally:
            engine.dispose()
    elif os.environ.get("CI") == "true" and os.environ.get("TANDEM_TEST_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("CI asked for the PostgreSQL run but TANDEM_TEST_DATABASE_URL is not set")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database per test run, built by the migrations (never by create_all)."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        database = Database(url)
        upgrade(database.engine)
        database.dispose()
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    # Empty every table after each test: the app under test commits from its own threads, so a
    # rolled-back outer transaction cannot isolate tests here.
    with database.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
    database.dispose()


@pytest.fixture
def is_postgres(database: Database) -> bool:
    return database.backend == "postgresql"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        slack_api_url=fake_slack.base_url,
        database_url=database_url,
        # Hundreds of check-ins into one workspace: no pacing of Tandem's own (tests of it set one).
        tandem_workspace_posts_per_minute=0,
    )


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # The default listen backlog of 5 overflows when a test sends hundreds of clicks at once; the
    # kernel then drops or resets connections, which would look like the app failing.
    request_queue_size = 256


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class RunningApp:
    """The real Bolt app behind a real HTTP server, with what tests need to drive and inspect it."""

    url: str
    runtime: Runtime
    slack: SlackRequests
    fake: FakeSlack
    clock: FrozenClock

    @property
    def services(self) -> Services:
        return self.runtime.services

    def drain(self) -> None:
        """Wait until the work Bolt runs after acknowledging has finished (no sleeping)."""
        self.runtime.executor.submit(lambda: None).result(timeout=10)

    def settle(self) -> None:
        """Wait for listener work and then for everything it queued for Slack."""
        self.drain()
        assert self.runtime.outbox.join(20)
        self.drain()


@contextmanager
def serve_runtime(runtime: Runtime, fake: FakeSlack, clock: FrozenClock) -> Iterator[RunningApp]:
    """Serve `runtime`'s WSGI app on a local port until the block ends, then close the runtime."""
    assert runtime.wsgi is not None
    server = make_server("127.0.0.1", 0, runtime.wsgi, _ThreadingWSGIServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        requests = SlackRequests(url, SIGNING_SECRET, default_response_url=fake.response_url())
        yield RunningApp(url, runtime, requests, fake, clock)
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()


@pytest.fixture
def listener_threads() -> int:
    """Threads for the work Bolt runs after acknowledging. One, so that `drain` can wait for it; a
    test of concurrency parametrizes more (and waits on what the fake received instead)."""
    return 1


@pytest.fixture
def running_app(
    settings: Settings, database: Database, fake_slack: FakeSlack, clock: FrozenClock, listener_threads: int
) -> Iterator[RunningApp]:
    # The same Runtime `tandem serve` builds, on a frozen clock, and no pause between posts into
    # one channel.
    runtime = Runtime(
        settings, Mode.HTTP, clock=clock, listener_threads=listener_threads, poster_interval=0.0
    )
    with serve_runtime(runtime, fake_slack, clock) as app:
        yield app


@pytest.fixture
def scheduler(settings: Settings, clock: FrozenClock) -> Iterator[TandemScheduler]:
    """The scheduler `tandem scheduler` runs, wired by the same Runtime, on the frozen clock, with
    no pause between posts into one channel. Nothing fires on real time until a test starts it."""
    runtime = Runtime(
        settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0
    )
    assert runtime.scheduler is not None
    yield runtime.scheduler
    runtime.close()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
