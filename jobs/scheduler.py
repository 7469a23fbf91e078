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
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session

from bot.blocks.checkin import not_prepared_reason
from bot.messenger import Messenger
from bot.services import PulseSettings, Services
from bot.usecases.checkins import MAX_LOOKBACK, PreparedCheckin, leftovers, prepare_due, record_unprepared
from bot.usecases.commitments import nudge_overdue
from bot.usecases.wins import post_due_digests
from db import occurrences
from db.cadence import Cadence, build_trigger, occurrences_between
from db.clock import Clock
from db.rituals import schedule_rows
from db.session import Database
from jobs import direct_messages, housekeeping, pulses, written_answers
from jobs import leads_digest as leads_digest_job
from jobs import pairing as pairing_job
from jobs.outbox import CheckinOutbox
from jobs.poster import PER_CHANNEL_INTERVAL

log = logging.getLogger(__name__)

HOUSEKEEPING_JOB_ID = "housekeeping"
RESYNC_JOB_ID = "resync"
PULSES_JOB_ID = "pulses"
LEDGER_JOB_ID = "ledger"
RECONCILE_JOB_ID = "reconcile"
PAIRING_JOB_ID = "pairing"
HELD_DMS_JOB_ID = "held-dms"
LEADS_DIGEST_JOB_ID = "leads-digest"
WRITTEN_ANSWERS_JOB_ID = "written-answers"
CHECKIN_JOB_PREFIX = "checkin:"
HOUSEKEEPING_INTERVAL = dt.timedelta(hours=1)
RESYNC_INTERVAL = dt.timedelta(minutes=1)
PULSES_INTERVAL = dt.timedelta(minutes=1)
LEDGER_INTERVAL = dt.timedelta(minutes=10)
RECONCILE_INTERVAL = dt.timedelta(minutes=1)
HELD_DMS_INTERVAL = dt.timedelta(minutes=1)
# From this many job changes at once (the first sync), APScheduler is paused while they are added.
BULK_CHANGES = 50


def checkin_job_id(ritual_id: int) -> str:
    return f"{CHECKIN_JOB_PREFIX}{ritual_id}"


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


