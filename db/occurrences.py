"""Occurrences: each check-in claimed once under a unique constraint, and how each one ended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from db.base import upsert
from db.models import Occurrence, OccurrenceStatus

# A claim this old with no outcome belongs to a process that died mid-post: we cannot know whether
# Slack got the message, so it ends as failed (never re-posted: a duplicate is worse than a gap).
STALE_CLAIM = dt.timedelta(minutes=15)


def claim(
    session: Session,
    ritual_id: int,
    scheduled_at: dt.datetime,
    *,
    now: dt.datetime,
    status: OccurrenceStatus = OccurrenceStatus.CLAIMED,
    channel_id: str | None = None,
    manual: bool = False,
    reason: str | None = None,
) -> int | None:
    """Insert the occurrence row; its id if this caller won it, None if anyone (any process) had it.

    The unique constraint on (ritual_id, scheduled_at) decides: concurrent claims from two scheduler
    processes, a retry or a restart cannot both win.
    """
    stmt = (
        upsert(session.get_bind().dialect.name, Occurrence)
        .values(
            ritual_id=ritual_id,
            scheduled_at=scheduled_at,
            status=status,
            reason=reason,
            channel_id=channel_id,
            manual=manual,
            claimed_at=now,
            reported=False,
        )
        .on_conflict_do_nothing(index_elements=["ritual_id", "scheduled_at"])
        .returning(Occurrence.id)
    )
    return session.execute(stmt).scalar_one_or_none()


def known_times(session: Session, ritual_id: int, since: dt.datetime) -> set[dt.datetime]:
    return set(
        session.scalars(
            select(Occurrence.scheduled_at).where(
                Occurrence.ritual_id == ritual_id, Occurrence.scheduled_at > since
            )
        )
    )


def known_times_of(
    session: Session, ritual_ids: Sequence[int], since: dt.datetime, *, chunk: int = 500
) -> dict[int, set[dt.datetime]]:
    """`known_times` for many rituals at once (the scheduler's start-up), through the unique index."""
    known: dict[int, set[dt.datetime]] = {}
    for start in range(0, len(ritual_ids), chunk):
        rows = session.execute(
            select(Occurrence.ritual_id, Occurrence.scheduled_at).where(
                Occurrence.ritual_id.in_(ritual_ids[start : start + chunk]), Occurrence.scheduled_at > since
            )
        )
        for ritual_id, scheduled_at in rows:
            known.setdefault(ritual_id, set()).add(scheduled_at)
    return known


def mark_posted(
    session: Session,
    occurrence_id: int,
    *,
    channel_id: str,
    ts: str,
    prompt_key: str | None,
    now: dt.datetime,
) -> None:
    session.execute(
        update(Occurrence)
        .where(Occurrence.id == occurrence_id)
        .values(
            status=OccurrenceStatus.POSTED,
            channel_id=channel_id,
            message_ts=ts,
            prompt_key=prompt_key,
            posted_at=now,
        )
    )


def set_prompt(session: Session, occurrence_id: int, prompt_key: str) -> None:
    session.execute(update(Occurrence).where(Occurrence.id == occurrence_id).values(prompt_key=prompt_key))


def mark_failed(session: Session, occurrence_id: int, *, reason: str) -> None:
    session.execute(
        update(Occurrence)
        .where(Occurrence.id == occurrence_id)
        # A prompt that never reached the channel does not count as used.
        .values(status=OccurrenceStatus.FAILED, reason=reason[:300], prompt_key=None)
    )


def mark_skipped(session: Session, occurrence_id: int, *, reason: str) -> None:
    """A claimed check-in that was not posted on purpose (its ritual was paused or deleted meanwhile)."""
    session.execute(
        update(Occurrence)
        .where(Occurrence.id == occurrence_id)
        .values(status=OccurrenceStatus.SKIPPED, reason=reason[:300], prompt_key=None)
    )


def release(session: Session, occurrence_id: int) -> None:
    """Give back a claim that was never sent (graceful shutdown), so a restart can post it in time."""
    session.execute(
        delete(Occurrence).where(
            Occurrence.id == occurrence_id, Occurrence.status == OccurrenceStatus.CLAIMED
        )
    )


def fail_stale_claims(session: Session, *, now: dt.datetime) -> int:
    # An UPDATE's result is a CursorResult, which has the row count; Session.execute is typed for any
    # statement and says only Result.
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Occurrence)
            .where(Occurrence.status == OccurrenceStatus.CLAIMED, Occurrence.claimed_at < now - STALE_CLAIM)
            .values(status=OccurrenceStatus.FAILED, reason="interrupted while posting (Tandem stopped)")
        ),
    )
    return result.rowcount or 0


def last_posted_at(session: Session, ritual_id: int) -> dt.datetime | None:
    """When the ritual's latest check-in was posted (None before its first)."""
    return session.scalar(
        select(func.max(Occurrence.posted_at)).where(
            Occurrence.ritual_id == ritual_id, Occurrence.status == OccurrenceStatus.POSTED
        )
    )


def prompt_history(session: Session, ritual_id: int) -> list[str]:
    """Prompt keys this ritual has posted, oldest first: the input of the rotation rule."""
    return list(
        session.scalars(
            select(Occurrence.prompt_key)
            .where(Occurrence.ritual_id == ritual_id, Occurrence.prompt_key.is_not(None))
            .order_by(Occurrence.claimed_at, Occurrence.id)
        )
    )


@dataclass(frozen=True)
class NotPosted:
    """A check-in that did not go out: missed (Tandem was down) or failed (Slack or Tandem failed)."""

    scheduled_at: dt.datetime
    status: OccurrenceStatus
    reason: str | None


def take_unreported_missed(session: Session, ritual_id: int) -> list[NotPosted]:
    """Missed (and failed) check-ins not yet mentioned by a later check-in; marks them mentioned."""
    rows = list(
        session.scalars(
            select(Occurrence)
            .where(
                Occurrence.ritual_id == ritual_id,
                Occurrence.status.in_([OccurrenceStatus.MISSED, OccurrenceStatus.FAILED]),
                Occurrence.reported.is_(False),
            )
            .order_by(Occurrence.scheduled_at)
        )
    )
    for row in rows:
        row.reported = True
    return [NotPosted(row.scheduled_at, row.status, row.reason) for row in rows]
