"""Shared wins: something marketing and IT achieved together, credited to people on both sides.

The celebrate / edit modal and the parsing of what Slack sends back from it, the celebration posted
in a channel (and the parser of its Edit / Withdraw buttons), the monthly digest (also the
`/tandem wins` reply, with the parser of its arguments) and the check-in agenda lines.
Everything here is pure: plain values in, views or `(text, blocks)` out.

A win always credits at least one person from each side: that is what makes it shared, and what
the parser enforces.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
    UrlInputElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot import ids
from bot.blocks.commitments import escape_within, is_user_id, metadata_tampered
from bot.blocks.rituals import mentions
from bot.blocks.text import escape, plain_date, truncate

__all__ = [
    "MAX_LINK_CHARS",
    "MAX_OUTCOME_CHARS",
    "MAX_WIN_CHARS",
    "CelebratedMessage",
    "WinForm",
    "WinView",
    "WinsArgs",
    "build_celebration",
    "build_moved_win",
    "build_win_modal",
    "build_wins_digest",
    "build_withdrawn_win",
    "celebration_channel",
    "parse_celebrated_message",
    "parse_period",
    "parse_win_state",
    "period_label",
    "period_problem",
    "split_wins_args",
    "win_agenda_lines",
    "win_button_id",
    "win_modal_error",
    "win_modal_id",
    "win_modal_tampered",
    "win_refusal_text",
    "withdrawn_but_shown_text",
]

#: What we accept. The input itself allows Slack's 3,000 so that a longer paste (say from the message
#: shortcut) gets a friendly error with the count instead of being silently cut by Slack.
MAX_WIN_CHARS: Final = 2500
_SLACK_INPUT_MAX = 3000
MAX_OUTCOME_CHARS: Final = 200  # db.models.Win.outcome
MAX_LINK_CHARS: Final = 500  # db.models.Win.link

_PEOPLE_SHOWN = 20  # per side in a celebration
_DIGEST_WINS_SHOWN = 15
_DIGEST_OUTCOMES_SHOWN = 10
_DIGEST_PEOPLE_SHOWN = 15  # per side
_DIGEST_LINES_PER_SECTION = 8  # 8 lines of at most ~330 characters stay well below 3,000
_AGENDA_SHOWN = 7  # the check-in shows 8 lines a section; the 8th says how many more
_HEADER_MAX = 150
_TIMES = "\N{MULTIPLICATION SIGN}"  # credit counts read "<@U1>", the sign, "3"


@dataclass(frozen=True)
class WinForm:
    """What the win modal asks for, as plain values (what it shows, and what it returns)."""

    what: str = ""
    marketing: tuple[str, ...] = ()  # Slack user ids
    it: tuple[str, ...] = ()
    outcome: str = ""
    link: str = ""
    channel_id: str | None = None


# --------------------------------------------------------------------------- the modal


def build_win_modal(form: WinForm, *, win_id: int | None) -> View:
    """The "Celebrate a win" modal (`win_id` None) or the edit modal, showing `form`'s values.

    A new win starts in the conversation the modal was opened from, when Slack knows it and the form
    names no channel. `win_id` travels in `private_metadata` (read it with :func:`win_modal_id`).
    """
    new = win_id is None
    channel = ConversationSelectElement(
        action_id=ids.ACTION_WIN_CHANNEL,
        placeholder="Pick a channel",
        initial_conversation=form.channel_id or None,
        default_to_current_conversation=True if new and not form.channel_id else None,
        filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
    )
    blocks: list[Block] = []
    if len(form.what) > MAX_WIN_CHARS:
        # A long message celebrated with the shortcut: say so up front rather than at submit time.
        cut = (
            f" Only the first {_SLACK_INPUT_MAX:,} fit in the box below, so the rest was left out."
            if len(form.what) > _SLACK_INPUT_MAX
            else ""
        )
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f":warning: This text has {len(form.what):,} characters and a win can have "
                        f"up to {MAX_WIN_CHARS:,}.{cut} Shorten it before you celebrate."
                    )
                ]
            )
        )
    blocks += [
        InputBlock(
            block_id=ids.BLOCK_WIN_WHAT,
            label="What did you achieve together?",
            element=PlainTextInputElement(
                action_id=ids.ACTION_WIN_WHAT,
                placeholder="Launched the new pricing page two weeks early, tracking included",
                # Slack refuses a view whose initial value is longer than max_length.
                initial_value=form.what[:_SLACK_INPUT_MAX] or None,
                max_length=_SLACK_INPUT_MAX,
                multiline=True,
            ),
        ),
        InputBlock(
            block_id=ids.BLOCK_WIN_MARKETING,
            label="Marketing contributors",
            element=UserMultiSelectElement(
                action_id=ids.ACTION_WIN_MARKETING,
                placeholder="Pick people from marketing",
                initial_users=list(form.marketing) or None,
            ),
            hint="A shared win credits at least one person from each side.",
        ),
        InputBlock(
            block_id=ids.BLOCK_WIN_IT,
            label="IT contributors",
            element=UserMultiSelectElement(
                action_id=ids.ACTION_WIN_IT,
                placeholder="Pick people from IT",
                initial_users=list(form.it) or None,
            ),
            hint="A shared win credits at least one person from each side.",
        ),
        InputBlock(
            block_id=ids.BLOCK_WIN_OUTCOME,
            label="What did it move?",
            element=PlainTextInputElement(
                action_id=ids.ACTION_WIN_OUTCOME,
                placeholder="Sign-ups +18% in the first week",
                initial_value=form.outcome[:MAX_OUTCOME_CHARS] or None,
                max_length=MAX_OUTCOME_CHARS,
            ),
            optional=True,
            hint="A number or a KPI if you have one. The monthly digest lists them.",
        ),
        InputBlock(
            block_id=ids.BLOCK_WIN_LINK,
            label="Link",
            element=UrlInputElement(
                action_id=ids.ACTION_WIN_LINK,
                placeholder="https://…",
                initial_value=form.link or None,
            ),
            optional=True,
            hint="A dashboard, a launch post, a ticket: anything that shows the win.",
        ),
        InputBlock(
            block_id=ids.BLOCK_WIN_CHANNEL,
            label="Celebrate in",
            element=channel,
            hint="Tandem posts the celebration here. If it isn't in the channel, invite it with /invite @Tandem.",
        ),
    ]
    return View(
        type="modal",
        callback_id=ids.VIEW_WIN,
        title="Celebrate a win" if new else "Edit win",
        submit="Celebrate" if new else "Save",
        close="Cancel",
        private_metadata=json.dumps({"win_id": win_id}),
        blocks=blocks,
    )


def win_modal_id(private_metadata: str | None) -> int | None:
    """The win id in the modal's `private_metadata`: None for a new win (check
    :func:`win_modal_tampered` first: garbled metadata reads as None too)."""
    return ids.parse_row_id(ids.parse_metadata(private_metadata).get("win_id"))


def win_modal_tampered(private_metadata: object) -> bool:
    """Whether the modal's `private_metadata` is other than :func:`build_win_modal` wrote it."""
    return metadata_tampered(private_metadata, "win_id")


