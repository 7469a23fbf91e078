"""Shared wins and the monthly ledger. Plain values in; nothing here knows Slack."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from db.base import upsert
from db.models import OccurrenceStatus, Ritual, Side, Win, WinCredit, WinDigest

# A channel's digest for a month is due on the month's last day at this hour, in its ritual's timezone.
DIGEST_HOUR = 16


@dataclass(frozen=True)
class WinSpec:
    what: str
    marketing: tuple[str, ...]
    it: tuple[str, ...]
    channel_id: str
    outcome: str | None = None
    link: str | None = None
    ritual_id: int | None = None


def _apply(win: Win, spec: WinSpec) -> None:
    if not spec.marketing or not spec.it:
        # The modal's parser refuses this with words for the user; reaching here is a bug.
        raise ValueError("a shared win credits at least one person on each side")
    win.what = spec.what.strip()
    win.outcome = (spec.outcome or "").strip() or None
    win.link = (spec.link or "").strip() or None
    win.channel_id = spec.channel_id
    win.ritual_id = spec.ritual_id
    wanted = {**{u: Side.MARKETING for u in spec.marketing}, **{u: Side.IT for u in spec.it}}
    # Change credits in place: replacing them all would insert a (win, person) pair before the
    # old row is deleted, which the unique constraint rightly refuses.
    for credit in list(win.credits):
        if credit.user_id not in wanted:
            win.credits.remove(credit)
        else:
            credit.side = wanted.pop(credit.user_id)
    for user_id, side in wanted.items():
        win.credits.append(WinCredit(user_id=user_id, side=side))


def create_win(
    session: Session, workspace_id: int, spec: WinSpec, *, created_by: str, now: dt.datetime
) -> Win:
    win = Win(workspace_id=workspace_id, created_by=created_by, created_at=now)
    _apply(win, spec)
    session.add(win)
    session.flush()
    return win


def update_win(session: Session, win: Win, spec: WinSpec, *, now: dt.datetime) -> Win:
    if win.withdrawn_at is not None:
        raise ValueError("a withdrawn win is not edited")  # callers check first, to say so
    _apply(win, spec)
    win.updated_at = now
    session.flush()
    return win


def withdraw_win(win: Win, *, now: dt.datetime) -> None:
    win.withdrawn_at = now


def load_win(session: Session, workspace_id: int, win_id: int) -> Win | None:
    """The win with this id if it belongs to the workspace (withdrawn or not), with its credits."""
    return session.scalars(
        select(Win)
        .where(Win.id == win_id, Win.workspace_id == workspace_id)
        .options(selectinload(Win.credits))
    ).one_or_none()


def win_zone(session: Session, win: Win) -> dt.tzinfo:
    """The timezone a win's dates are read in: its ritual's (UTC for a win outside any ritual)."""
    timezone = (
        session.scalar(select(Ritual.timezone).where(Ritual.id == win.ritual_id)) if win.ritual_id else None
    )
    return ZoneInfo(timezone) if timezone else dt.UTC


def credited(win: Win, side: Side) -> tuple[str, ...]:
    return tuple(c.user_id for c in win.credits if c.side is side)


def wins_between(
    session: Session,
    workspace_id: int,
    *,
    start: dt.datetime,
    end: dt.datetime,
    channel_id: str | None = None,
    ritual_id: int | None = None,
) -> list[Win]:
    """Wins (not withdrawn) created in [start, end), of a channel and/or ritual, oldest first."""
    query = (
        select(Win)
        .where(
            Win.workspace_id == workspace_id,
            Win.withdrawn_at.is_(None),
            Win.draft.is_(False),
            Win.created_at >= start,
            Win.created_at < end,
        )
        .options(selectinload(Win.credits))
        .order_by(Win.created_at, Win.id)
    )
    if channel_id is not None and ritual_id is not None:
        query = query.where((Win.channel_id == channel_id) | (Win.ritual_id == ritual_id))
    elif channel_id is not None:
        query = query.where(Win.channel_id == channel_id)
    elif ritual_id is not None:
        query = query.where(Win.ritual_id == ritual_id)
    return list(session.scalars(query))


def latest_wins_since(
    session: Session, workspace_ids: Sequence[int], since: dt.datetime
) -> dict[int, dt.datetime]:
    """Per workspace, when its latest win (not withdrawn) created from `since` on was created; a
    workspace without one is absent. One query: `wins_between` is only asked where this found one."""
    if not workspace_ids:
        return {}
    rows = session.execute(
        select(Win.workspace_id, func.max(Win.created_at))
        .where(Win.workspace_id.in_(list(workspace_ids)), Win.withdrawn_at.is_(None), Win.created_at >= since)
        .group_by(Win.workspace_id)
    )
    return {workspace_id: latest for workspace_id, latest in rows if latest is not None}


def wins_crediting(session: Session, workspace_id: int, user_id: str, *, limit: int) -> tuple[list[Win], int]:
    """The most recent wins that credit `user_id`, and how many there are in all."""
    ids = list(
        session.scalars(
            select(Win.id)
            .join(WinCredit, WinCredit.win_id == Win.id)
            .where(
                Win.workspace_id == workspace_id,
                Win.withdrawn_at.is_(None),
                Win.draft.is_(False),
                WinCredit.user_id == user_id,
            )
            .order_by(Win.created_at.desc(), Win.id.desc())
        )
    )
    wins = list(
        session.scalars(
            select(Win)
            .where(Win.id.in_(ids[:limit]))
            .options(selectinload(Win.credits))
            .order_by(Win.created_at.desc(), Win.id.desc())
        )
    )
    return wins, len(ids)


def month_bounds(year: int, month: int, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The start of the month and of the next, as aware instants in `zone`."""
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start, end


