"""Commitments with one owner on each side. Plain values in; nothing here knows Slack."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import Commitment, CommitmentStatus, Ritual, Workspace
from db.rituals import ritual_leads

# A commitment outside any ritual is overdue once its date is over everywhere on Earth ("anywhere on
# Earth", UTC-12): its owners may be in any timezone, and an early nudge is worse than a late one.
ANYWHERE_ON_EARTH = ZoneInfo("Etc/GMT+12")


# Where a commitment made with "Make this a commitment" came from: a pulse's results, a drift alert
# after a pulse, or one of a pulse's comments (Commitment.source_kind; the pulse is source_pulse_id).
SOURCE_RESULT = "result"
SOURCE_DRIFT = "drift"
SOURCE_COMMENT = "comment"
SOURCE_KINDS = (SOURCE_RESULT, SOURCE_DRIFT, SOURCE_COMMENT)


@dataclass(frozen=True)
class CommitmentSpec:
    what: str
    marketing_owner: str
    it_owner: str
    due: dt.date
    ritual_id: int | None = None
    channel_id: str | None = None
    source_kind: str | None = None  # one of SOURCE_KINDS, with source_pulse_id
    source_pulse_id: int | None = None


def create_commitment(
    session: Session, workspace_id: int, spec: CommitmentSpec, *, created_by: str, now: dt.datetime
) -> Commitment:
    if spec.marketing_owner == spec.it_owner:
        # The modal's parser refuses this with words for the user; reaching here is a bug.
        raise ValueError("a commitment has two different owners")
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
        source_kind=spec.source_kind,
        source_pulse_id=spec.source_pulse_id,
    )
    session.add(commitment)
    session.flush()
    return commitment


def from_pulse(session: Session, pulse_id: int) -> tuple[int, int]:
    """How many commitments were made from the pulse (its results, a drift alert after it, or one of
    its comments), and how many of those are done."""
    total, done = session.execute(
        select(
            func.count(Commitment.id),
            func.count(Commitment.id).filter(Commitment.status == CommitmentStatus.DONE),
        ).where(Commitment.source_pulse_id == pulse_id)
    ).one()
    return int(total or 0), int(done or 0)


def load_commitment(session: Session, workspace_id: int, commitment_id: int) -> Commitment | None:
    """The commitment with this id if it belongs to the workspace."""
    return session.scalars(
        select(Commitment).where(Commitment.id == commitment_id, Commitment.workspace_id == workspace_id)
    ).one_or_none()


def can_change(session: Session, commitment: Commitment, user_id: str) -> bool:
    """Its owners, whoever added it, or a lead of its ritual (see `db.rituals.ritual_leads`)."""
    if user_id in (commitment.marketing_owner, commitment.it_owner, commitment.created_by):
        return True
    if commitment.ritual_id is not None:
        return user_id in ritual_leads(session, commitment.ritual_id).values()
    return False


def ritual_zones(session: Session, ritual_ids: Iterable[int | None]) -> dict[int, ZoneInfo]:
    """The timezone of each of these rituals (missing ones left out)."""
    wanted = {r for r in ritual_ids if r is not None}
    if not wanted:
        return {}
    return {
        ritual_id: ZoneInfo(tz)
        for ritual_id, tz in session.execute(select(Ritual.id, Ritual.timezone).where(Ritual.id.in_(wanted)))
    }


def local_today(commitment: Commitment, zones: dict[int, ZoneInfo], now: dt.datetime) -> dt.date:
    """The date against which `commitment` is overdue: today in its ritual's timezone (from
    `ritual_zones`), or where the day ends last for a commitment outside any ritual."""
    zone = zones.get(commitment.ritual_id) if commitment.ritual_id is not None else None
    return now.astimezone(zone or ANYWHERE_ON_EARTH).date()


def _require_open(commitment: Commitment) -> None:
    # Callers check first, to say so; changing a closed commitment is a bug.
    if commitment.status is not CommitmentStatus.OPEN:
        raise ValueError(f"commitment {commitment.id} is already {commitment.status.value}")


def mark_done(commitment: Commitment, *, by: str, now: dt.datetime) -> None:
    _require_open(commitment)
    commitment.status, commitment.closed_at, commitment.closed_by = CommitmentStatus.DONE, now, by


def move_due(commitment: Commitment, due: dt.date) -> None:
    """A new due date (the modal's parser keeps it between today and five years on)."""
    _require_open(commitment)
    commitment.due_date = due
    commitment.nudged_at = None  # a new date earns a new nudge if it slips again


def drop(commitment: Commitment, reason: str, *, by: str, now: dt.datetime) -> None:
    _require_open(commitment)
    if not reason.strip():
        raise ValueError("a dropped commitment says why")  # the modal's parser asks for it
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


def open_for_rituals(session: Session, ritual_ids: Sequence[int]) -> list[Commitment]:
    """`open_for_ritual` of many rituals in one query, in the same order within each ritual."""
    if not ritual_ids:
        return []
    return list(
        session.scalars(
            select(Commitment)
            .where(Commitment.ritual_id.in_(list(ritual_ids)), Commitment.status == CommitmentStatus.OPEN)
            .order_by(Commitment.ritual_id, Commitment.due_date, Commitment.id)
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


def claim_overdue_nudges(session: Session, *, now: dt.datetime) -> list[Commitment]:
    """Open commitments past their due date (in their ritual's timezone) not yet nudged; marks them
    nudged (each at most once). `release_nudge` gives a claim back when the nudge could not go out."""
    # The latest date anywhere is at most a day after UTC's: fetch those candidates, then decide
    # per commitment in its own timezone.
    candidates = list(
        session.scalars(
            select(Commitment)
            .join(Workspace, Commitment.workspace_id == Workspace.id)
            .where(
                Commitment.status == CommitmentStatus.OPEN,
                Commitment.due_date < now.date() + dt.timedelta(days=1),
                Commitment.nudged_at.is_(None),
                # An uninstalled workspace gets no DMs; its commitments wait, unclaimed, for a reinstall.
                Workspace.uninstalled_at.is_(None),
            )
        )
    )
    zones = ritual_zones(session, (c.ritual_id for c in candidates))
    claimed = []
    for commitment in candidates:
        if commitment.due_date >= local_today(commitment, zones, now):
            continue
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


def release_nudge(session: Session, commitment_id: int, *, claimed_at: dt.datetime) -> None:
    """Give back a nudge claim whose DMs did not go out, so the next run tries again (unless the
    commitment changed meanwhile: a new date already cleared it, or another run claimed it since)."""
    session.execute(
        update(Commitment)
        .where(Commitment.id == commitment_id, Commitment.nudged_at == claimed_at)
        .values(nudged_at=None)
    )