# Conversation ids as Slack writes them: C… public, G… private (or group DM), D… a DM.
_CONVERSATION_ID_RE: Final = re.compile(r"[CGD][A-Z0-9_]{1,30}", re.ASCII)
_CHANNEL_ID_RE: Final = re.compile(r"[CG][A-Z0-9_]{1,30}", re.ASCII)


@dataclass(frozen=True)
class CelebratedMessage:
    """The message a "Celebrate a shared win" shortcut was used on, as plain values."""

    channel_id: str | None  # the conversation it is in (a channel or a DM), if the payload says
    ts: str | None
    text: str


def parse_celebrated_message(shortcut: object) -> CelebratedMessage:
    """What the message shortcut's payload says about its message; wrongly typed parts read as absent."""
    payload = shortcut if isinstance(shortcut, Mapping) else {}
    message = payload.get("message")
    message = message if isinstance(message, Mapping) else {}
    channel = payload.get("channel")
    channel_id = channel.get("id") if isinstance(channel, Mapping) else None
    ts, text = message.get("ts"), message.get("text")
    conversation = isinstance(channel_id, str) and _CONVERSATION_ID_RE.fullmatch(channel_id) is not None
    return CelebratedMessage(
        channel_id=channel_id if conversation else None,
        ts=ts if isinstance(ts, str) and ts else None,
        text=text if isinstance(text, str) else "",
    )


