"""One scheduler process for the crash test: delivers leftovers and everything due at a fixed instant.

Run as `python -m tests.fanout_process DATABASE_URL SLACK_API_URL ISO_NOW`. It does what a
`tandem scheduler` does when it starts (the reconcile job's first run, then the catch-up), on a frozen
clock, then waits until everything queued was posted. The crash test kills it with SIGKILL midway
and starts a second one later.
"""

from __future__ import annotations

import sys

from tests.scheduler_process import frozen_scheduler_runtime


def main() -> int:
    url, api_url, iso_now = sys.argv[1], sys.argv[2], sys.argv[3]
    runtime = frozen_scheduler_runtime(url, api_url, iso_now)
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
