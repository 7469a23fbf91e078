"""What happens when Slack refuses a channel or the token: the same, whatever was being posted.

A check-in, a win, a digest, a pulse or its results: when Slack answers that Tandem cannot post in
the channel (removed, archived, deleted) or that its token is gone, the active rituals of that
channel are paused, so nothing keeps failing there, and each one's creator gets a DM saying why and
how to resume (unless the workspace itself is gone, when nobody can be told).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from bot.blocks.rituals import build_paused_dm
from bot.messenger import DeliveryError, Messenger
from bot.usecases.access import workspace_id_of
from db.models import RitualStatus
from db.rituals import channel_rituals, pause_ritual
from db.session import Database

log = logging.getLogger(__name__)


class Pausing(Protocol):
    """What pausing needs of `bot.services.Services`. The scheduler's outbox offers the same three, so
    a check-in refused while no Services exists (a scheduler on its own) pauses the same way."""

    @property
    def database(self) -> Database: ...

    @property
    def messenger(self) -> Messenger: ...

    @property
    def on_ritual_change(self) -> Callable[[int], None]: ...


def pause_after_refusal(services: Pausing, team_id: str, channel_id: str, error: DeliveryError) -> list[int]:
    """Pause the channel's active rituals if `error` says the channel (or token) is unusable.

    Returns the ids of the rituals it paused (none when the error was passing, such as a rate limit).
    Call it outside any transaction: it opens its own, then DMs the creators after it.
    """
    if not error.pause:
        return []
    paused: list[tuple[int, str, str]] = []
    with services.database.begin() as session:
        for ritual in channel_rituals(session, workspace_id_of(session, team_id), channel_id):
            if ritual.status is RitualStatus.ACTIVE:
                pause_ritual(ritual, reason=error.reason)
                paused.append((ritual.id, ritual.name, ritual.created_by))
    for ritual_id, name, creator in paused:
        log.warning("ritual %s paused: %s", ritual_id, error.reason)
        services.on_ritual_change(ritual_id)
        if error.workspace_gone:
            continue
        text, blocks = build_paused_dm(name, channel_id, error.reason)
        try:
            services.messenger.dm(team_id, creator, text=text, blocks=[b.to_dict() for b in blocks])
        except DeliveryError as dm_error:
            log.warning(
                "could not tell the creator of ritual %s that it paused: %s", ritual_id, dm_error.reason
            )
    return [ritual_id for ritual_id, _, _ in paused]