def celebration_channel(channel_id: object) -> str | None:
    """`channel_id` if it names a channel a win can be celebrated in (public or private), else None
    (a DM, an App Home, or anything that is no channel id)."""
    return channel_id if isinstance(channel_id, str) and _CHANNEL_ID_RE.fullmatch(channel_id) else None


# --------------------------------------------------------------------------- parsing the state


def _field(state: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = state.get(block_id)
    value = block.get(action_id) if isinstance(block, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _str(state: Mapping[str, Any], block_id: str, action_id: str, key: str) -> str:
    value = _field(state, block_id, action_id).get(key)
    return value if isinstance(value, str) else ""


def _users(state: Mapping[str, Any], block_id: str, action_id: str) -> tuple[tuple[str, ...], bool]:
    """The people picked, in the order they were picked, once each; and whether every value was a user id."""
    users = _field(state, block_id, action_id).get("selected_users") or []
    if not isinstance(users, list):
        return (), False
    return tuple(dict.fromkeys(u for u in users if is_user_id(u))), all(is_user_id(u) for u in users)


def _is_web_link(link: str) -> bool:
    if any(c.isspace() for c in link) or any(c in link for c in "<>|"):
        return False  # these would break out of Slack's <url|label> link syntax
    try:
        parts = urlsplit(link)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def parse_win_state(state_values: Mapping[str, Any]) -> tuple[WinForm, dict[str, str]]:
    """Read the win modal's `view.state.values` into a form, with errors by block id.

    The errors are plain text (Slack shows modal errors without mrkdwn, so no mentions) and ready
    for `ack(response_action="errors", errors=...)`; empty when the form is valid. A value of the wrong
    type or shape (a tampered submission) is an error on its block, never a crash.
    """
    s = state_values if isinstance(state_values, Mapping) else {}
    errors: dict[str, str] = {}

    what = _str(s, ids.BLOCK_WIN_WHAT, ids.ACTION_WIN_WHAT, "value").strip()
    if not what:
        errors[ids.BLOCK_WIN_WHAT] = "Say what the win was, for example “Launched the pricing page early”."
    elif len(what) > MAX_WIN_CHARS:
        errors[ids.BLOCK_WIN_WHAT] = (
            f"That's {len(what):,} characters; keep the win to {MAX_WIN_CHARS:,} so it fits in one celebration."
        )

    marketing, marketing_ok = _users(s, ids.BLOCK_WIN_MARKETING, ids.ACTION_WIN_MARKETING)
    it, it_ok = _users(s, ids.BLOCK_WIN_IT, ids.ACTION_WIN_IT)
    if not marketing_ok:
        errors[ids.BLOCK_WIN_MARKETING] = "Pick people from the list."
    elif not marketing:
        errors[ids.BLOCK_WIN_MARKETING] = "A shared win needs at least one person from marketing."
    if not it_ok:
        errors[ids.BLOCK_WIN_IT] = "Pick people from the list."
    elif not it:
        errors[ids.BLOCK_WIN_IT] = "A shared win needs at least one person from IT."
    elif both := [u for u in it if u in marketing]:
        who = "Someone is" if len(both) == 1 else f"{len(both)} people are"
        errors[ids.BLOCK_WIN_IT] = f"{who} credited on both sides. Credit each person on one side only."

    outcome = " ".join(_str(s, ids.BLOCK_WIN_OUTCOME, ids.ACTION_WIN_OUTCOME, "value").split())
    if len(outcome) > MAX_OUTCOME_CHARS:
        errors[ids.BLOCK_WIN_OUTCOME] = (
            f"Keep what it moved to {MAX_OUTCOME_CHARS} characters or fewer (it's {len(outcome):,})."
        )

    link = _str(s, ids.BLOCK_WIN_LINK, ids.ACTION_WIN_LINK, "value").strip()
    if link and len(link) > MAX_LINK_CHARS:
        errors[ids.BLOCK_WIN_LINK] = (
            f"That link is too long; keep it to {MAX_LINK_CHARS} characters or fewer."
        )
    elif link and not _is_web_link(link):
        errors[ids.BLOCK_WIN_LINK] = "That isn't a web link. Paste one that starts with https:// or http://."

    channel_id = celebration_channel(
        _str(s, ids.BLOCK_WIN_CHANNEL, ids.ACTION_WIN_CHANNEL, "selected_conversation")
    )
    if channel_id is None:
        errors[ids.BLOCK_WIN_CHANNEL] = "Pick the channel to celebrate in."

    form = WinForm(what=what, marketing=marketing, it=it, outcome=outcome, link=link, channel_id=channel_id)
    return form, errors


# --------------------------------------------------------------------------- the celebration


@dataclass(frozen=True)
class WinView:
    """What the messages show about one win, as plain values."""

    id: int
    what: str
    marketing: tuple[str, ...]  # Slack user ids
    it: tuple[str, ...]
    outcome: str | None
    link: str | None
    created_by: str
    channel_id: str
    created_local: dt.datetime  # aware, in the timezone the reader's dates are in
    withdrawn: bool = False
    edited: bool = False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _link(url: str) -> str:
    """`<url|host>`: the host tells people where the link goes before they click."""
    host = urlsplit(url).hostname or "link"
    host = host.removeprefix("www.")
    return f"<{escape(url)}|{escape(host)}>"


def _credit(w: WinView, limit: int) -> str:
    return f"Marketing: {mentions(w.marketing, limit=limit)} · IT: {mentions(w.it, limit=limit)}"


def build_celebration(w: WinView) -> tuple[str, list[Block]]:
    """The celebration in the channel: the win, who gets the credit on each side, what it moved, and
    Edit / Withdraw buttons (value = win id; the listener lets only the creator use them)."""
    body = escape_within(w.what.strip(), 2900) or "…"
    lines = [f":raised_hands: *Credit where it's due*\n{_credit(w, _PEOPLE_SHOWN)}"]
    if w.outcome and w.outcome.strip():
        lines.append(f":chart_with_upwards_trend: Moved: *{escape_within(_one_line(w.outcome), 300)}*")
    if w.link and _is_web_link(w.link):
        lines.append(f":link: {_link(w.link)}")
    note = f"Celebrated by <@{escape(w.created_by)}> · react to cheer them on :clap:"
    if w.edited:
        note += " · edited"
    value = str(w.id)
    blocks: list[Block] = [
        HeaderBlock(text=":tada: Shared win!"),
        SectionBlock(text=MarkdownTextObject(text=body)),
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
        ContextBlock(elements=[MarkdownTextObject(text=note)]),
        ActionsBlock(
            elements=[
                ButtonElement(text="Edit", action_id=ids.ACTION_WIN_EDIT, value=value),
                ButtonElement(
                    text="Withdraw",
                    action_id=ids.ACTION_WIN_WITHDRAW,
                    value=value,
                    confirm=ConfirmObject(
                        title="Withdraw this win?",
                        text="The celebration is replaced by a short note, and the win leaves the digest.",
                        confirm="Withdraw",
                        deny="Keep it",
                        style="danger",
                    ),
                ),
            ]
        ),
    ]
    text = (
        f":tada: Shared win: {escape_within(_one_line(w.what), 300)} "
        f"— marketing: {mentions(w.marketing, limit=5)}; IT: {mentions(w.it, limit=5)}"
    )
    return text, blocks


def win_button_id(value: object) -> int | None:
    """The win id of a celebration's Edit or Withdraw button (its value); None for anything else."""
    return ids.parse_row_id(value)


def build_moved_win(w: WinView) -> tuple[str, list[Block]]:
    """What replaces a celebration whose win was moved to another channel (`w.channel_id`)."""
    text = f"This win is now celebrated in <#{escape(w.channel_id)}>."
    return text, [ContextBlock(elements=[MarkdownTextObject(text=f":arrow_right: {text}")])]


def build_withdrawn_win(w: WinView) -> tuple[str, list[Block]]:
    """What replaces a withdrawn celebration: one line, no buttons."""
    text = f"This win was withdrawn by <@{escape(w.created_by)}>."
    return text, [ContextBlock(elements=[MarkdownTextObject(text=f":leftwards_arrow_with_hook: {text}")])]


# --------------------------------------------------------------------------- the digest


def _short_day(when: dt.datetime) -> str:
    return plain_date(when)


def _ranked(people: Sequence[str]) -> str:
    """Each person with their count (after a multiplication sign), most credited first, then in order
    of first credit; "and N more" past the cap."""
    counts = Counter(people)
    order = {u: i for i, u in reversed(list(enumerate(people)))}
    ranked = sorted(counts, key=lambda u: (-counts[u], order[u]))
    shown = ", ".join(f"<@{escape(u)}> {_TIMES}{counts[u]}" for u in ranked[:_DIGEST_PEOPLE_SHOWN])
    if len(ranked) > _DIGEST_PEOPLE_SHOWN:
        shown += f" and {len(ranked) - _DIGEST_PEOPLE_SHOWN} more"
    return shown or "nobody"


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _bullets(title: str, lines: Sequence[str], more: int, noun: str) -> list[Block]:
    """`title` and the lines in sections of at most `_DIGEST_LINES_PER_SECTION`, then "…and N more <noun>"."""
    blocks: list[Block] = []
    for start in range(0, len(lines), _DIGEST_LINES_PER_SECTION):
        chunk = "\n".join(lines[start : start + _DIGEST_LINES_PER_SECTION])
        blocks.append(_section(f"{title}\n{chunk}" if start == 0 else chunk))
    if more > 0:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {more} more {noun}.")]))
    return blocks


def build_wins_digest(
    period_label: str, wins: Sequence[WinView], *, ritual_name: str | None
) -> tuple[str, list[Block]]:
    """The monthly ledger of shared wins (also the `/tandem wins` reply).

    How many wins, what they moved, who was credited on each side (with counts) and the wins
    themselves, most recent first; long lists end with "…and N more". Withdrawn wins are left out.
    `period_label` is e.g. "November 2026"; `ritual_name` narrows the wording to one check-in.
    """
    period = escape(truncate(_one_line(period_label), 60))
    name = escape(truncate(_one_line(ritual_name), 100)) if ritual_name and ritual_name.strip() else None
    for_ritual = f" for {name}" if name else ""
    live = sorted((w for w in wins if not w.withdrawn), key=lambda w: (w.created_local, w.id), reverse=True)
    header = truncate(f":trophy: Shared wins · {_one_line(period_label)}", _HEADER_MAX)

    if not live:
        sentence = f"No shared wins recorded{for_ritual} in {period} — the next check-in is a good moment to name one."
        blocks: list[Block] = [
            HeaderBlock(text=header),
            _section(sentence),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="Celebrate a win from Tandem's Home tab, or from the ⋮ menu of any message."
                    )
                ]
            ),
        ]
        return sentence, blocks

    n = len(live)
    count = "1 shared win" if n == 1 else f"{n} shared wins"
    blocks = [HeaderBlock(text=header), _section(f":tada: *{count}*{for_ritual} in {period}.")]

    outcomes = [w for w in live if w.outcome and w.outcome.strip()]
    if outcomes:
        lines = [
            f"• {escape_within(_one_line(w.outcome or ''), 200)}" for w in outcomes[:_DIGEST_OUTCOMES_SHOWN]
        ]
        blocks.append(_section(":chart_with_upwards_trend: *What they moved*\n" + "\n".join(lines)))
        if len(outcomes) > _DIGEST_OUTCOMES_SHOWN:
            more = len(outcomes) - _DIGEST_OUTCOMES_SHOWN
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {more} more.")]))

    marketing = [u for w in live for u in dict.fromkeys(w.marketing)]
    it = [u for w in live for u in dict.fromkeys(w.it)]
    blocks.append(
        _section(
            f":raised_hands: *Credit where it's due*\nMarketing: {_ranked(marketing)}\nIT: {_ranked(it)}"
        )
    )

    lines = [
        f"• {_short_day(w.created_local)}: {escape_within(_one_line(w.what), 200)} (<#{escape(w.channel_id)}>)"
        for w in live[:_DIGEST_WINS_SHOWN]
    ]
    blocks += _bullets("*The wins*", lines, n - len(lines), "wins" if n - len(lines) > 1 else "win")

    text = f"{count}{for_ritual} in {period}: " + "; ".join(
        escape_within(_one_line(w.what), 80) for w in live[:5]
    )
    if n > 5:
        text += f" and {n - 5} more"
    return text, blocks


