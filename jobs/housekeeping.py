"""Housekeeping: forget old event ids and old seen modal submissions.

(Claims a stopped process left behind are the scheduler's reconcile job's: jobs/scheduler.py.)"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from db.submissions import prune_seen
from db.workspaces import prune_processed_events

log = logging.getLogger(__name__)

EVENT_ID_RETENTION = dt.timedelta(days=7)
# A submission is replayed within minutes (Slack's retries, the five-minute signature window).
SUBMISSION_RETENTION = dt.timedelta(days=1)


def run(session: Session, now: dt.datetime) -> int:
    removed = prune_processed_events(session, older_than=now - EVENT_ID_RETENTION)
    if removed:
        log.info("pruned %d processed event ids", removed)
    prune_seen(session, older_than=now - SUBMISSION_RETENTION)
    return removed
