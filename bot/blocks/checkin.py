"""The check-in message a ritual posts in its channel.

Whatever it is fed, the message stays inside Slack's limits: at most 50 blocks, 150 characters of
header, 3,000 per section, and a total far below the ~13k characters at which Slack answers
`msg_blocks_too_long`. Long inputs are cut (with "…" or "…and N more"), never rejected, because a
check-in that fails to post is worse than one that is shortened.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import ids
from bot.blocks.commitments import CommitmentView, commitment_blocks
from bot.blocks.rituals import mentions
from bot.blocks.text import escape, plain_date, truncate

__all__ = [
    "MISSED_REASON",
    "AgendaSection",
    "CheckinContent",
    "MissedCheckin",
    "PulseFocus",
    "build_checkin",
    "focus_lines",
    "last_pulse_section",
    "not_prepared_reason",
    "stopped_reason",
    "unexpected_failure_reason",
    "wins_section",
]

# Why a check-in was not posted, as recorded on its occurrence. A failed one's reason is shown in the
# next check-in ("could not be posted: …"); a missed one is shown as "not posted while Tandem was offline".
MISSED_REASON = "Tandem was not running at the time"
# A gap this wide (in points on the 1–5 scale) leads the focus instead of the lowest score.
WIDE_GAP = 1.0

_HEADER_MAX = 150
_PROMPT_MAX = 2000
_WHY_MAX = 500
_LINE_MAX = 300
_SECTION_LINES_MAX = 8
_AGENDA_SECTIONS_MAX = 8
# All agenda sections together; with the rest of the message this stays under ~10k characters of JSON.
_AGENDA_CHARS_MAX = 5000
_MISSED_SHOWN = 5
_MISSED_GROUPS_SHOWN = 3  # ways check-ins were lost (offline, or each failure reason)
_REASON_MAX = 200
_PEOPLE_SHOWN = 20  # per side
_FALLBACK_MAX = 1000
_MAX_BLOCKS = 50
_COMMITMENTS_SHOWN = 10
# The whole message as JSON; Slack answers `msg_blocks_too_long` at ~13k, so stay clear of it.
_JSON_CHARS_MAX = 11_500


@dataclass(frozen=True)
class AgendaSection:
    """One agenda heading and its lines, e.g. "Open actions". Sections without lines are not shown.

    `title` is plain text. `lines` are plain text and escaped by the builder, unless `mrkdwn` is set:
    then they are Slack mrkdwn (mentions, links) that the caller has already escaped.
    """

    title: str
    lines: tuple[str, ...]
    mrkdwn: bool = False


@dataclass(frozen=True)
class MissedCheckin:
    """A check-in that was not posted: missed while Tandem was offline, or `failed` (with the reason)."""

    day: dt.date  # in the ritual's timezone
    failed: bool = False
    reason: str | None = None  # plain text, e.g. "Slack refused the message (internal_error)"


@dataclass(frozen=True)
class CheckinContent:
    """Everything one check-in message shows, as plain values."""

    ritual_name: str
    local_date: dt.date  # the occurrence's date in the ritual's timezone
    timezone: str  # the ritual's IANA zone, which `local_date` and `missed` are in
    prompt_text: str
    prompt_theme_label: str
    prompt_why: str
    # Occurrences that were not posted since the last check-in; a bare date was missed while offline.
    missed: tuple[dt.date | MissedCheckin, ...]
    marketing: tuple[str, ...]  # Slack user ids
    it: tuple[str, ...]
    agenda_items: tuple[AgendaSection, ...] = ()
    commitments: tuple[CommitmentView, ...] = ()  # open ones are shown, each with its menu
    ritual_id: int | None = None  # set: an "Add a commitment" button (value = ritual id) ends the message
    # Opens the message above the prompt: the weakest item of the last pulse, commitments due (plain text).
    focus: tuple[str, ...] = ()
    # Why the prompt's theme was picked from the pulse data, e.g. "chosen because IT rated … 2.4".
    chosen_because: str | None = None
    # False: only the two leads (the first named on each side) are @-mentioned, so a weekly check-in
    # pings two people, not the whole team; the others are counted without a mention.
    notify_members: bool = True


@dataclass(frozen=True)
class PulseFocus:
    """The last pulse's averages on the 1–5 scale (None where it is withheld or nobody answered)."""

    marketing_view: float | None  # marketing's view of IT
    it_view: float | None  # IT's view of marketing
    level: float | None  # collaboration at the right level, everyone
    gap: float | None  # marketing's view minus IT's view


def not_prepared_reason(error_name: str) -> str:
    """A check-in that Tandem failed to prepare (a bug): recorded as failed, mentioned next time."""
    return f"Tandem could not prepare it (an internal error: {error_name})"


def unexpected_failure_reason(error_name: str) -> str:
    return f"unexpected error: {error_name}"


def stopped_reason(status: str) -> str:
    """A claimed check-in whose ritual was paused or deleted before its turn to post came."""
    return f"its ritual was {status} before it could be posted"


