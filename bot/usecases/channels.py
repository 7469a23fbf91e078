"""Whether Tandem can post in a channel someone picked, asked before their submission is acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.messenger import DeliveryError
from bot.services import Services


class ChannelProblem(StrEnum):
    NOT_VISIBLE = "not_visible"  # Slack says there is no such channel (or a private one Tandem is not in)
    CHECK_FAILED = "check_failed"
    CHECK_TIMED_OUT = "check_timed_out"
    ARCHIVED = "archived"
    PRIVATE = "private"  # a private channel Tandem is not in: only a person can invite it
    JOIN_FAILED = "join_failed"
    JOIN_TIMED_OUT = "join_timed_out"


@dataclass(frozen=True)
class ChannelRefused:
    """Why Tandem cannot post in the channel (`code`: Slack's error code, where Slack refused)."""

    problem: ChannelProblem
    code: str = ""


def _timed_out(error: DeliveryError) -> bool:
    return error.code in ("timeout", "unreachable")


def check_channel(
    services: Services, team_id: str, channel_id: str, *, deadline: float
) -> ChannelRefused | None:
    """None if Tandem can post in the channel (joining a public one itself), else why not.

    Asked before a modal submission is acknowledged: no retries, and every call times out by
    `deadline`. Call it last, after every other check passed, so Tandem joins only for a submission
    it saves.
    """
    messenger = services.messenger
    try:
        channel = messenger.channel_info(team_id, channel_id, deadline=deadline)
    except DeliveryError as exc:
        if exc.code == "channel_not_found":
            return ChannelRefused(ChannelProblem.NOT_VISIBLE)
        if _timed_out(exc):
            return ChannelRefused(ChannelProblem.CHECK_TIMED_OUT)
        return ChannelRefused(ChannelProblem.CHECK_FAILED, exc.code)
    if channel.is_archived:
        return ChannelRefused(ChannelProblem.ARCHIVED)
    if channel.is_member:
        return None
    if channel.is_private:
        return ChannelRefused(ChannelProblem.PRIVATE)
    try:
        messenger.join_channel(team_id, channel_id, deadline=deadline)
    except DeliveryError as exc:
        if _timed_out(exc):
            return ChannelRefused(ChannelProblem.JOIN_TIMED_OUT)
        return ChannelRefused(ChannelProblem.JOIN_FAILED, exc.code)
    return None