def digest_due_at(year: int, month: int, zone: dt.tzinfo) -> dt.datetime:
    """When a month's digest falls due: its last day at `DIGEST_HOUR`, in `zone`."""
    _, next_month = month_bounds(year, month, zone)
    last_day = (next_month - dt.timedelta(days=1)).date()
    return dt.datetime.combine(last_day, dt.time(DIGEST_HOUR), tzinfo=zone)


def digest_periods_owed(now: dt.datetime, zone: dt.tzinfo) -> list[tuple[int, int]]:
    """The months (last month, this month) whose digest has fallen due by `now`, in `zone`."""
    local = now.astimezone(zone)
    this = (local.year, local.month)
    previous = (local.year - (local.month == 1), (local.month - 2) % 12 + 1)
    return [p for p in (previous, this) if now >= digest_due_at(*p, zone)]


def claim_digest(
    session: Session,
    workspace_id: int,
    channel_id: str,
    period: str,
    *,
    now: dt.datetime,
    missed: bool = False,
) -> int | None:
    """Claim a channel's digest for a month; the id if this caller won, None if it was already claimed."""
    return session.execute(
        upsert(session.get_bind().dialect.name, WinDigest)
        .values(
            workspace_id=workspace_id,
            channel_id=channel_id,
            period=period,
            status=OccurrenceStatus.MISSED if missed else OccurrenceStatus.CLAIMED,
            reason="Tandem was not running at the end of the month" if missed else None,
            claimed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "channel_id", "period"])
        .returning(WinDigest.id)
    ).scalar_one_or_none()


def finish_digest(
    session: Session,
    digest_id: int,
    *,
    ts: str | None,
    reason: str | None = None,
    empty: bool = False,
    uncertain: bool = False,
) -> None:
    """Record how a claimed digest ended: posted, failed, skipped because the month had no wins, or
    uncertain (Slack's answer was ambiguous and the channel's history could not tell)."""
    digest = session.get(WinDigest, digest_id)
    if digest is not None:
        if empty:
            digest.status = OccurrenceStatus.SKIPPED
        elif uncertain:
            digest.status = OccurrenceStatus.UNCERTAIN
        else:
            digest.status = OccurrenceStatus.POSTED if ts else OccurrenceStatus.FAILED
        digest.message_ts = ts
        digest.reason = reason
