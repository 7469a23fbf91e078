"""Messages about rituals: the setup confirmation, `/tandem list`, delete confirmation, paused DM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import ids
from bot.blocks.text import escape, truncate

__all__ = [
    "MAX_LISTED",
    "PAUSE_REASONS",
    "SCOPE_CHANNEL",
    "SCOPE_MINE",
    "RitualSummary",
    "build_confirmation",
    "build_delete_confirmation",
    "build_paused_dm",
    "build_ritual_list",
    "format_local",
    "mentions",
    "pause_reason_text",
    "slack_date",
]

SCOPE_CHANNEL = "channel"
SCOPE_MINE = "mine"
# One section per ritual; 20 keeps the list well inside 50 blocks and Slack's total message size.
MAX_LISTED = 20
# Long names are cut in messages; the setup modal already limits new names to 80 characters.
_NAME_MAX = 100
_REASON_MAX = 300

#: Plain words for the Slack errors that make Tandem pause a ritual (keys are Slack error codes).
PAUSE_REASONS: dict[str, str] = {
    "not_in_channel": "Tandem is no longer a member of the channel, so it can't post there.",
    "channel_not_found": (
        "Tandem can't find the channel: it may have been deleted, or it is a private channel Tandem isn't in."
    ),
    "is_archived": "The channel has been archived, so nothing can be posted there.",
}


@dataclass(frozen=True)
class RitualSummary:
    """What the ritual messages show about one ritual, as plain values."""

    id: int
    name: str
    channel_id: str
    schedule: str  # e.g. db.cadence.describe(cadence)
    next_local: dt.datetime | None  # aware, in the ritual's timezone
    status: str  # "active" | "paused"
    paused_reason: str | None
    marketing: tuple[str, ...]
    it: tuple[str, ...]


def pause_reason_text(reason: str | None) -> str:
    """Plain words for a pause reason: a Slack error code from PAUSE_REASONS, or text kept as it is."""
    if not reason:
        return "Paused."
    return PAUSE_REASONS.get(reason, reason)


def mentions(user_ids: Sequence[str], *, limit: int = 20) -> str:
    """`<@U…>` mentions joined with commas; past `limit`, "and N more" (keeps messages short)."""
    shown = ", ".join(f"<@{escape(u)}>" for u in user_ids[:limit])
    if len(user_ids) > limit:
        shown += f" and {len(user_ids) - limit} more"
    return shown or "nobody yet"


def format_local(when: dt.datetime) -> str:
    """E.g. "Tuesday 1 December 2026, 09:00 CET" in `when`'s own timezone."""
    return f"{when:%A} {when.day} {when:%B %Y, %H:%M} {when.tzname() or ''}".rstrip()


def slack_date(when: dt.datetime, token: str = "{date_long_pretty} at {time}") -> str:
    """A Slack date token: each reader sees `when` in their own timezone; the fallback is the ritual's."""
    return f"<!date^{int(when.timestamp())}^{token}|{format_local(when)}>"


def _name(name: str) -> str:
    return escape(truncate(name, _NAME_MAX))


def _next_line(r: RitualSummary) -> str:
    if r.status == "paused":
        return f"Paused: {escape(truncate(pause_reason_text(r.paused_reason), _REASON_MAX))}"
    if r.next_local is None:
        return "No check-in scheduled."
    return f"{format_local(r.next_local)} ({slack_date(r.next_local)} your time)"


def build_confirmation(r: RitualSummary, *, created: bool) -> tuple[str, list[Block]]:
    """Posted in the ritual's channel after it is set up (`created`) or edited."""
    name = _name(r.name)
    verb = "is set up" if created else "was updated"
    text = f"{name} {verb}: {escape(r.schedule)}. Next check-in: {_next_line(r)}"
    details = (
        f"*Schedule:* {escape(r.schedule)}\n"
        f"*Next check-in:* {_next_line(r)}\n"
        f"*Marketing:* {mentions(r.marketing)}\n"
        f"*IT:* {mentions(r.it)}"
    )
    icon = ":handshake:" if created else ":pencil2:"
    intro = f"{icon} *{name}* {verb} in <#{escape(r.channel_id)}>."
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=intro)),
        SectionBlock(text=MarkdownTextObject(text=details)),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Each check-in brings a discussion prompt for both sides. "
                    f"See every check-in with `{ids.COMMAND} list`."
                )
            ]
        ),
    ]
    return text, blocks