def focus_lines(
    pulse: PulseFocus | None, commitments: Sequence[CommitmentView], day: dt.date
) -> tuple[str, ...]:
    """The opening of a check-in (`CheckinContent.focus`): the weakest item of the last pulse, or its
    widest gap, and the open commitments due by `day` (the check-in's local date)."""
    lines: list[str] = []
    if pulse is not None:
        shown = [
            (score, label)
            for score, label in (
                (pulse.marketing_view, "marketing's view of IT"),
                (pulse.it_view, "IT's view of marketing"),
                (pulse.level, "collaboration at the right level"),
            )
            if score is not None
        ]
        if (
            pulse.gap is not None
            and abs(pulse.gap) >= WIDE_GAP
            and pulse.marketing_view is not None
            and pulse.it_view is not None
        ):
            lines.append(
                f"Widest gap in the last pulse: {abs(pulse.gap):.1f} points between marketing's view of IT "
                f"({pulse.marketing_view:.1f}) and IT's view of marketing ({pulse.it_view:.1f})."
            )
        elif shown:
            score, label = min(shown)
            lines.append(f"Lowest in the last pulse: {label}, {score:.1f}/5.")
    due = [c for c in commitments if c.status == "open" and c.due <= day]
    for c in due[:3]:
        # Overdue from the day after its due date: due Mon 7 Dec is "overdue since Tue 8 Dec".
        if c.due < day:
            said = f"overdue since {plain_date(c.due + dt.timedelta(days=1))}"
        else:
            said = f"due {plain_date(c.due)}"
        lines.append(f"Commitment {said}: {c.what}")
    if len(due) > 3:
        lines.append(f"…and {len(due) - 3} more commitments due")
    return tuple(lines)


def last_pulse_section(lines: tuple[str, ...]) -> AgendaSection | None:
    """The agenda's "Last pulse" (plain lines, bot.blocks.pulse.pulse_agenda_lines); None without lines."""
    return AgendaSection("Last pulse", lines) if lines else None


def wins_section(lines: tuple[str, ...]) -> AgendaSection | None:
    """The agenda's wins since the last check-in (mrkdwn lines, bot.blocks.wins.win_agenda_lines)."""
    return AgendaSection("Wins since the last check-in", lines, mrkdwn=True) if lines else None


def _cut(markup: str, limit: int) -> str:
    """Cut already-escaped mrkdwn to `limit` characters without leaving half an `&amp;` or `<@U…>`."""
    if len(markup) <= limit:
        return markup
    cut = markup[: limit - 1]
    amp, lt = cut.rfind("&"), cut.rfind("<")
    if amp > cut.rfind(";"):
        cut = cut[:amp]
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    return cut + "…"


def _plain(text: str, limit: int) -> str:
    """User text escaped for mrkdwn, at most `limit` characters after escaping."""
    return _cut(escape(" ".join(text.split())), limit)


def _long_date(day: dt.date) -> str:
    return plain_date(day)


def _short_date(day: dt.date, *, year: bool) -> str:
    # One date format everywhere (bot.blocks.text.plain_date), with its year whoever asks.
    return plain_date(day)


def _dates_text(days: list[dt.date], show_year: bool) -> tuple[str, bool]:
    """ "Tue 3 Nov, Tue 10 Nov and 2 more", and whether that is more than one check-in."""
    shown = [_short_date(d, year=show_year) for d in days[:_MISSED_SHOWN]]
    rest = len(days) - len(shown)
    if len(days) == 1:
        return shown[0], False
    last = f"{rest} more" if rest else shown.pop()
    return f"{', '.join(shown)} and {last}", True


def _missed_text(missed: tuple[dt.date | MissedCheckin, ...], today: dt.date) -> str:
    """One sentence per way check-ins were lost: missed while Tandem was offline, or failed and why."""
    entries = sorted(
        {m if isinstance(m, MissedCheckin) else MissedCheckin(m) for m in missed}, key=lambda m: m.day
    )
    # Show the year only when it could be misread, i.e. when a date is not in the current year.
    show_year = any(m.day.year != today.year for m in entries)
    groups: dict[tuple[bool, str], list[dt.date]] = {}
    for m in entries:
        reason = " ".join((m.reason or "").split()) if m.failed else ""
        days = groups.setdefault((m.failed, reason), [])
        if m.day not in days:
            days.append(m.day)
    lines = []
    for (failed, reason), days in list(groups.items())[:_MISSED_GROUPS_SHOWN]:
        dates, several = _dates_text(days, show_year)
        subject = f"The check-in{'s' if several else ''} of {dates}"
        if not failed:
            lines.append(f"{subject} {'were' if several else 'was'} not posted while Tandem was offline.")
        elif reason:
            lines.append(f"{subject} could not be posted: {_plain(reason, _REASON_MAX)}.")
        else:
            lines.append(f"{subject} could not be posted.")
    left = sum(len(days) for days in list(groups.values())[_MISSED_GROUPS_SHOWN:])
    if left:
        lines.append(f"…and {left} more check-in{'s' if left > 1 else ''} that were not posted.")
    return "\n".join(lines)


