"""The monthly digest to a ritual's leads: who gets it, when, and the claims that make it go once.

Queries and pure timing only; what it says is `bot.blocks.leads_digest`, and building and sending it
is `bot.usecases.leads_digest`. A claim is a row under a unique (ritual, month, lead), inserted in a
unit of work before anything is sent, so two schedulers (or a rerun) never send one lead's digest
of one month twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from db.base import upsert
from db.direct_messages import working_hours_of
from db.models import (
    Commitment,
    CommitmentStatus,
    LeadsDigest,
    Person,
    Ritual,
    RitualMember,
    RitualStatus,
    Side,
    Workspace,
)
from db.working_hours import FALLBACK_ZONE, WorkingHours

# A digest not out within this long after its month ended (where the ritual is) is no longer news:
# it is skipped. Long enough for any lead's first working day: a workspace working one day a week,
# plus a lead up to 26 hours west of the ritual (UTC+14 to UTC-12), still gets it.
DIGEST_WINDOW = dt.timedelta(days=9)
# A claim whose DM was not queued after this long belongs to a process that stopped in between; the
# hand-off is done again (the held DM's own key makes a second hand-off send nothing twice).
STALE_CLAIM = dt.timedelta(minutes=15)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or FALLBACK_ZONE)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo(FALLBACK_ZONE)


# -- months --------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @property
    def key(self) -> str:
        """How a claim names it: "2026-11"."""
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def start(self, timezone: str | None) -> dt.datetime:
        """00:00 on the 1st, where `timezone` is, as a UTC instant."""
        return dt.datetime(self.year, self.month, 1, tzinfo=zone(timezone)).astimezone(dt.UTC)

    @classmethod
    def of(cls, at: dt.datetime, timezone: str | None) -> Month:
        local = at.astimezone(zone(timezone))
        return cls(local.year, local.month)


def digest_month(now: dt.datetime, ritual_timezone: str) -> Month:
    """The month a digest due around `now` is about: the last one that has ended in the ritual's
    timezone."""
    return Month.of(now, ritual_timezone).previous()


def due_at(
    month: Month, *, ritual_timezone: str, lead_timezone: str | None, hours: WorkingHours
) -> dt.datetime:
    """When a lead's digest of `month` falls due: the first working start of the month after, in the
    lead's timezone and the workspace's hours (Monday the 3rd when the 1st is a Saturday), and never
    before the month has ended where the ritual is (a lead far east of the ritual waits for it)."""
    following = month.next()
    first_working = hours.next_start(following.start(lead_timezone), lead_timezone)
    return max(first_working, following.start(ritual_timezone))


def deadline_of(month: Month, ritual_timezone: str) -> dt.datetime:
    return month.next().start(ritual_timezone) + DIGEST_WINDOW


# -- who gets one ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestLead:
    """One lead of one ritual that sends digests, with what timing their digest needs."""

    ritual_id: int
    ritual_timezone: str
    ritual_created_at: dt.datetime
    team_id: str
    hours: WorkingHours
    side: Side
    user_id: str
    timezone: str | None  # the lead's Slack timezone, when Tandem has learnt it


def digest_leads(session: Session) -> list[DigestLead]:
    """The two leads (db.rituals.ritual_leads: the first member named on each side) of every active
    ritual that has the digest on, in an installed workspace. Two queries, whatever the number."""
    rituals = {
        row.id: row
        for row in session.execute(
            select(Ritual.id, Ritual.timezone, Ritual.created_at, Workspace)
            .join(Workspace, Ritual.workspace_id == Workspace.id)
            .where(
                Ritual.status == RitualStatus.ACTIVE,
                Ritual.leads_digest.is_(True),
                Workspace.uninstalled_at.is_(None),
            )
        )
    }
    if not rituals:
        return []
    leads: dict[tuple[int, Side], DigestLead] = {}
    for ritual_id, side, user_id, timezone in session.execute(
        select(RitualMember.ritual_id, RitualMember.side, Person.slack_user_id, Person.timezone)
        .join(Person, RitualMember.person_id == Person.id)
        .where(
            RitualMember.ritual_id.in_(list(rituals)),
            RitualMember.side.in_((Side.MARKETING, Side.IT)),
        )
        .order_by(RitualMember.id)
    ):
        if (ritual_id, side) in leads:
            continue
        row = rituals[ritual_id]
        leads[(ritual_id, side)] = DigestLead(
            ritual_id=ritual_id,
            ritual_timezone=row.timezone,
            ritual_created_at=row.created_at,
            team_id=row.Workspace.team_id,
            hours=working_hours_of(row.Workspace),
            side=side,
            user_id=user_id,
            timezone=timezone,
        )
    return sorted(leads.values(), key=lambda lead: (lead.ritual_id, lead.side.value))


def may_be_due(now: dt.datetime) -> bool:
    """Whether any digest can be due at `now`, anywhere on Earth (UTC-12 to UTC+14): only in the
    first days of a month. Lets the job skip its reads on the other three weeks."""
    window_days = DIGEST_WINDOW.days + 2
    for hours in (-12, 14):
        local = now + dt.timedelta(hours=hours)
        if local.day <= window_days:
            return True
    return False


# -- claims ----------------------------------------------------------------------------------------


def claimed(session: Session, periods: Collection[str]) -> set[tuple[int, str, str]]:
    """(ritual id, month, lead) of the claims already made for these months."""
    if not periods:
        return set()
    return {
        (ritual_id, period, user_id)
        for ritual_id, period, user_id in session.execute(
            select(LeadsDigest.ritual_id, LeadsDigest.period, LeadsDigest.user_id).where(
                LeadsDigest.period.in_(list(periods))
            )
        )
    }


def claim(session: Session, ritual_id: int, period: str, user_id: str, *, now: dt.datetime) -> int | None:
    """Claim one lead's digest of one month; its id, or None when it was already claimed (by another
    scheduler, or an earlier run). Commit before sending anything."""
    return session.execute(
        upsert(session.get_bind().dialect.name, LeadsDigest)
        .values(ritual_id=ritual_id, period=period, user_id=user_id, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["ritual_id", "period", "user_id"])
        .returning(LeadsDigest.id)
    ).scalar_one_or_none()


def forget_lead(session: Session, workspace_id: int, user_id: str) -> int:
    """Delete the record of the digests a person who asked Tandem to forget them was sent."""
    rituals = select(Ritual.id).where(Ritual.workspace_id == workspace_id)
    result = session.execute(
        delete(LeadsDigest).where(LeadsDigest.user_id == user_id, LeadsDigest.ritual_id.in_(rituals))
    )
    return cast("CursorResult[Any]", result).rowcount or 0


def stale_claims(session: Session, *, now: dt.datetime) -> list[LeadsDigest]:
    """Claims whose DM was never queued (their process stopped in between), oldest first."""
    return list(
        session.scalars(
            select(LeadsDigest)
            .where(LeadsDigest.queued_at.is_(None), LeadsDigest.claimed_at < now - STALE_CLAIM)
            .order_by(LeadsDigest.claimed_at, LeadsDigest.id)
        )
    )


def take_over(session: Session, digest_id: int, *, claimed_at: dt.datetime, now: dt.datetime) -> bool:
    """Take a stale claim (compare-and-set on its claim time): False when another process took it."""
    result = session.execute(
        update(LeadsDigest)
        .where(
            LeadsDigest.id == digest_id,
            LeadsDigest.queued_at.is_(None),
            LeadsDigest.claimed_at == claimed_at,
        )
        .values(claimed_at=now)
    )
    return bool(cast("CursorResult[Any]", result).rowcount)


def mark_queued(session: Session, digest_id: int, outcome: str, *, now: dt.datetime) -> None:
    session.execute(
        update(LeadsDigest).where(LeadsDigest.id == digest_id).values(queued_at=now, outcome=outcome[:16])
    )


# -- what the month held, beyond the pulses (db.reports reads those) ------------------------------


def commitments_done(session: Session, ritual_id: int, *, start: dt.datetime, end: dt.datetime) -> int:
    return len(
        session.scalars(
            select(Commitment.id).where(
                Commitment.ritual_id == ritual_id,
                Commitment.status == CommitmentStatus.DONE,
                Commitment.closed_at >= start,
                Commitment.closed_at < end,
            )
        ).all()
    )


def commitments_overdue(session: Session, ritual_id: int, *, before: dt.date) -> list[tuple[str, dt.date]]:
    """Commitments still open that were due before `before` (the 1st of the month after), by due date."""
    rows = session.execute(
        select(Commitment.what, Commitment.due_date)
        .where(
            Commitment.ritual_id == ritual_id,
            Commitment.status == CommitmentStatus.OPEN,
            Commitment.due_date < before,
        )
        .order_by(Commitment.due_date, Commitment.id)
    )
    return [(what, due) for what, due in rows]
