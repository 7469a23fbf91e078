"""The scheduler: APScheduler 3.11 in a background thread, its jobs derived from the database.

The database is the source of truth. Jobs carry explicit ids, are rebuilt from the tables at start
and after every change, and never live in an APScheduler job store: job stores cannot be shared by
two schedulers, and exactly-once delivery comes from rows claimed in the database, not from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from db.clock import Clock
from db.session import Database
from jobs import housekeeping

log = logging.getLogger(__name__)

HOUSEKEEPING_JOB_ID = "housekeeping"


class TandemScheduler:
    """Owns one APScheduler instance and the jobs Tandem derives from its tables."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            # Set on purpose (APScheduler's defaults are a 1-second grace and coalescing): a job that
            # fires late still runs once, and never overlaps itself.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )

    def start(self) -> None:
        self.scheduler.add_job(
            self._unit_of_work(housekeeping.run),
            IntervalTrigger(hours=1),
            id=HOUSEKEEPING_JOB_ID,
            name="prune processed event ids",
            replace_existing=True,
        )
        self.scheduler.start()
        log.info("scheduler started with %d jobs", len(self.scheduler.get_jobs()))

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with `wait`, let running jobs finish so nothing is left half-written."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
            log.info("scheduler stopped")

    def on_change(self, team_id: str | None) -> None:
        """Something that drives the schedule changed (a ritual, an install): re-derive the jobs."""
        log.debug("schedule change for team %s", team_id)

    def _unit_of_work(self, job: Callable[..., object]) -> Callable[[], None]:
        def run() -> None:
            # One transaction per job run; an exception is logged and the scheduler goes on.
            try:
                with self.database.begin() as session:
                    job(session, self.clock.now())
            except Exception:
                log.exception("scheduled job %s failed", getattr(job, "__module__", job))

        return run
