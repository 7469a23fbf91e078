"""Modal submissions already acted on, by view id and hash: each creates its object once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.base import upsert
from db.models import SeenSubmission


def first_time(
    session: Session, *, workspace_id: int, view_id: str, view_hash: str, now: dt.datetime
) -> bool:
    """Record the submission; False if it was recorded already (by any process).

    Called in the unit of work that creates the object, before creating it: a concurrent twin waits
    on the unique constraint (PostgreSQL) or the write lock (SQLite), then finds it taken, and a unit
    of work that fails rolls the record back with the object, so a corrected resubmission counts.
    """
    stmt = (
        upsert(session.get_bind().dialect.name, SeenSubmission)
        .values(workspace_id=workspace_id, view_id=view_id, view_hash=view_hash, seen_at=now)
        .on_conflict_do_nothing(index_elements=["view_id", "view_hash"])
        .returning(SeenSubmission.id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def seen(session: Session, *, view_id: str, view_hash: str) -> bool:
    """Whether the submission was recorded already (a read: `first_time` decides under concurrency)."""
    found = session.scalar(
        select(SeenSubmission.id).where(
            SeenSubmission.view_id == view_id, SeenSubmission.view_hash == view_hash
        )
    )
    return found is not None


def prune_seen(session: Session, *, older_than: dt.datetime) -> int:
    """Slack's signature window is five minutes and a view lives a few hours: a day of records is ample."""
    result = session.connection().execute(delete(SeenSubmission).where(SeenSubmission.seen_at < older_than))
    return result.rowcount or 0
