"""The scheduler: APScheduler 3.11 in a background thread is the clock; the database says what is due.

The rituals table is the source of truth. Each active ritual's next occurrence (UTC) is stored in
an indexed column (`rituals.next_due_at`, db/schedule.py), kept by whoever changes the ritual and
advanced in the unit of work that claims its occurrences. ONE job, at the start of every minute,
selects the rituals due by that column, in batches, claims and builds their check-ins with a few
queries per batch (bot.usecases.checkins.prepare_batch) and hands them to the outbox. Memory and
start-up do not grow with the number of rituals: nothing is held per ritual.

Changes made by other processes are seen through a change stamp (`schedule_changes`): each minute
costs one primary-key read when nothing changed and no ritual is due. Several schedulers may run
against one database: on PostgreSQL each batch locks the rows it takes (FOR UPDATE SKIP LOCKED), so
they share a minute's work without waiting for each other; on SQLite their writes take turns.
Exactly-once posting comes from occurrence rows claimed under a unique constraint, not from here.
Nothing lives in an APScheduler job store.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import replace

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session

from bot.blocks.checkin import not_prepared_reason
from bot.messenger import Messenger
from bot.services import PulseSettings, Services
from bot.usecases.checkins import PreparedCheckin, leftovers, prepare_batch, prepare_due, record_unprepared
from bot.usecases.commitments import nudge_overdue
from bot.usecases.wins import post_due_digests
from db import schedule
from db.clock import Clock
from db.session import Database
from jobs import direct_messages, housekeeping, pulses, written_answers
from jobs import leads_digest as leads_digest_job
from jobs import pairing as pairing_job
from jobs.outbox import CheckinOutbox
from jobs.poster import PER_CHANNEL_INTERVAL

log = logging.getLogger(__name__)

HOUSEKEEPING_JOB_ID = "housekeeping"
DUE_JOB_ID = "due-checkins"
PULSES_JOB_ID = "pulses"
LEDGER_JOB_ID = "ledger"
RECONCILE_JOB_ID = "reconcile"
PAIRING_JOB_ID = "pairing"
HELD_DMS_JOB_ID = "held-dms"
LEADS_DIGEST_JOB_ID = "leads-digest"
WRITTEN_ANSWERS_JOB_ID = "written-answers"
HOUSEKEEPING_INTERVAL = dt.timedelta(hours=1)
PULSES_INTERVAL = dt.timedelta(minutes=1)
LEDGER_INTERVAL = dt.timedelta(minutes=10)
RECONCILE_INTERVAL = dt.timedelta(minutes=1)
HELD_DMS_INTERVAL = dt.timedelta(minutes=1)
# Rituals claimed per unit of work: large enough that a batch costs a few queries per hundred
# check-ins, small enough that the first posts start within a second and that two schedulers on
# PostgreSQL interleave their batches (each takes the next unlocked rows).
DUE_BATCH = 200
FILL_BATCH = 5000


def checkin_outbox(
    database: Database,
    messenger: Messenger,
    clock: Clock,
    *,
    threads: int,
    interval: float,
    on_ritual_change: Callable[[int], None],
    services: Callable[[], Services],
    grace: dt.timedelta = dt.timedelta(hours=2),
) -> CheckinOutbox:
    """The outbox that posts prepared check-ins, each followed by its pulse when its ritual has pulses.

    The one place an outbox is put together: the runtime builds one per process with it, and a
    scheduler constructed without one (in tests) builds its own with it. `on_ritual_change` is told
    the id of each ritual a refused post paused (its channel or token gone).
    """
    outbox = CheckinOutbox(
        database,
        messenger,
        clock.now,
        grace=grace,
        threads=threads,
        interval=interval,
        on_ritual_change=on_ritual_change,
    )
    # The written answers, then the pulse, are queued behind their check-in, into the same channel's
    # slots, in its thread.
    outbox.after_posted = lambda checkin, ts: _after_posted(services(), checkin, ts)
    return outbox


def _after_posted(services: Services, checkin: PreparedCheckin, ts: str) -> None:
    written_answers.after_checkin(services, checkin, ts)
    pulses.after_checkin(services, checkin, ts)


def in_channel_turns(prepared: Sequence[PreparedCheckin]) -> list[PreparedCheckin]:
    """The batch's check-ins one channel at a time, in turn: each channel's queue in the poster gets
    its first check-in before any channel gets its second (a channel takes one message a second)."""
    by_channel: dict[str, list[PreparedCheckin]] = defaultdict(list)
    for checkin in prepared:
        by_channel[checkin.channel_id].append(checkin)
    queues = list(by_channel.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]


class TandemScheduler:
    """Owns one APScheduler instance and the jobs derived from the tables; posts through an outbox."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        messenger: Messenger,
        *,
        services: Services,
        outbox: CheckinOutbox | None = None,
        grace: dt.timedelta = dt.timedelta(hours=2),
        pulse_settings: PulseSettings | None = None,
        poster_threads: int = 16,
        poster_interval: float = PER_CHANNEL_INTERVAL,
    ) -> None:
        """`outbox`: where prepared check-ins go (the runtime's, built on `database.writes_in_turn()`);
        without one the scheduler builds its own with `checkin_outbox`, of `poster_threads` threads
        posting at most once per `poster_interval` seconds into a channel. `services`: the runtime's,
        which the jobs hand to the use cases (see `job_services`).
        """
        # The preparers', the pulse and ledger jobs' and the posters' writes take turns in this
        # process (SQLite): see Database.writes_in_turn. The runtime's outbox shares these turns.
        self.database = database.writes_in_turn()
        self.clock = clock
        self.messenger = messenger
        self.grace = grace
        self.pulse_settings = pulse_settings or PulseSettings()
        self.services = services
        if outbox is None:
            outbox = checkin_outbox(
                self.database,
                messenger,
                clock,
                threads=poster_threads,
                interval=poster_interval,
                on_ritual_change=self.sync_ritual,
                services=self.job_services,
                grace=grace,
            )
        self.outbox = outbox
        # What this process knows of the rituals' schedules: the change stamp it last read, and the
        # earliest next occurrence then (None: none). Forgetting the stamp makes the next run read both.
        self._stamp: int | None = None
        self._wake: dt.datetime | None = None
        self._due_lock = threading.Lock()
        self.due_batch = DUE_BATCH
        # When each batch was queued and how many it held (the last 1,000): for benchmarks and logs.
        self.prepared_log: deque[tuple[dt.datetime, int]] = deque(maxlen=1000)
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

    def start(self, *, paused: bool = False) -> None:
        """Start firing; the first sync and catch-up run in the background so the web app is not held up.

        `paused`: the jobs are registered, but nothing fires on the wall clock (tests run the jobs
        themselves).
        """
        self._every(
            HOUSEKEEPING_INTERVAL, HOUSEKEEPING_JOB_ID, self._unit_of_work(housekeeping.run), "housekeeping"
        )
        self._each_minute(DUE_JOB_ID, self.due_work, "claim, build and queue the check-ins due now")
        self._every(PULSES_INTERVAL, PULSES_JOB_ID, self.pulse_work, "close due pulses and send reminders")
        self._every(
            RECONCILE_INTERVAL,
            RECONCILE_JOB_ID,
            self.reconcile,
            "look up check-ins a stopped process left claimed, and post those not found",
        )
        self._every(
            LEDGER_INTERVAL,
            LEDGER_JOB_ID,
            self.ledger_work,
            "monthly wins digests and overdue commitment nudges",
        )
        self._every(
            pairing_job.INTERVAL,
            PAIRING_JOB_ID,
            self.pairing_work,
            "cross-team one-to-one rounds, introductions and nudges",
        )
        self._every(HELD_DMS_INTERVAL, HELD_DMS_JOB_ID, self.held_dm_work, "send DMs held for working hours")
        self._every(
            leads_digest_job.INTERVAL,
            LEADS_DIGEST_JOB_ID,
            self.leads_digest_work,
            "monthly digests to each ritual's two leads",
        )
        self._every(
            written_answers.INTERVAL,
            WRITTEN_ANSWERS_JOB_ID,
            self.written_answers_work,
            "ask for written answers before check-ins, and remind once",
        )
        self.scheduler.start(paused=paused)
        threading.Thread(target=self._first_run, name="tandem-scheduler-start", daemon=True).start()

    def _every(self, interval: dt.timedelta, job_id: str, run: Callable[[], object], name: str) -> None:
        trigger = IntervalTrigger(seconds=int(interval.total_seconds()))
        self.scheduler.add_job(run, trigger, id=job_id, name=name, replace_existing=True)

    def _each_minute(self, job_id: str, run: Callable[[], object], name: str) -> None:
        # At second 0 of every minute, when check-ins fall due (cadences are on whole minutes),
        # not every 60 seconds from whenever the process started.
        trigger = CronTrigger(second=0, timezone=dt.UTC)
        self.scheduler.add_job(run, trigger, id=job_id, name=name, replace_existing=True)

    def _first_run(self) -> None:
        try:
            self.reconcile()
            caught_up = self.catch_up()
            with self.database.read() as session:
                scheduled = schedule.count_scheduled(session)
            log.info(
                "scheduler started with %d scheduled rituals, next due %s (%d check-ins caught up)",
                scheduled,
                self._wake.isoformat() if self._wake is not None else "never",
                caught_up,
            )
        except Exception:
            log.exception("the scheduler's first run failed; the minutely job tries again")
        finally:
            self.ready.set()
        self.ledger_work()  # a digest that fell due while Tandem was down
        self.pairing_work()  # a round that started, or introductions left unsent, while it was down

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with `wait`, let running jobs and queued posts finish (or give them back)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        abandoned = self.outbox.stop(timeout=20.0 if wait else 0.0)
        if abandoned:
            log.info("%d unsent check-ins given back for the next start", abandoned)
        log.info("scheduler stopped")

    # -- what is due ------------------------------------------------------------------------------

    def sync(self) -> None:
        """Forget what is known of the schedules: the next minutely run reads the stamp and wake again."""
        self._stamp = None

    def sync_ritual(self, ritual_id: int) -> None:
        """A ritual changed in this process (its next occurrence was stored with the change)."""
        self.sync()

    def on_change(self, team_id: str | None) -> None:
        """A workspace was installed or removed."""
        self.sync()

    def next_run(self, ritual_id: int) -> dt.datetime | None:
        """The ritual's next check-in as the scheduler will run it; None when it does not run it."""
        with self.database.read() as session:
            return schedule.next_due(session, ritual_id)

    def due_work(self) -> int:
        """The minutely job: claim and queue every check-in due now; returns how many were queued.

        When the change stamp is the one read last time and the earliest next occurrence is still
        ahead, that is all it costs (one primary-key read). Otherwise it fills in missing next
        occurrences, reads the earliest again, and works off the due rituals in batches.
        """
        with self._due_lock:
            now = self.clock.now()
            try:
                self._refresh()
                if self._wake is None or now < self._wake:
                    return 0
                queued = self._run_due(now)
                with self.database.read() as session:
                    self._wake = schedule.earliest(session)
                return queued
            except Exception:
                log.exception("the due check-ins could not be worked off; the next minute tries again")
                self._stamp = None
                return 0

    def _refresh(self) -> None:
        with self.database.read() as session:
            current = schedule.stamp(session)  # before the wake: a change after it is seen next time
        if current == self._stamp:
            return
        # Rituals written around the ORM (or before migration 0014) get their next occurrence here,
        # a few thousand per unit of work so that other writers are not held up for long.
        for _ in range(1000):
            with self.database.begin() as session:
                filled = schedule.fill_missing(session, limit=FILL_BATCH)
            if filled < FILL_BATCH:
                break
        with self.database.read() as session:
            self._wake = schedule.earliest(session)
        self._stamp = current

    def _run_due(self, now: dt.datetime) -> int:
        queued = 0
        seen: set[int] = set()
        while True:
            ids: list[int] = []
            # Each batch claims at its own time: a claim's age (db.occurrences.STALE_CLAIM) counts
            # from when it was made, however long the burst before it took.
            now = max(now, self.clock.now())
            try:
                with self.database.begin() as session:
                    ids = schedule.take_due(session, now=now, limit=self.due_batch)
                    prepared = prepare_batch(
                        session, ids, now=now, grace=self.grace, min_answers=self.pulse_settings.min_answers
                    )
                    # In the same unit of work as the claims: a crash loses neither.
                    schedule.advance(session, ids, now=now)
            except Exception:
                if not ids:
                    raise
                log.exception("preparing a batch of %d check-ins failed; preparing them one by one", len(ids))
                prepared = [checkin for ritual_id in ids for checkin in self.fire(ritual_id)]
                # A ritual whose check-ins could be neither prepared nor recorded stays due: it is
                # not taken again this minute, and the next minute tries again.
            for checkin in in_channel_turns(prepared):
                self.submit(checkin)
            self.prepared_log.append((self.clock.now(), len(prepared)))
            queued += len(prepared)
            if len(ids) < self.due_batch or seen.issuperset(ids):
                return queued
            seen.update(ids)

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued was posted; False on timeout."""
        return self.outbox.join(timeout)

    def fire(self, ritual_id: int) -> list[PreparedCheckin]:
        """Claim and queue what this ritual owes now. Safe to call any time, from any process."""
        now = self.clock.now()
        try:
            with self.database.begin() as session:
                prepared = prepare_due(
                    session,
                    ritual_id,
                    now=now,
                    grace=self.grace,
                    min_answers=self.pulse_settings.min_answers,
                )
                schedule.advance(session, [ritual_id], now=now)
        except Exception as exc:
            log.exception("preparing the check-in of ritual %s failed", ritual_id)
            self._record_unprepared(ritual_id, now, exc)
            return []
        for checkin in prepared:
            self.submit(checkin)
        return prepared

    def _record_unprepared(self, ritual_id: int, now: dt.datetime, exc: Exception) -> None:
        # The claim was rolled back with the failed unit of work; record the outcome in a new one,
        # so the check-in ends as failed with its reason (and the next check-in mentions it)
        # instead of vanishing until a restart's catch-up.
        reason = not_prepared_reason(type(exc).__name__)
        try:
            with self.database.begin() as session:
                recorded = record_unprepared(session, ritual_id, now=now, grace=self.grace, reason=reason)
                schedule.advance(session, [ritual_id], now=now)
            log.warning("%d check-ins of ritual %s recorded as failed: %s", recorded, ritual_id, reason)
        except Exception:
            log.exception(
                "could not record the failed check-in of ritual %s; the next start's catch-up will", ritual_id
            )

    def submit(self, checkin: PreparedCheckin) -> None:
        self.outbox.submit(checkin)

    def catch_up(self) -> int:
        """After a restart: post what fell due within the grace window, record older ones as missed.

        Every ritual whose stored next occurrence has passed owes something (its occurrences were
        not claimed, or a claim was given back): the due run claims those, as any minute does.
        Returns how many were queued.
        """
        self.sync()
        return self.due_work()

    def reconcile(self) -> int:
        """Deliver the claims a stopped process left without an outcome (as leftovers: looked up in
        their channel first). Returns how many were queued."""
        try:
            found = leftovers(self.database, now=self.clock.now(), exclude=self.outbox.in_flight())
        except Exception:
            log.exception("looking for interrupted check-ins failed; it runs again in a minute")
            return 0
        if found:
            log.warning("%d check-ins were interrupted while posting; looking them up", len(found))
        for checkin in found:
            self.submit(checkin)
        return len(found)

    def pulse_work(self) -> None:
        """Close pulses whose time is up (posting their results) and send due reminders."""
        try:
            pulses.run(self.job_services(), now=self.clock.now())
        except Exception:
            log.exception("pulse work failed; it runs again in a minute")

    def job_services(self) -> Services:
        """The use cases' collaborators for this scheduler's jobs: the runtime's, with this
        scheduler's own database (its write units of work take turns: Database.writes_in_turn)."""
        return replace(self.services, database=self.database)

    def ledger_work(self) -> None:
        """Post due monthly wins digests (each once per channel and month) and overdue nudges."""
        now = self.clock.now()
        try:
            services = self.job_services()
            post_due_digests(services, now=now)
            nudge_overdue(services, now=now)
        except Exception:
            log.exception("ledger work failed; it runs again in ten minutes")

    def pairing_work(self) -> None:
        """Start due pairing rounds (each once), send pending introductions, nudge halfway."""
        try:
            pairing_job.run(self.job_services(), now=self.clock.now())
        except Exception:
            log.exception("pairing work failed; it runs again in ten minutes")

    def held_dm_work(self) -> None:
        """Send the DMs held until their recipients' working hours (bot.usecases.direct_messages)."""
        try:
            direct_messages.run(self.job_services(), now=self.clock.now())
        except Exception:
            log.exception("sending held DMs failed; it runs again in a minute")

    def leads_digest_work(self) -> None:
        """DM each ritual's leads their monthly digest, on their first working day (each once)."""
        try:
            leads_digest_job.run(self.job_services(), now=self.clock.now())
        except Exception:
            log.exception("the leads' digests failed; they are tried again in ten minutes")

    def written_answers_work(self) -> None:
        """Open written rounds whose lead time has come, and send due reminders (jobs/written_answers.py)."""
        try:
            written_answers.run(self.job_services(), now=self.clock.now())
        except Exception:
            log.exception("written answers work failed; it runs again in a minute")

    def _unit_of_work(self, job: Callable[[Session, dt.datetime], object]) -> Callable[[], None]:
        def run() -> None:
            # One transaction per job run; an exception is logged and the scheduler goes on.
            try:
                with self.database.begin() as session:
                    job(session, self.clock.now())
            except Exception:
                log.exception("scheduled job %s failed", getattr(job, "__module__", job))

        return run