def build_ritual_list(rituals: Sequence[RitualSummary], *, scope: str) -> tuple[str, list[Block]]:
    """The `/tandem list` reply (ephemeral): rituals of this channel (`SCOPE_CHANNEL`) or yours (`SCOPE_MINE`)."""
    if scope not in (SCOPE_CHANNEL, SCOPE_MINE):
        raise ValueError(f"unknown list scope {scope!r}")
    title = "Check-ins in this channel" if scope == SCOPE_CHANNEL else "Your check-ins"
    if not rituals:
        where = "in this channel" if scope == SCOPE_CHANNEL else "that you are part of"
        text = f"There are no check-ins {where} yet. Start one with {ids.COMMAND} setup."
        body = (
            f"There are no check-ins {where} yet.\n"
            f"Start one with `{ids.COMMAND} setup`: pick the people from marketing and IT, "
            "a day and a time, and Tandem does the rest."
        )
        return text, [SectionBlock(text=MarkdownTextObject(text=body))]

    shown = rituals[:MAX_LISTED]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{title}* ({len(rituals)})"))]
    for r in shown:
        icon = ":double_vertical_bar:" if r.status == "paused" else ":spiral_calendar_pad:"
        next_line = (
            _next_line(r)
            if r.status == "paused" or r.next_local is None
            else f"Next: {slack_date(r.next_local, '{date_short_pretty} at {time}')}"
        )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"{icon} *{_name(r.name)}* in <#{escape(r.channel_id)}>\n"
                    f"{escape(r.schedule)}\n{next_line}"
                )
            )
        )
    if len(rituals) > len(shown):
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"…and {len(rituals) - len(shown)} more.")])
        )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Only you can see this message.")]))
    text = f"{title}: " + ", ".join(truncate(r.name, _NAME_MAX) for r in shown)
    if len(rituals) > len(shown):
        text += f" and {len(rituals) - len(shown)} more"
    return escape(text), blocks


def build_delete_confirmation(r: RitualSummary) -> tuple[str, list[Block]]:
    """An ephemeral question with Delete / Keep it buttons; both carry the ritual id as their value."""
    name = _name(r.name)
    text = f"Delete {name}? No more check-ins will be posted. Past check-ins are kept for reports."
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":wastebasket: Delete *{name}* in <#{escape(r.channel_id)}>? "
                "No more check-ins will be posted."
            )
        ),
        ContextBlock(elements=[MarkdownTextObject(text="Past check-ins are kept for reports.")]),
        ActionsBlock(
            block_id=ids.BLOCK_RITUAL_DELETE_ACTIONS,
            elements=[
                ButtonElement(
                    text="Delete", action_id=ids.ACTION_RITUAL_DELETE_CONFIRM, value=str(r.id), style="danger"
                ),
                ButtonElement(text="Keep it", action_id=ids.ACTION_RITUAL_DELETE_CANCEL, value=str(r.id)),
            ],
        ),
    ]
    return text, blocks


def build_paused_dm(ritual_name: str, channel_id: str, reason_text: str) -> tuple[str, list[Block]]:
    """The DM to a ritual's creator when Slack refused its channel and the ritual was paused.

    `reason_text` is a Slack error code (see PAUSE_REASONS) or a sentence to show as it is.
    """
    name = _name(ritual_name)
    reason = escape(truncate(pause_reason_text(reason_text), _REASON_MAX))
    channel = f"<#{escape(channel_id)}>"
    resume = f"`{ids.COMMAND} resume {escape(truncate(ritual_name, _NAME_MAX))}`"
    if reason_text == "is_archived":
        fix = (
            f"To carry on, unarchive {channel}, invite Tandem with `/invite @Tandem`, then run {resume}. "
            f"Or set it up in another channel with `{ids.COMMAND} setup`."
        )
    else:
        fix = f"To carry on, invite Tandem to {channel} with `/invite @Tandem`, then run {resume}."
    text = f"I paused {name}: {reason} {fix}"
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":double_vertical_bar: I paused *{name}*, which posts in {channel}.\n{reason}"
            )
        ),
        SectionBlock(text=MarkdownTextObject(text=fix)),
        ContextBlock(
            elements=[MarkdownTextObject(text="Nothing is lost: the schedule and past check-ins are kept.")]
        ),
    ]
    return text, blocks


def refusal_text(kind: str, *, detail: str = "", ritual_name: str = "", refusal: str | None = None) -> str:
    """The ephemeral answer when a request may not go on (bot.usecases.access.Refused, as plain values).

    `refusal` words a feature's own "not allowed" sentence, with `{name}` for the ritual's name.
    """
    if kind == "not_found":
        return ":warning: This check-in no longer exists, or is not one of this workspace's."
    if kind == "ambiguous":
        return f":warning: {detail}"
    text = (
        refusal.format(name=ritual_name)
        if refusal
        else f"Only the creator of “{ritual_name}”, its members or a workspace admin can change it."
    )
    if kind == "admin_unknown":
        text += " (Slack did not say in time whether you are an admin: if you are, try again.)"
    return f":no_entry: {text}"
