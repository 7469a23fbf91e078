"""One scheduler process for the crash test: delivers leftovers and everything due at a fixed instant.

Run as `python -m tests.fanout_process DATABASE_URL SLACK_API_URL ISO_NOW`. It does what a
`tandem scheduler` does when it starts (the reconcile job's first run, then the catch-up), on a frozen
clock, then waits until everything queued was posted. The crash test kills it with SIGKILL midway
and starts a second one later.
"""

from __future__ import annotations

import datetime as dt
import sys

from bot.config import Mode, Settings
from bot.runtime import Runtime
from tests.clock import FrozenClock


def main() -> int:
    url, api_url, iso_now = sys.argv[1], sys.argv[2], sys.argv[3]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-test-token",  # type: ignore[arg-type]
        slack_signing_secret="x",  # type: ignore[arg-type]
        slack_api_url=api_url,
        database_url=url,
    )
    runtime = Runtime(
        settings,
        Mode.HTTP,
        with_app=False,
        with_scheduler=True,
        clock=FrozenClock(dt.datetime.fromisoformat(iso_now)),
        poster_interval=0.0,
    )
    scheduler = runtime.scheduler
    assert scheduler is not None
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    reconciled = scheduler.reconcile()
    caught_up = scheduler.catch_up()
    scheduler.outbox.join(120)
    runtime.close()
    print(reconciled, caught_up)
    return 0


if __name__ == "__main__":
    sys.exit(main())
