"""Occurrences: each check-in claimed once under a unique constraint, and how each one ended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from db import schedule
from db.base import upsert
from db.models import Occurrence, OccurrenceStatus

# A claim whose lease was last taken this long ago, with no outcome, belongs to a process that died (or
# is stuck): a reconciler may take it over. Taking over is a compare-and-set on `lease`, so the first
# owner can no longer post it; the reconciler looks for the message in the channel's history first.
# Far longer than one post can take (Slack's timeout and its retries), so a live post is never taken.
STALE_CLAIM = dt.timedelta(minutes=5)


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


@dataclass(frozen=True)
class NewClaim:
    """One occurrence to claim with its message already built (`claim_many`)."""

    ritual_id: int
    scheduled_at: dt.datetime
    channel_id: str
    prompt_key: str
    payload: dict[str, Any]


def claim_many(session: Session, claims: Sequence[NewClaim], *, now: dt.datetime) -> dict[int, int]:
    """`claim` for many occurrences in one INSERT, each with its prompt and message; returns the
    occurrence id of each ritual whose claim this caller won (one per ritual). The unique constraint
    decides each one, exactly as for `claim`."""
    if not claims:
        return {}
    rows = [
        {
            "ritual_id": c.ritual_id,
            "scheduled_at": c.scheduled_at,
            "status": OccurrenceStatus.CLAIMED,
            "reason": None,
            "channel_id": c.channel_id,
            "manual": False,
            "claimed_at": now,
            "reported": False,
            "prompt_key": c.prompt_key,
            "payload": c.payload,
            "lease": 0,
        }
        for c in claims
    ]
    # A Core statement on the table, run with many parameter sets: compiled once and cached, and sent
    # as multi-row INSERTs by SQLAlchemy ("insertmanyvalues"), RETURNING the rows that were inserted.
    stmt = (
        upsert(session.get_bind().dialect.name, Occurrence.__table__)
        .on_conflict_do_nothing(index_elements=["ritual_id", "scheduled_at"])
        .returning(Occurrence.__table__.c.id, Occurrence.__table__.c.ritual_id)
    )
    return {ritual_id: occurrence_id for occurrence_id, ritual_id in session.execute(stmt, rows)}


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


def _held(occurrence_id: int, lease: int | None) -> list[Any]:
    """The rows an outcome may be written to: this occurrence, still claimed under `lease` (any lease
    when None), so whoever lost the claim to a reconciler cannot overwrite its outcome."""
    where: list[Any] = [Occurrence.id == occurrence_id]
    if lease is not None:
        where += [Occurrence.status == OccurrenceStatus.CLAIMED, Occurrence.lease == lease]
    return where


def _rowcount(session: Session, stmt: Any) -> int:
    # An UPDATE's result is a CursorResult, which has the row count; Session.execute is typed for any
    # statement and says only Result.
    return cast("CursorResult[Any]", session.execute(stmt)).rowcount or 0


def mark_posted(
    session: Session,
    occurrence_id: int,
    *,
    channel_id: str,
    ts: str,
    prompt_key: str | None,
    now: dt.datetime,
    lease: int | None = None,
) -> bool:
    return bool(
        _rowcount(
            session,
            update(Occurrence)
            .where(*_held(occurrence_id, lease))
            .values(
                status=OccurrenceStatus.POSTED,
                channel_id=channel_id,
                message_ts=ts,
                prompt_key=prompt_key,
                posted_at=now,
                payload=None,
            ),
        )
    )


def set_prompt(session: Session, occurrence_id: int, prompt_key: str) -> None:
    session.execute(update(Occurrence).where(Occurrence.id == occurrence_id).values(prompt_key=prompt_key))


def set_payload(session: Session, occurrence_id: int, payload: dict[str, Any]) -> None:
    """Keep the prepared message with the claim, for a reconciler that must post it after a crash."""
    session.execute(update(Occurrence).where(Occurrence.id == occurrence_id).values(payload=payload))


def mark_failed(session: Session, occurrence_id: int, *, reason: str, lease: int | None = None) -> None:
    session.execute(
        update(Occurrence)
        .where(*_held(occurrence_id, lease))
        # A prompt that never reached the channel does not count as used.
        .values(status=OccurrenceStatus.FAILED, reason=reason[:300], prompt_key=None, payload=None)
    )


def mark_skipped(session: Session, occurrence_id: int, *, reason: str, lease: int | None = None) -> None:
    """A claimed check-in that was not posted on purpose (its ritual was paused or deleted meanwhile)."""
    session.execute(
        update(Occurrence)
        .where(*_held(occurrence_id, lease))
        .values(status=OccurrenceStatus.SKIPPED, reason=reason[:300], prompt_key=None, payload=None)
    )


def mark_missed(session: Session, occurrence_id: int, *, reason: str, lease: int | None = None) -> None:
    """Known not to be in the channel, and too late to post now."""
    session.execute(
        update(Occurrence)
        .where(*_held(occurrence_id, lease))
        .values(status=OccurrenceStatus.MISSED, reason=reason[:300], prompt_key=None, payload=None)
    )


def mark_uncertain(session: Session, occurrence_id: int, *, reason: str, lease: int | None = None) -> None:
    """Slack's answer was ambiguous and the channel's history cannot be read: maybe posted, maybe not.
    Kept out of `take_unreported_missed`, so no check-in ever calls it failed."""
    session.execute(
        update(Occurrence)
        .where(*_held(occurrence_id, lease))
        .values(status=OccurrenceStatus.UNCERTAIN, reason=reason[:300], payload=None)
    )


def take_lease(session: Session, occurrence_id: int, *, lease: int, now: dt.datetime) -> int | None:
    """Become the one poster of a claimed occurrence: the new lease if it was still claimed under
    `lease`, None if it has an outcome or someone else took it meanwhile."""
    taken = _rowcount(
        session,
        update(Occurrence).where(*_held(occurrence_id, lease)).values(lease=lease + 1, claimed_at=now),
    )
    return lease + 1 if taken else None


def stale_claims(
    session: Session, *, now: dt.datetime, exclude: Sequence[int] = (), limit: int = 500
) -> list[Occurrence]:
    """Claims with no outcome whose lease was taken more than STALE_CLAIM ago (a crash's leftovers)."""
    stmt = (
        select(Occurrence)
        .where(Occurrence.status == OccurrenceStatus.CLAIMED, Occurrence.claimed_at < now - STALE_CLAIM)
        .order_by(Occurrence.claimed_at, Occurrence.id)
        .limit(limit)
    )
    if exclude:
        stmt = stmt.where(Occurrence.id.not_in(list(exclude)))
    return list(session.scalars(stmt))


def release(session: Session, occurrence_id: int, *, lease: int | None = None) -> None:
    """Give back a claim that was never sent (graceful shutdown), so a restart can post it in time."""
    released = session.execute(
        delete(Occurrence)
        .where(
            Occurrence.id == occurrence_id,
            Occurrence.status == OccurrenceStatus.CLAIMED,
            *([] if lease is None else [Occurrence.lease == lease]),
        )
        .returning(Occurrence.ritual_id, Occurrence.scheduled_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if released is not None:
        # The ritual's next occurrence had moved past it when it was claimed: it is owed again.
        schedule.rewind(session, released.ritual_id, released.scheduled_at)


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


def last_posted_of(session: Session, ritual_ids: Sequence[int]) -> dict[int, dt.datetime]:
    """`last_posted_at` of many rituals in one query (a ritual never posted is absent)."""
    if not ritual_ids:
        return {}
    rows = session.execute(
        select(Occurrence.ritual_id, func.max(Occurrence.posted_at))
        .where(Occurrence.ritual_id.in_(list(ritual_ids)), Occurrence.status == OccurrenceStatus.POSTED)
        .group_by(Occurrence.ritual_id)
    )
    return {ritual_id: posted for ritual_id, posted in rows if posted is not None}


def prompt_histories(session: Session, ritual_ids: Sequence[int]) -> dict[int, list[str]]:
    """`prompt_history` of many rituals in one query."""
    history: dict[int, list[str]] = {}
    if not ritual_ids:
        return history
    rows = session.execute(
        select(Occurrence.ritual_id, Occurrence.prompt_key)
        .where(Occurrence.ritual_id.in_(list(ritual_ids)), Occurrence.prompt_key.is_not(None))
        .order_by(Occurrence.ritual_id, Occurrence.claimed_at, Occurrence.id)
    )
    for ritual_id, key in rows:
        if key is not None:
            history.setdefault(ritual_id, []).append(key)
    return history


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


def unreported_missed_of(
    session: Session, ritual_ids: Sequence[int]
) -> dict[int, list[tuple[int, NotPosted]]]:
    """What `take_unreported_missed` would take, for many rituals in one query, without marking
    anything: with each row's id, for `mark_reported` once the check-in that mentions them is claimed."""
    found: dict[int, list[tuple[int, NotPosted]]] = {}
    if not ritual_ids:
        return found
    rows = session.execute(
        select(
            Occurrence.id, Occurrence.ritual_id, Occurrence.scheduled_at, Occurrence.status, Occurrence.reason
        )
        .where(
            Occurrence.ritual_id.in_(list(ritual_ids)),
            Occurrence.status.in_([OccurrenceStatus.MISSED, OccurrenceStatus.FAILED]),
            Occurrence.reported.is_(False),
        )
        .order_by(Occurrence.ritual_id, Occurrence.scheduled_at)
    )
    for row_id, ritual_id, scheduled_at, status, reason in rows:
        found.setdefault(ritual_id, []).append((row_id, NotPosted(scheduled_at, status, reason)))
    return found


def mark_reported(session: Session, occurrence_ids: Sequence[int]) -> None:
    """These missed or failed check-ins were mentioned by a later one."""
    for start in range(0, len(occurrence_ids), 500):
        session.execute(
            update(Occurrence)
            .where(Occurrence.id.in_(list(occurrence_ids[start : start + 500])))
            .values(reported=True)
            .execution_options(synchronize_session=False)
        )