# --------------------------------------------------------------------------- `/tandem wins [ritual] [period]`

_MONTHS: Final[Sequence[str]] = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Months outside these years are typos, and would overflow date arithmetic near year 1 or 9999.
_FIRST_YEAR, _LAST_YEAR = 1970, 9998


def _number(word: str) -> int | None:
    # isdigit() alone accepts "²" and other Unicode digits that int() refuses.
    return int(word) if 0 < len(word) <= 4 and word.isascii() and word.isdigit() else None


def _month(year: int | None, month: int | None) -> tuple[int, int] | None:
    if year is None or month is None or not (_FIRST_YEAR <= year <= _LAST_YEAR and 1 <= month <= 12):
        return None
    return year, month


def parse_period(text: str, *, today: dt.date) -> tuple[int, int] | None:
    """`(year, month)` from `2026-11`, `november` (the latest November not in the future), `nov 2026`,
    `this-month` or `last-month` (empty: this month), relative to `today`; None when `text` is not a month (:func:`period_problem` says so)."""
    cleaned = text.strip().lower()
    if cleaned in ("", "this-month", "this month"):
        return today.year, today.month
    if cleaned in ("last-month", "last month"):
        first = today.replace(day=1) - dt.timedelta(days=1)
        return first.year, first.month
    parts = cleaned.replace("/", "-").split("-")
    if len(parts) == 2 and len(parts[0]) == 4:
        return _month(_number(parts[0]), _number(parts[1]))
    words = cleaned.split()
    for index, name in enumerate(_MONTHS):
        if words and (words[0] == name or words[0] == name[:3]):
            if len(words) > 1:
                return _month(_number(words[1]), index + 1)
            # A bare month name is the most recent such month not in the future: "november" typed
            # in January is the November just gone, not the one coming.
            month = index + 1
            return _month(today.year if month <= today.month else today.year - 1, month)
    return None


