"""One scheduler process for the exactly-once test: fires every ritual due at a fixed instant.

Run as `python -m tests.scheduler_process DATABASE_URL SLACK_API_URL ISO_NOW ROUNDS [pairing|leads-digest]`. It uses the
real TandemScheduler with a frozen clock, so two of these racing on one database are two scheduler
processes doing what `tandem scheduler` does when a check-in falls due.
"""

from __future__ import annotations

import datetime as dt
import sys

from bot.config import Mode, Settings
from bot.runtime import Runtime
from bot.usecases.pairing import start_due_rounds
from jobs import leads_digest
from tests.clock import FrozenClock


def frozen_scheduler_runtime(url: str, api_url: str, iso_now: str) -> Runtime:
    """What `tandem scheduler` builds, on a frozen clock at `iso_now`, against the fake Slack."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-test-token",  # type: ignore[arg-type]
        slack_signing_secret="x",  # type: ignore[arg-type]
        slack_api_url=api_url,
        database_url=url,
        # Hundreds of check-ins into one workspace: no pacing of Tandem's own (tests of it set one).
        tandem_workspace_posts_per_minute=0,
    )
    return Runtime(
        settings,
        Mode.HTTP,
        with_app=False,
        with_scheduler=True,
        clock=FrozenClock(dt.datetime.fromisoformat(iso_now)),
        poster_interval=0.0,
    )


def main() -> int:
    url, api_url, iso_now, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    # "pairing": run the pairing job's round start instead of the check-ins' catch-up; "leads-digest":
    # the leads' monthly digest job, then the held DMs it queued.
    job = sys.argv[5] if len(sys.argv) > 5 else "checkins"
    runtime = frozen_scheduler_runtime(url, api_url, iso_now)
    scheduler = runtime.scheduler
    assert scheduler is not None
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()  # both processes start firing together
    claimed = 0
    for _ in range(rounds):
        if job == "pairing":
            claimed += start_due_rounds(scheduler.job_services(), now=scheduler.clock.now())
        elif job == "leads-digest":
            claimed += leads_digest.run(scheduler.job_services(), now=scheduler.clock.now())
            scheduler.held_dm_work()
        else:
            claimed += scheduler.catch_up()
    assert scheduler.outbox is not None
    scheduler.outbox.join(60)
    runtime.close()
    print(claimed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
