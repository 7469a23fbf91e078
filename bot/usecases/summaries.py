"""Plain summaries of domain objects, in the shape the Block Kit builders take."""

from __future__ import annotations

import datetime as dt

from bot.blocks.commitments import CommitmentView
from bot.blocks.rituals import RitualSummary
from bot.blocks.wins import WinView
from db import wins as win_db
from db.cadence import describe
from db.models import Commitment, Ritual, Side, Win
from db.rituals import cadence_of, member_ids, next_time


def summary(ritual: Ritual, now: dt.datetime, skipped: list[dt.datetime] | None = None) -> RitualSummary:
    cadence = cadence_of(ritual)
    nxt = next_time(ritual, now, skipped=skipped or [])
    marketing, it = member_ids(ritual)
    return RitualSummary(
        id=ritual.id,
        name=ritual.name,
        channel_id=ritual.channel_id,
        schedule=describe(cadence),
        next_local=nxt.astimezone(cadence.zone) if nxt else None,
        status=ritual.status.value,
        paused_reason=ritual.paused_reason,
        marketing=marketing,
        it=it,
    )


def win_view(win: Win, zone: dt.tzinfo) -> WinView:
    return WinView(
        id=win.id,
        what=win.what,
        marketing=win_db.credited(win, Side.MARKETING),
        it=win_db.credited(win, Side.IT),
        outcome=win.outcome,
        link=win.link,
        created_by=win.created_by,
        channel_id=win.channel_id,
        created_local=win.created_at.astimezone(zone),
        withdrawn=win.withdrawn_at is not None,
        edited=win.updated_at is not None,
    )


def commitment_view(c: Commitment, *, today: dt.date) -> CommitmentView:
    return CommitmentView(
        id=c.id,
        what=c.what,
        marketing_owner=c.marketing_owner,
        it_owner=c.it_owner,
        due=c.due_date,
        status=c.status.value,
        overdue=c.status.value == "open" and c.due_date < today,
        created_by=c.created_by,
        reason=c.reason,
    )
