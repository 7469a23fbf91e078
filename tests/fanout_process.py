"""One scheduler process for the crash test: delivers leftovers and everything due at a fixed instant.

Run as `python -m tests.fanout_process DATABASE_URL SLACK_API_URL ISO_NOW [slow]`. It does what a
`tandem scheduler` does when it starts (the reconcile job's first run, then the catch-up), on a frozen
clock, then waits until everything queued was posted. The crash test kills it with SIGKILL midway
and starts a second one later. `slow`: the due rituals are claimed ten at a time, each batch taking
50 ms longer (a slow database), so that a kill midway also finds rituals not claimed yet.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import jobs.scheduler
from tests.scheduler_process import frozen_scheduler_runtime


def slow_batches() -> None:
    prepare = jobs.scheduler.prepare_batch

    def slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)
        return prepare(*args, **kwargs)

    jobs.scheduler.prepare_batch = slowly  # type: ignore[assignment]


def main() -> int:
    url, api_url, iso_now = sys.argv[1], sys.argv[2], sys.argv[3]
    runtime = frozen_scheduler_runtime(url, api_url, iso_now)
    scheduler = runtime.scheduler
    assert scheduler is not None
    if sys.argv[4:] == ["slow"]:
        slow_batches()
        scheduler.due_batch = 10
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