def period_problem(text: str) -> str:
    """What is wrong with a month that :func:`parse_period` could not read."""
    return f"“{text.strip()}” is not a month. Try 2026-11, november, or last-month."


def period_label(year: int, month: int) -> str:
    """E.g. "November 2026"."""
    return dt.date(year, month, 1).strftime("%B %Y")


@dataclass(frozen=True)
class WinsArgs:
    """The arguments of `/tandem wins`: a ritual's name, then a month, both optional."""

    name: str  # as typed; "" names the channel's only check-in (or none)
    period: str  # as typed; "" is this month
    # When no month was found but the last word looks like one typed wrong ("2026-13", "last-moth"):
    # that word, and the name without it. The use case reports the word when the rest names a ritual.
    mistyped_period: tuple[str, str] | None = None


def split_wins_args(text: str, *, today: dt.date) -> WinsArgs:
    """Split `/tandem wins` arguments: the month comes last (one or two words), the rest names the ritual."""
    words = text.split()
    for take in (2, 1):
        if len(words) >= take and parse_period(" ".join(words[-take:]), today=today) is not None:
            return WinsArgs(" ".join(words[:-take]), " ".join(words[-take:]))
    last = words[-1] if words else ""
    # A word meant as a month rather than as part of a ritual's name has a digit or a dash in it.
    if any(c.isdigit() for c in last) or "-" in last:
        return WinsArgs(" ".join(words), "", (last, " ".join(words[:-1])))
    return WinsArgs(" ".join(words), "")