class ChannelTurns:
    """Rituals waiting to be prepared, served one channel at a time, in turn.

    When hundreds of check-ins fall due in the same minute, preparing them takes seconds, and each
    channel can only take one message a second: preparing channel A's twenty before channel B's
    first would leave B idle and finish late. Taking channels in turn keeps every channel's queue
    in the poster fed from the start.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queues: dict[str, deque[int]] = {}  # in turn order: the next channel first
        self._busy = 0
        self._closed = False

    def put(self, channel_id: str, ritual_id: int) -> None:
        with self._cond:
            if self._closed:
                return
            queue = self._queues.setdefault(channel_id, deque())
            if ritual_id not in queue:
                queue.append(ritual_id)
            self._cond.notify()

    def take(self) -> int | None:
        """The next ritual to prepare (blocking); None once closed. Call `done()` after it."""
        with self._cond:
            while not self._queues and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            channel_id = next(iter(self._queues))
            queue = self._queues.pop(channel_id)
            ritual_id = queue.popleft()
            if queue:
                self._queues[channel_id] = queue  # back of the line
            self._busy += 1
            return ritual_id

    def done(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until everything put so far was prepared; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queues and not self._busy, timeout)

    def close(self) -> int:
        """Stop serving; returns how many were still waiting (never claimed, so a restart owes them)."""
        with self._cond:
            self._closed = True
            left = sum(len(q) for q in self._queues.values())
            self._queues.clear()
            self._cond.notify_all()
            return left


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
        self._signatures: dict[str, Cadence] = {}
        # Triggers are stateless: rituals on the same schedule share one (memory, start-up time).
        self._triggers: dict[Cadence, BaseTrigger] = {}
        self._sync_lock = threading.Lock()
        # Which channel each scheduled ritual posts into, for taking channels in turn when many are due.
        self._channels: dict[int, str] = {}
        self._due = ChannelTurns()
        self._preparers: list[threading.Thread] = []
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

        `paused`: jobs are derived and get their next run times, but nothing fires on the wall
        clock (tests run the jobs themselves).
        """
        # One preparer on SQLite (its writes take turns anyway); a few where writers do not block
        # each other.
        for i in range(1 if self.database.backend == "sqlite" else 4):
            thread = threading.Thread(target=self._prepare_due, name=f"tandem-preparer-{i}", daemon=True)
            thread.start()
            self._preparers.append(thread)
        self._every(
            HOUSEKEEPING_INTERVAL, HOUSEKEEPING_JOB_ID, self._unit_of_work(housekeeping.run), "housekeeping"
        )
        self._every(
            RESYNC_INTERVAL, RESYNC_JOB_ID, self.sync, "re-derive check-in jobs from the rituals table"
        )
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

    def _first_run(self) -> None:
        try:
            self.reconcile()
            self.sync()
            caught_up = self.catch_up()
            log.info(
                "scheduler started with %d check-in jobs (%d check-ins caught up)",
                len(self._signatures),
                caught_up,
            )
        except Exception:
            log.exception("scheduler start-up sync failed; the periodic resync will try again")
        finally:
            self.ready.set()
        self.ledger_work()  # a digest that fell due while Tandem was down
        self.pairing_work()  # a round that started, or introductions left unsent, while it was down

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with `wait`, let running jobs and queued posts finish (or give them back)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        unprepared = self._due.close()
        for thread in self._preparers:
            thread.join(timeout=30 if wait else 0)
        if unprepared:
            log.info(
                "%d due check-ins were not prepared; the next start posts them within the grace window",
                unprepared,
            )
        abandoned = self.outbox.stop(timeout=20.0 if wait else 0.0)
        if abandoned:
            log.info("%d unsent check-ins given back for the next start", abandoned)
        log.info("scheduler stopped")

    # -- deriving jobs ---------------------------------------------------------------------------

    def sync(self) -> None:
        """Make the check-in jobs match the active rituals: add new, replace changed, remove gone."""
        with self._sync_lock:
            with self.database.read() as session:
                rows = schedule_rows(session)
            self._channels = {r.ritual_id: r.channel_id for r in rows}
            wanted = {checkin_job_id(r.ritual_id): (r.ritual_id, r.cadence) for r in rows}
            gone = [job_id for job_id in self._signatures if job_id not in wanted]
            changed = [
                (job_id, ritual_id, cadence)
                for job_id, (ritual_id, cadence) in wanted.items()
                if self._signatures.get(job_id) != cadence
            ]
            if not gone and not changed:
                return
            now = self.clock.now()
            next_runs: dict[Cadence, dt.datetime | None] = {}
            with self._bulk(len(gone) + len(changed)):
                for job_id in gone:
                    self._remove(job_id)
                for job_id, ritual_id, cadence in changed:
                    self._add(job_id, ritual_id, cadence, now=now, next_runs=next_runs)

    def sync_ritual(self, ritual_id: int) -> None:
        """A ritual changed in this process: update its one job at once."""
        job_id = checkin_job_id(ritual_id)
        with self._sync_lock:
            with self.database.read() as session:
                found = schedule_rows(session, ritual_id)
            if not found:
                self._remove(job_id)
                self._channels.pop(ritual_id, None)
                return
            self._channels[ritual_id] = found[0].channel_id
            if self._signatures.get(job_id) != found[0].cadence:
                self._add(job_id, ritual_id, found[0].cadence, now=self.clock.now())

    def on_change(self, team_id: str | None) -> None:
        """A workspace was installed or removed: re-derive every job."""
        self.sync()

    @contextmanager
    def _bulk(self, changes: int) -> Iterator[None]:
        # Each job added to a running APScheduler wakes its thread, which then competes for the job
        # store's lock (and the GIL) with the next add: thousands of them at start are added paused.
        if changes < BULK_CHANGES or self.scheduler.state != STATE_RUNNING:
            yield
            return
        self.scheduler.pause()
        try:
            yield
        finally:
            self.scheduler.resume()

    def _trigger(self, cadence: Cadence) -> BaseTrigger:
        trigger = self._triggers.get(cadence)
        if trigger is None:
            trigger = self._triggers[cadence] = build_trigger(cadence)
        return trigger

    def _add(
        self,
        job_id: str,
        ritual_id: int,
        cadence: Cadence,
        *,
        now: dt.datetime,
        next_runs: dict[Cadence, dt.datetime | None] | None = None,
    ) -> None:
        trigger = self._trigger(cadence)
        if next_runs is not None and cadence in next_runs:
            next_run = next_runs[cadence]
        else:
            # From our clock, not APScheduler's own reading of the wall clock: the next run (shown
            # to users) then follows the same time source as claiming, and tests can freeze it.
            next_run = trigger.get_next_fire_time(None, now)
            if next_runs is not None:
                next_runs[cadence] = next_run
        self.scheduler.add_job(
            self.fire_due,
            trigger,
            next_run_time=next_run,
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

    def fire_due(self, ritual_id: int) -> None:
        """A check-in job's run: queue the ritual for the preparer, which takes channels in turn."""
        self._due.put(self._channels.get(ritual_id, ""), ritual_id)

    def _prepare_due(self) -> None:
        while (ritual_id := self._due.take()) is not None:
            try:
                self.fire(ritual_id)
            except Exception:  # fire() records its own failures; this keeps the preparer alive
                log.exception("firing ritual %s failed", ritual_id)
            finally:
                self._due.done()

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until due check-ins were prepared and everything queued was posted; False on timeout."""
        deadline = time.monotonic() + timeout
        if not self._due.join(timeout):
            return False
        return self.outbox.join(max(0.0, deadline - time.monotonic()))

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
            log.warning("%d check-ins of ritual %s recorded as failed: %s", recorded, ritual_id, reason)
        except Exception:
            log.exception(
                "could not record the failed check-in of ritual %s; the next start's catch-up will", ritual_id
            )

    def submit(self, checkin: PreparedCheckin) -> None:
        self.outbox.submit(checkin)

    def catch_up(self) -> int:
        """After a restart: post what fell due within the grace window, record older ones as missed.

        Which rituals owe anything is worked out from the cadences and one read of the recent
        occurrences, so only those are claimed (one unit of work each): with thousands of rituals
        a start-up does not queue thousands of write transactions. Returns how many were queued.
        """
        now = self.clock.now()
        horizon = now - MAX_LOOKBACK
        with self.database.read() as session:
            rows = schedule_rows(session)
            times: dict[Cadence, list[dt.datetime]] = {}
            owed: dict[int, list[dt.datetime]] = {}
            for row in rows:
                if row.cadence not in times:
                    times[row.cadence] = occurrences_between(row.cadence, horizon, now)
                mine = [t for t in times[row.cadence] if t > row.schedule_from]
                if mine:
                    owed[row.ritual_id] = mine
            known = occurrences.known_times_of(session, list(owed), horizon)
        due = [
            ritual_id for ritual_id, mine in owed.items() if not known.get(ritual_id, set()).issuperset(mine)
        ]
        return sum(len(self.fire(ritual_id)) for ritual_id in due)

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
