"""Plain summaries of domain objects, in the shape the Block Kit builders take."""

from __future__ import annotations

import datetime as dt

from bot.blocks.rituals import RitualSummary

# Wins and commitments are summarised where their use cases live; re-exported for the Home tab and
# the check-in until those move to their own use-case modules.
from bot.usecases.commitments import commitment_view as commitment_view
from bot.usecases.wins import win_view as win_view
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
