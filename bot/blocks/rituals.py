"""Messages about rituals: the setup confirmation, `/tandem list`, delete confirmation, paused DM, the
answers to the ritual commands, and the parsers of what comes back (delete button, `skip` arguments)."""

from __future__ import annotations

import datetime as dt
import re
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
from bot.blocks.text import escape, plain_date, plain_time, truncate

__all__ = [
    "DELETE_REFUSAL",
    "MAX_LISTED",
    "PAUSE_REASONS",
    "SCOPE_CHANNEL",
    "SCOPE_MINE",
    "SKIP_EXAMPLE",
    "RitualSummary",
    "SkipArgs",
    "build_confirmation",
    "build_delete_confirmation",
    "build_paused_dm",
    "build_ritual_list",
    "delete_confirmation_id",
    "deleted_text",
    "format_local",
    "looks_like_date_problem",
    "mentions",
    "not_opened_text",
    "now_text",
    "parse_skip_args",
    "pause_reason_text",
    "paused_by_reason",
    "paused_text",
    "refusal_text",
    "resumed_text",
    "skipped_text",
    "slack_date",
    "warning_text",
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
    """E.g. "Tue 1 Dec 2026, 09:00 CET" in `when`'s own timezone."""
    return plain_time(when)


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


def delete_confirmation_id(value: object) -> int | None:
    """The ritual id a Delete button of `build_delete_confirmation` carries; None for anything else."""
    return ids.parse_row_id(value)


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


# -- answers to the ritual commands (ephemeral text) -------------------------------------------------


def paused_by_reason(user_id: str) -> str:
    """The pause reason recorded when a person pauses a ritual (shown by `/tandem list`, mrkdwn)."""
    return f"paused by <@{escape(user_id)}>"


def warning_text(problem: str) -> str:
    """A problem the domain explained in words of its own (db.rituals.RitualError)."""
    return f":warning: {problem}"


def paused_text(name: str, *, already: bool) -> str:
    if already:
        return f"“{escape(name)}” is already paused."
    return f":double_vertical_bar: “{escape(name)}” is paused. Resume it with `{ids.COMMAND} resume {escape(name)}`."


def resumed_text(name: str, next_local: dt.datetime | None, *, already: bool) -> str:
    if already:
        return f"“{escape(name)}” is not paused."
    when = plain_time(next_local) if next_local else "not scheduled"
    return f":arrow_forward: “{escape(name)}” is back on. Next check-in: {when}."


def skipped_text(name: str, skipped_local: dt.datetime, next_local: dt.datetime | None) -> str:
    after = f" The next one is {plain_time(next_local)}." if next_local else ""
    return f":fast_forward: Skipping “{escape(name)}” on {plain_date(skipped_local)}.{after}"


def now_text(name: str, status: str) -> str:
    """`/tandem now`: "posting", or why not ("paused"; "busy": one was claimed this very second)."""
    if status == "paused":
        return f"“{escape(name)}” is paused. Resume it first."
    if status == "busy":
        return ":warning: A check-in was just posted for this ritual; try again in a second."
    return f":rocket: Posting “{escape(name)}” now."


# What the Delete button tells someone who may not delete the ritual (`refusal` of `refusal_text`).
DELETE_REFUSAL = "Only its creator, members or an admin can delete it."


def deleted_text(name: str) -> str:
    return f":wastebasket: “{escape(name)}” is deleted. Its past check-ins are kept for reports."


def not_opened_text(name: str) -> str:
    """The edit form could not be opened (Slack refused, or did not answer before the trigger expired)."""
    return (
        f":warning: Slack did not open the form of “{escape(name)}” in time. Try `{ids.COMMAND} edit` again."
    )


# -- `/tandem skip [ritual] [YYYY-MM-DD]` --------------------------------------------------------------

SKIP_EXAMPLE = "skip Weekly sync 2026-12-24"
# A skip date this far ahead names no check-in anyone plans (and 9999-12-31 is garbage, not a date).
MAX_SKIP_AHEAD = dt.timedelta(days=5 * 365 + 1)
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_DATE_START = re.compile(r"^\d{4}-")
# Dates written some other way: 24.12.2026, 24/12/2026, 12/24/26, 2026/12/24, 24-12-2026.
_OTHER_DATE = re.compile(r"^(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./]\d{1,2}[./]\d{1,2})$")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec")


@dataclass(frozen=True)
class SkipArgs:
    """What `/tandem skip` was given: a ritual name (empty: the channel's only one) and a date, or why not."""

    name: str
    on: dt.date | None = None  # None: the next check-in
    # The text ends with a date written another way: refuse it, unless a ritual has exactly that name.
    other_date: str | None = None
    problem: str | None = None  # the arguments cannot be read: say this, with SKIP_EXAMPLE


def parse_skip_args(args: str, *, today: dt.date) -> SkipArgs:
    """Split `skip` arguments into a name and an optional YYYY-MM-DD at the end, within five years."""
    head, _, last = args.rpartition(" ")
    candidate = last if last else args
    if _DATE.match(candidate) or _DATE_START.match(candidate):
        try:
            on = dt.date.fromisoformat("-".join(p.zfill(2) for p in candidate.split("-")))
        except ValueError:
            return SkipArgs(args, problem=f"“{candidate}” is not a date. Write it as YYYY-MM-DD.")
        # A past date is the database's to explain ("is in the past"); a far one is refused here.
        if on > today + MAX_SKIP_AHEAD:
            return SkipArgs(
                args,
                problem=f"“{candidate}” is more than five years ahead. Give a date within the next five years.",
            )
        return SkipArgs(head.strip(), on)
    return SkipArgs(args, other_date=_looks_like_other_date(args))


def looks_like_date_problem(other_date: str) -> str:
    return f"“{other_date}” looks like a date: write dates as YYYY-MM-DD (24 December 2026 is 2026-12-24)."


def _month(word: str) -> bool:
    word = word.lower().rstrip(".,")
    return word[:4] in _MONTHS or word[:3] in _MONTHS


def _day(word: str) -> bool:
    return word.rstrip(".,").removesuffix("th").removesuffix("st").removesuffix("nd").isdigit()


def _looks_like_other_date(text: str) -> str | None:
    """The end of `text` if it is a date written other than YYYY-MM-DD (24.12.2026, 24 Dec, Dec 24)."""
    words = text.split()
    if words and _OTHER_DATE.match(words[-1]):
        return words[-1]
    for size in (3, 2):  # "24 December 2026", "December 24, 2026", "24 Dec", "Dec 24"
        tail = words[-size:]
        if len(words) < size:
            continue
        if size == 3 and not tail[2].isdigit():
            continue
        first, second = tail[:2]
        if (_month(first) and _day(second)) or (_day(first) and _month(second)):
            return " ".join(tail)
    return None
