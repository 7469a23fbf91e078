"""The scheduler: APScheduler 3.11 in a background thread, its jobs derived from the database.

The rituals table is the source of truth. Each active ritual has one job, id `checkin:<ritual id>`,
with a DST-correct trigger in the ritual's timezone; the jobs are rebuilt from the table at start,
after every change made in this process, and every minute (to see changes other processes made).
Nothing lives in an APScheduler job store: job stores cannot be shared by two schedulers, and
exactly-once posting comes from occurrence rows claimed in the database, not from here.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session

from db import occurrences
from db.clock import Clock
from db.rituals import cadence_of, schedulable_rituals
from db.session import Database
from jobs import housekeeping
from jobs.cadence import Cadence, build_trigger
from jobs.checkins import PreparedCheckin, prepare_due
from jobs.delivery import Messenger
from jobs.ledger import nudge_overdue, post_due_digests
from jobs.outbox import CheckinOutbox
from jobs.poster import PER_CHANNEL_INTERVAL
from jobs.pulses import ClosedHook, PulseSettings, close_due, pulse_after_checkin, send_reminders

log = logging.getLogger(__name__)

HOUSEKEEPING_JOB_ID = "housekeeping"
RESYNC_JOB_ID = "resync"
PULSES_JOB_ID = "pulses"
LEDGER_JOB_ID = "ledger"
CHECKIN_JOB_PREFIX = "checkin:"
RESYNC_INTERVAL = dt.timedelta(minutes=1)


def checkin_job_id(ritual_id: int) -> str:
    return f"{CHECKIN_JOB_PREFIX}{ritual_id}"


class TandemScheduler:
    """Owns one APScheduler instance, the per-channel poster, and the jobs derived from the tables."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        messenger: Messenger | None = None,
        *,
        grace: dt.timedelta = dt.timedelta(hours=2),
        poster_threads: int = 16,
        poster_interval: float = PER_CHANNEL_INTERVAL,
        pulse_settings: PulseSettings | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.messenger = messenger
        self.grace = grace
        self.pulse_settings = pulse_settings or PulseSettings()
        # Set by the runtime: refresh App Home tabs of a closed pulse's ritual members.
        self.on_pulse_closed: ClosedHook | None = None
        self.outbox = (
            CheckinOutbox(
                database,
                messenger,
                clock.now,
                threads=poster_threads,
                interval=poster_interval,
                on_paused=lambda team_id: self.sync(),
            )
            if messenger is not None
            else None
        )
        if self.outbox is not None and messenger is not None:
            self.outbox.after_posted = pulse_after_checkin(
                database, messenger, self.outbox.send, self.pulse_settings, clock.now
            )
        self._signatures: dict[str, Cadence] = {}
        self._sync_lock = threading.Lock()
        self.ready = threading.Event()  # set once the first sync and catch-up are done
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": {"type": "threadpool", "max_workers": 8}},
            # Set on purpose (APScheduler's defaults are a 1-second grace): a check-in job that
            # starts late still runs within the grace window, once (coalesced), never overlapping.
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(grace.total_seconds()) or 1,
            },
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start firing; the first sync and catch-up run in the background so the web app is not held up."""
        self.scheduler.add_job(
            self._unit_of_work(housekeeping.run),
            IntervalTrigger(hours=1),
            id=HOUSEKEEPING_JOB_ID,
            name="housekeeping",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.sync,
            IntervalTrigger(seconds=int(RESYNC_INTERVAL.total_seconds())),
            id=RESYNC_JOB_ID,
            name="re-derive check-in jobs from the rituals table",
            replace_existing=True,
        )
        if self.messenger is not None:
            self.scheduler.add_job(
                self.pulse_work,
                IntervalTrigger(minutes=1),
                id=PULSES_JOB_ID,
                name="close due pulses and send reminders",
                replace_existing=True,
            )
        if self.messenger is not None:
            self.scheduler.add_job(
                self.ledger_work,
                IntervalTrigger(minutes=10),
                id=LEDGER_JOB_ID,
                name="monthly wins digests and overdue commitment nudges",
                replace_existing=True,
            )
        self.scheduler.start()
        threading.Thread(target=self._first_run, name="tandem-scheduler-start", daemon=True).start()

    def _first_run(self) -> None:
        try:
            with self.database.begin() as session:
                stale = occurrences.fail_stale_claims(session, now=self.clock.now())
            if stale:
                log.warning("%d check-ins were interrupted while posting and are recorded as failed", stale)
            self.sync()
            self.catch_up()
            self.ledger_work()  # a digest that fell due while Tandem was down
            log.info("scheduler started with %d check-in jobs", len(self._signatures))
        except Exception:
            log.exception("scheduler start-up sync failed; the periodic resync will try again")
        finally:
            self.ready.set()

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with `wait`, let running jobs and queued posts finish (or give them back)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        abandoned = self.outbox.stop(timeout=20.0 if wait else 0.0) if self.outbox else 0
        if abandoned:
            log.info("%d unsent check-ins given back for the next start", abandoned)
        log.info("scheduler stopped")

    # -- deriving jobs ---------------------------------------------------------------------------

    def sync(self) -> None:
        """Make the check-in jobs match the active rituals: add new, replace changed, remove gone."""
        with self._sync_lock, self.database.begin() as session:
            wanted = {checkin_job_id(r.id): (r.id, cadence_of(r)) for r in schedulable_rituals(session)}
            for job_id in [j for j in self._signatures if j not in wanted]:
                self._remove(job_id)
            for job_id, (ritual_id, cadence) in wanted.items():
                if self._signatures.get(job_id) != cadence:
                    self._add(job_id, ritual_id, cadence)

    def sync_ritual(self, ritual_id: int) -> None:
        """A ritual changed in this process: update its one job at once."""
        job_id = checkin_job_id(ritual_id)
        with self._sync_lock, self.database.begin() as session:
            found = schedulable_rituals(session, ritual_id)
            if not found:
                self._remove(job_id)
            elif self._signatures.get(job_id) != cadence_of(found[0]):
                self._add(job_id, ritual_id, cadence_of(found[0]))

    def on_change(self, team_id: str | None) -> None:
        """A workspace was installed or removed: re-derive every job."""
        self.sync()

    def _add(self, job_id: str, ritual_id: int, cadence: Cadence) -> None:
        trigger = build_trigger(cadence)
        self.scheduler.add_job(
            self.fire,
            trigger,
            # From our clock, not APScheduler's own reading of the wall clock: the next run (shown
            # to users) then follows the same time source as claiming, and tests can freeze it.
            next_run_time=trigger.get_next_fire_time(None, self.clock.now()),
            args=[ritual_id],
            id=job_id,
            name=f"check-in of ritual {ritual_id}",
            replace_existing=True,
        )
        self._signatures[job_id] = cadence

    def _remove(self, job_id: str) -> None:
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)
        self._signatures.pop(job_id, None)

    def next_run(self, ritual_id: int) -> dt.datetime | None:
        job = self.scheduler.get_job(checkin_job_id(ritual_id))
        return job.next_run_time if job is not None else None

    # -- firing ----------------------------------------------------------------------------------

    def fire(self, ritual_id: int) -> list[PreparedCheckin]:
        """Claim and queue what this ritual owes now. Safe to call any time, from any process."""
        try:
            with self.database.begin() as session:
                prepared = prepare_due(
                    session,
                    ritual_id,
                    now=self.clock.now(),
                    grace=self.grace,
                    min_answers=self.pulse_settings.min_answers,
                )
        except Exception:
            log.exception("preparing the check-in of ritual %s failed", ritual_id)
            return []
        for checkin in prepared:
            self.submit(checkin)
        return prepared

    def submit(self, checkin: PreparedCheckin) -> None:
        if self.outbox is None:
            raise RuntimeError("this scheduler has no messenger to post with")
        self.outbox.submit(checkin)

    def catch_up(self) -> int:
        """After a restart: post what fell due within the grace window, record older ones as missed."""
        with self.database.begin() as session:
            ritual_ids = [r.id for r in schedulable_rituals(session)]
        return sum(len(self.fire(ritual_id)) for ritual_id in ritual_ids)

    def pulse_work(self) -> None:
        """Close pulses whose time is up (posting their results) and send due reminders."""
        if self.messenger is None:
            return
        now = self.clock.now()
        try:
            close_due(
                self.database,
                self.messenger,
                now=now,
                settings=self.pulse_settings,
                on_closed=self.on_pulse_closed,
            )
            if self.pulse_settings.reminder_hours > 0:
                send_reminders(self.database, self.messenger, now=now)
        except Exception:
            log.exception("pulse work failed; it runs again in a minute")

    def ledger_work(self) -> None:
        """Post due monthly wins digests (each once per channel and month) and overdue nudges."""
        if self.messenger is None:
            return
        now = self.clock.now()
        try:
            post_due_digests(self.database, self.messenger, now=now)
            nudge_overdue(self.database, self.messenger, now=now)
        except Exception:
            log.exception("ledger work failed; it runs again in ten minutes")

    def _unit_of_work(self, job: Callable[[Session, dt.datetime], object]) -> Callable[[], None]:
        def run() -> None:
            # One transaction per job run; an exception is logged and the scheduler goes on.
            try:
                with self.database.begin() as session:
                    job(session, self.clock.now())
            except Exception:
                log.exception("scheduled job %s failed", getattr(job, "__module__", job))

        return run
