"""What to tell someone who picked a channel Tandem cannot post in (bot.usecases.channels)."""

from __future__ import annotations

__all__ = ["channel_problem_text"]


def channel_problem_text(problem: str, code: str = "") -> str:
    """The inline error (plain text) for a `bot.usecases.channels.ChannelProblem`; `code` is Slack's
    error code where Slack refused."""
    texts = {
        "not_visible": "Tandem can't see this channel. If it is private, invite @Tandem to it first (/invite @Tandem).",
        "check_failed": f"Slack could not check this channel ({code}). Try again.",
        "check_timed_out": "Slack did not answer in time while Tandem checked this channel. Try again.",
        "archived": "This channel is archived. Pick a channel people still use.",
        "private": "Tandem is not in this private channel. Invite it first with /invite @Tandem, then save again.",
        "join_failed": f"Tandem could not join this channel ({code}). Invite it with /invite @Tandem.",
        "join_timed_out": "Slack did not answer in time while Tandem joined this channel. Try again.",
    }
    return texts.get(problem, texts["check_failed"])
