"""Everything one Tandem process runs, built in one place and closed in one place."""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.app import create_app, make_installation_store
from bot.config import ConfigError, Mode, Settings
from bot.messenger import Messenger, SlackMessenger
from bot.secret_key import server_secret_key
from bot.services import PulseSettings, Services
from bot.slack_client import make_client
from bot.usecases.home import HomePublisher
from bot.usecases.pulses import refresh_count
from bot.web import TandemWSGI
from db.clock import Clock, SystemClock
from db.pulses import VoterKeys, count_open
from db.session import Database
from db.workspaces import record_install
from jobs.poster import PER_CHANNEL_INTERVAL, POSTER_THREADS
from jobs.pulses import CountRefresher
from jobs.scheduler import TandemScheduler, checkin_outbox

log = logging.getLogger(__name__)


class Runtime:
    """The database, the Bolt app and (optionally) the scheduler of one process."""

    def __init__(
        self,
        settings: Settings,
        mode: Mode,
        *,
        with_app: bool = True,
        with_scheduler: bool = False,
        clock: Clock | None = None,
        listener_threads: int = 16,
        listener_executor: Executor | None = None,
        poster_interval: float = PER_CHANNEL_INTERVAL,
        messenger: Messenger | None = None,
    ) -> None:
        """Everything one process runs, wired once. `messenger` replaces Slack's Web API client
        (tests pass one that records or delays; production never does)."""
        self.settings = settings
        self.mode = mode
        self.clock = clock or SystemClock()
        # Read (or generated) before anything else touches the database: a key file that cannot be
        # read stops Tandem at start with one message, rather than failing the first pulse click.
        voter_keys = VoterKeys(server_secret_key(settings))
        self.database = Database(settings.database_url)
        self.installation_store = (
            make_installation_store(settings, self.database) if mode is Mode.OAUTH else None
        )
        self.messenger: Messenger = messenger or SlackMessenger(settings, mode, self.installation_store)
        pulse_settings = PulseSettings(
            min_answers=settings.tandem_pulse_min_answers, reminder_hours=settings.tandem_pulse_reminder_hours
        )
        self.counts = CountRefresher(lambda pulse_id: refresh_count(self.services, pulse_id))
        # The scheduler process refreshes Home tabs too (a pulse it closed changes them).
        self.homes = HomePublisher(
            self.database, self.messenger, self.clock, min_answers=pulse_settings.min_answers
        )
        # One outbox per process. The scheduler's posts and its other writes take turns on SQLite
        # (Database.writes_in_turn); a web worker without a scheduler still posts `/tandem now` and
        # `/tandem pulse` itself, with fewer threads. The pulse that follows a check-in is opened
        # with the services below, on the outbox's database.
        checkin_database = self.database.writes_in_turn() if with_scheduler else self.database
        self.outbox = checkin_outbox(
            checkin_database,
            self.messenger,
            self.clock,
            threads=POSTER_THREADS if with_scheduler else 2,
            interval=poster_interval,
            on_ritual_change=self._ritual_changed,
            services=lambda: replace(self.services, database=checkin_database),
            grace=dt.timedelta(hours=settings.tandem_missed_grace_hours),
        )
        self.outbox.poster.limit_workspaces(per_minute=settings.tandem_workspace_posts_per_minute or None)
        self.services = Services(
            settings=settings,
            database=self.database,
            clock=self.clock,
            on_schedule_change=self._schedule_changed,
            on_ritual_change=self._ritual_changed,
            checkins=self.outbox,
            messenger=self.messenger,
            pulse_settings=pulse_settings,
            voter_keys=voter_keys,
            counts=self.counts,
            homes=self.homes,
        )
        self.scheduler: TandemScheduler | None = None
        if with_scheduler:
            self.scheduler = TandemScheduler(
                checkin_database,
                self.clock,
                self.messenger,
                outbox=self.outbox,
                services=self.services,
                grace=dt.timedelta(hours=settings.tandem_missed_grace_hours),
                pulse_settings=pulse_settings,
            )
        # Bolt runs each listener's post-ack work here; owning it lets shutdown wait for that work.
        self.executor = listener_executor or ThreadPoolExecutor(
            max_workers=listener_threads, thread_name_prefix="tandem-listener"
        )
        self._state_metrics = metrics.state_registry(lambda: self.outbox.poster.pending, self._open_pulses)
        self.app: App | None = None
        self.wsgi: TandemWSGI | None = None
        if with_app:
            self.app = create_app(
                settings,
                self.services,
                mode=mode,
                listener_executor=self.executor,
                installation_store=self.installation_store,
            )
            self.wsgi = TandemWSGI(self.app, self.database, metrics_text=self.metrics_text)

    def metrics_text(self) -> bytes:
        """What `GET /metrics` answers: the process's counters and this runtime's outbox and pulses."""
        return metrics.exposition(self._state_metrics)

    def _open_pulses(self) -> int:
        with self.database.read() as session:
            return count_open(session)

    def _schedule_changed(self, team_id: str | None) -> None:
        # Without a scheduler in this process, the scheduler process sees it on its periodic resync.
        if self.scheduler is not None:
            self.scheduler.on_change(team_id)

    def _ritual_changed(self, ritual_id: int) -> None:
        if self.scheduler is not None:
            self.scheduler.sync_ritual(ritual_id)

    def start_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.start()

    def close(self) -> None:
        """Finish listener work already acknowledged, stop the scheduler, release connections."""
        # Listener work first: it may still queue check-ins and pulses into the outbox, which the
        # scheduler's shutdown then drains (stopping the outbox first would refuse them).
        self.executor.shutdown(wait=True)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)  # after its running jobs, drains and stops the outbox
        else:
            self.outbox.stop()
        self.counts.stop()
        self.homes.stop()
        self.database.dispose()


def register_single_workspace(settings: Settings, database: Database, clock: Clock) -> str:
    """Check the bot token with `auth.test` and mark its workspace installed.

    Run once at start in single-workspace modes, so a bad token is one clear message instead of
    every worker failing to boot, and a workspace that reinstalled with a new token is active again.
    """
    try:
        auth = make_client(settings, settings.bot_token()).auth_test()
    except SlackApiError as exc:
        raise ConfigError(
            [
                f"Slack rejected SLACK_BOT_TOKEN ({exc.response.get('error')}): reinstall the app and copy "
                "the new bot token from its OAuth & Permissions page."
            ]
        ) from None
    except OSError as exc:
        raise ConfigError(
            [
                f"Slack's Web API at {settings.api_url} could not be reached ({type(exc).__name__}): check "
                "the network, or SLACK_API_URL if you route through a proxy."
            ]
        ) from None
    team_id = auth["team_id"]
    with database.begin() as session:
        record_install(
            session, team_id, name=auth.get("team"), enterprise_id=auth.get("enterprise_id"), now=clock.now()
        )
    return team_id
