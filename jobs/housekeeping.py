"""Housekeeping: forget old event ids; close claims that a stopped process left behind."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from db.occurrences import fail_stale_claims
from db.workspaces import prune_processed_events

log = logging.getLogger(__name__)

EVENT_ID_RETENTION = dt.timedelta(days=7)


def run(session: Session, now: dt.datetime) -> int:
    removed = prune_processed_events(session, older_than=now - EVENT_ID_RETENTION)
    if removed:
        log.info("pruned %d processed event ids", removed)
    stale = fail_stale_claims(session, now=now)
    if stale:
        log.warning("%d check-ins were interrupted while posting and are recorded as failed", stale)
    return removed
