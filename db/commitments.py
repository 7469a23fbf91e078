"""Commitments with one owner on each side. Plain values in; nothing here knows Slack."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Commitment, CommitmentStatus, Ritual, Workspace


class CommitmentError(Exception):
    """A user-facing problem with a commitment; the message is shown as is."""


@dataclass(frozen=True)
class CommitmentSpec:
    what: str
    marketing_owner: str
    it_owner: str
    due: dt.date
    ritual_id: int | None = None
    channel_id: str | None = None


def create_commitment(
    session: Session, workspace_id: int, spec: CommitmentSpec, *, created_by: str, now: dt.datetime
) -> Commitment:
    if spec.marketing_owner == spec.it_owner:
        raise CommitmentError("One owner from each side: pick two different people.")
    commitment = Commitment(
        workspace_id=workspace_id,
        ritual_id=spec.ritual_id,
        channel_id=spec.channel_id,
        what=" ".join(spec.what.split()),
        marketing_owner=spec.marketing_owner,
        it_owner=spec.it_owner,
        due_date=spec.due,
        created_by=created_by,
        created_at=now,
    )
    session.add(commitment)
    session.flush()
    return commitment


def can_change(session: Session, commitment: Commitment, user_id: str) -> bool:
    """Its owners, its creator, or a lead (creator) of its ritual."""
    if user_id in (commitment.marketing_owner, commitment.it_owner, commitment.created_by):
        return True
    if commitment.ritual_id is not None:
        ritual = session.get(Ritual, commitment.ritual_id)
        return ritual is not None and ritual.created_by == user_id
    return False


def _require_open(commitment: Commitment) -> None:
    if commitment.status is not CommitmentStatus.OPEN:
        raise CommitmentError(f"This commitment is already {commitment.status.value}.")


def mark_done(commitment: Commitment, *, by: str, now: dt.datetime) -> None:
    _require_open(commitment)
    commitment.status, commitment.closed_at, commitment.closed_by = CommitmentStatus.DONE, now, by


def move_due(commitment: Commitment, due: dt.date, *, today: dt.date) -> None:
    _require_open(commitment)
    if due < today:
        raise CommitmentError("The new date is in the past; pick today or later.")
    commitment.due_date = due
    commitment.nudged_at = None  # a new date earns a new nudge if it slips again


def drop(commitment: Commitment, reason: str, *, by: str, now: dt.datetime) -> None:
    _require_open(commitment)
    if not reason.strip():
        raise CommitmentError("Say briefly why it is dropped.")
    commitment.status, commitment.reason = CommitmentStatus.DROPPED, reason.strip()[:300]
    commitment.closed_at, commitment.closed_by = now, by


def open_for_ritual(session: Session, ritual_id: int) -> list[Commitment]:
    return list(
        session.scalars(
            select(Commitment)
            .where(Commitment.ritual_id == ritual_id, Commitment.status == CommitmentStatus.OPEN)
            .order_by(Commitment.due_date, Commitment.id)
        )
    )


def open_for_user(session: Session, workspace_id: int, user_id: str) -> list[Commitment]:
    return list(
        session.scalars(
            select(Commitment)
            .where(
                Commitment.workspace_id == workspace_id,
                Commitment.status == CommitmentStatus.OPEN,
                (Commitment.marketing_owner == user_id) | (Commitment.it_owner == user_id),
            )
            .order_by(Commitment.due_date, Commitment.id)
        )
    )


def closed_between(
    session: Session, ritual_id: int, start: dt.datetime, end: dt.datetime
) -> list[Commitment]:
    return list(
        session.scalars(
            select(Commitment).where(
                Commitment.ritual_id == ritual_id,
                Commitment.status == CommitmentStatus.DONE,
                Commitment.closed_at >= start,
                Commitment.closed_at < end,
            )
        )
    )


def claim_overdue_nudges(session: Session, *, today: dt.date, now: dt.datetime) -> list[Commitment]:
    """Open commitments past their due date not yet nudged; marks them nudged (each at most once)."""
    due = list(
        session.scalars(
            select(Commitment)
            .join(Workspace, Commitment.workspace_id == Workspace.id)
            .where(
                Commitment.status == CommitmentStatus.OPEN,
                Commitment.due_date < today,
                Commitment.nudged_at.is_(None),
                # An uninstalled workspace gets no DMs; its commitments wait, unclaimed, for a reinstall.
                Workspace.uninstalled_at.is_(None),
            )
        )
    )
    claimed = []
    for commitment in due:
        # The conditional UPDATE is the claim: a second scheduler finds nudged_at already set.
        won = session.execute(
            update(Commitment)
            .where(Commitment.id == commitment.id, Commitment.nudged_at.is_(None))
            .values(nudged_at=now)
            .returning(Commitment.id)
        ).scalar_one_or_none()
        if won is not None:
            claimed.append(commitment)
    return claimed
