"""Posting a tagged message into a channel once, for the posts that have no reconciler of their own.

Check-ins have the full treatment (bot.usecases.checkins.deliver: leases, crash leftovers, the grace
window). Other scheduled posts (the monthly wins digest) use this: the post carries its tag in the
message metadata, a 5xx is answered by a look into the channel's history (found: it was posted;
absent: post again, a few times at most), and an outcome that cannot be settled (no answer at all, or
a history Tandem may not read) is reported as uncertain rather than failed or posted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.messenger import DeliveryError, Messenger, PostTag

log = logging.getLogger(__name__)

# Ambiguous outcomes without any answer: Slack may still be storing the message, so a look at once
# could miss it (see bot.usecases.checkins.UNFINISHED).
UNFINISHED = frozenset({"timeout", "unreachable"})
MAX_POSTS = 3


@dataclass(frozen=True)
class Uncertain:
    """Slack may or may not have posted it, and Tandem cannot find out: never re-post, never call it failed."""

    reason: str


def post_once(
    messenger: Messenger,
    team_id: str,
    channel_id: str,
    *,
    text: str,
    blocks: Sequence[dict[str, Any]],
    tag: PostTag,
    thread_ts: str | None = None,
) -> str | Uncertain:
    """The ts of the one message carrying `tag`, or Uncertain. Raises DeliveryError when Slack
    clearly refused (it is known not to be there)."""
    error: DeliveryError | None = None
    for _ in range(MAX_POSTS):
        try:
            return messenger.post(team_id, channel_id, text=text, blocks=blocks, thread_ts=thread_ts, tag=tag)
        except DeliveryError as exc:
            if not exc.ambiguous:
                raise
            if exc.code in UNFINISHED:
                return Uncertain(exc.reason)
            error = exc
        try:
            found = messenger.find_tagged(team_id, channel_id, tag, thread_ts=thread_ts)
        except DeliveryError as exc:
            log.warning("could not look for %s in %s: %s", tag.event_type, channel_id, exc.reason)
            return Uncertain(exc.reason)
        if found is not None:
            return found
    assert error is not None
    raise error  # every try answered with a 5xx, and none is in the channel: known to have failed
