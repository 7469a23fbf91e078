"""A ritual summarised in the shape the Block Kit builders take (wins and commitments are summarised
in their own use-case modules: `bot.usecases.wins.win_view`, `bot.usecases.commitments.commitment_view`)."""

from __future__ import annotations

import datetime as dt

from bot.blocks.rituals import RitualSummary
from db.cadence import describe
from db.models import Ritual
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