# --------------------------------------------------------------------------- refusals

# Why a request about a win may not go on (bot.usecases.wins.WinRefusal values).
_NOT_FOUND = "not_found"  # unknown, of another workspace, or a garbled id: all look the same
_WITHDRAWN = "withdrawn"
_NOT_CREATOR = "not_creator"
_TAMPERED = "tampered"  # the modal's private_metadata is not what Tandem wrote


def win_refusal_text(kind: str, *, creator: str = "") -> str:
    """The ephemeral answer when an Edit or Withdraw click may not go on."""
    if kind == _WITHDRAWN:
        return "This win was withdrawn."
    if kind == _NOT_CREATOR:
        return f":no_entry: Only <@{escape(creator)}>, who celebrated this win, can change it."
    return ":warning: This win no longer exists, or is not one of this workspace's."


def win_modal_error(kind: str) -> str:
    """The inline error (plain text) when a win modal's submission may not be saved."""
    if kind == _WITHDRAWN:
        return "This win was withdrawn, so it can't be edited."
    if kind == _NOT_CREATOR:
        return "Only the person who celebrated this win can edit it."
    if kind == _TAMPERED:
        return "This form is out of date. Close it and start again."
    return "This win no longer exists, so it can't be edited."


def withdrawn_but_shown_text(code: str) -> str:
    """The ephemeral answer when a win was withdrawn but Slack would not replace its celebration."""
    return (
        ":leftwards_arrow_with_hook: Your win is withdrawn: it has left the digest and Home tabs. "
        f"Slack would not replace the celebration message ({code}), "
        "so delete that message yourself if you want it gone."
    )


def win_agenda_lines(wins: Sequence[WinView]) -> tuple[str, ...]:
    """mrkdwn lines (escaped, with mentions) for the check-in's "Wins since the last check-in".

    Most recent first; at most 8 lines, the last one saying how many more, because the check-in shows
    8 lines a section. Withdrawn wins are left out.
    """
    live = sorted((w for w in wins if not w.withdrawn), key=lambda w: (w.created_local, w.id), reverse=True)
    limit = len(live) if len(live) <= _AGENDA_SHOWN + 1 else _AGENDA_SHOWN
    lines = [
        f"{escape_within(_one_line(w.what), 150)} — marketing: {mentions(w.marketing, limit=3)} · "
        f"IT: {mentions(w.it, limit=3)}"
        for w in live[:limit]
    ]
    if len(live) > limit:
        lines.append(f"…and {len(live) - limit} more wins")
    return tuple(lines)