def _agenda_text(section: AgendaSection, budget: int) -> str | None:
    lines = [line for line in section.lines if line.strip()]
    if not lines:
        return None
    title = _plain(section.title, 150) if section.title.strip() else ""
    out = [f"*{title}*"] if title else []
    size = len(out[0]) if out else 0
    shown = 0
    for line in lines[:_SECTION_LINES_MAX]:
        item = "• " + (_cut(line, _LINE_MAX) if section.mrkdwn else _plain(line, _LINE_MAX))
        if size + len(item) + 1 > budget:
            break
        out.append(item)
        size += len(item) + 1
        shown += 1
    if shown == 0:
        return None
    if len(lines) > shown:
        out.append(f"…and {len(lines) - shown} more")
    return "\n".join(out)


def _json_size(blocks: list[Block]) -> int:
    return len(json.dumps([b.to_dict() for b in blocks], ensure_ascii=False))


def _commitments_part(c: CheckinContent, before: list[Block], after: list[Block]) -> list[Block]:
    """The "Open commitments" part: as many items as fit between `before` and `after` in 50 blocks and
    `_JSON_CHARS_MAX`, then "…and N more open commitments" (alone, if not even one item fits)."""
    if not any(item.status == "open" for item in c.commitments):
        return []
    title = SectionBlock(text=MarkdownTextObject(text=":pushpin: *Open commitments*"))
    room = _MAX_BLOCKS - len(before) - len(after) - 2  # the title, and the "…and N more" line
    if room < 0:
        return []
    budget = _JSON_CHARS_MAX - _json_size(before) - _json_size(after)
    for limit in range(min(_COMMITMENTS_SHOWN, room), -1, -1):
        part = [title, *commitment_blocks(c.commitments, limit=limit)]
        if _json_size(part) <= budget or limit == 0:
            return part
    return []  # pragma: no cover - the loop always returns at limit 0


def build_checkin(c: CheckinContent) -> tuple[str, list[Block]]:
    """The check-in message: `(fallback text, blocks)`.

    Shows the prompt and why it was chosen, then only the agenda parts that have content (missed
    check-ins, then each non-empty `agenda_items` section, then open `commitments` with their menus),
    the people from both sides, an invitation to discuss in the thread, and, when `ritual_id` is set,
    an "Add a commitment" button.
    """
    day = _long_date(c.local_date)
    suffix = f" · {day}"
    name = " ".join(c.ritual_name.split()) or "Check-in"
    # Header text is plain_text: no mrkdwn escaping, only the length limit.
    header = truncate(name, _HEADER_MAX - len(suffix)) + suffix

    prompt = _plain(c.prompt_text, _PROMPT_MAX)
    blocks: list[Block] = [HeaderBlock(text=header)]
    focus = [_plain(line, 300) for line in c.focus[:5] if line.strip()]
    if focus:
        # The data-driven agenda leads: where the partnership is weakest, and what is due.
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=":dart: *Focus*\n" + "\n".join(f"• {f}" for f in focus))
            )
        )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=f":speech_balloon: *Prompt*\n>{prompt}")))
    why = _plain(c.prompt_why, _WHY_MAX)
    label = _plain(c.prompt_theme_label, 100)
    if why or label:
        because = f"Why this prompt: {why} ({label})" if why and label else f"Why this prompt: {why or label}"
        if c.chosen_because:
            because += f" · {_plain(c.chosen_because, 300)}"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=because)]))

    if c.missed:
        text = f":hourglass: *Missed check-ins*\n{_missed_text(c.missed, c.local_date)}"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))

    budget = _AGENDA_CHARS_MAX
    shown_sections = left_out = 0
    for section in c.agenda_items:
        agenda: str | None = None
        if shown_sections < _AGENDA_SECTIONS_MAX and budget > 0:
            agenda = _agenda_text(section, min(budget, 2900))
        if agenda is not None:
            blocks.append(SectionBlock(text=MarkdownTextObject(text=agenda)))
            budget -= len(agenda)
            shown_sections += 1
        elif any(line.strip() for line in section.lines):
            left_out += 1
    if left_out:
        # Say that something was left out rather than drop it silently.
        more = f"…and {left_out} more agenda section{'s' if left_out > 1 else ''} that did not fit."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))

    shown = _PEOPLE_SHOWN if c.notify_members else 1
    people = (
        f":busts_in_silhouette: Marketing: {mentions(c.marketing, limit=shown)} · "
        f"IT: {mentions(c.it, limit=shown)}"
    )
    tail: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=people)),
        ContextBlock(elements=[MarkdownTextObject(text="Discuss in the thread :thread:")]),
    ]
    if c.ritual_id is not None:
        tail.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Add a commitment", action_id=ids.ACTION_COMMIT_ADD, value=str(c.ritual_id)
                    )
                ]
            )
        )
    blocks += _commitments_part(c, blocks, tail)
    blocks += tail

    fallback = _cut(escape(f"{truncate(name, _HEADER_MAX)} · {day}: ") + prompt, _FALLBACK_MAX)
    return fallback, blocks


# A claim left behind by a stopped Tandem from before posts were tagged: it cannot be looked up.
INTERRUPTED_UNCERTAIN_REASON = "interrupted while posting; Tandem cannot tell whether it reached the channel"
