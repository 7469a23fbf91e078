"""The App Home tab: one person's check-ins, latest pulses, open commitments and wins.

Slack allows 100 blocks in a Home tab, and a tab that fails to publish shows nothing at all, so every
section has a fixed cap and ends with "…and N more" when there is more: with the caps below the
tab never goes past 60 blocks, whatever it is fed. Pulse figures follow the same rules as the
results in the thread (a withheld side is a sentence, never a number): they come from
:func:`bot.blocks.pulse.pulse_agenda_lines`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot import ids
from bot.blocks.commitments import CommitmentView, commitment_blocks, escape_within
from bot.blocks.pulse import participation_text, pulse_agenda_lines
from bot.blocks.rituals import RitualSummary, format_local, mentions, pause_reason_text
from bot.blocks.text import escape, plain_date, truncate
from bot.blocks.wins import WinView
from db.figures import PulseResults

__all__ = [
    "HOME_COMMITMENTS_SHOWN",
    "HOME_PULSES_SHOWN",
    "HOME_RITUALS_SHOWN",
    "HOME_WINS_SHOWN",
    "HomePulse",
    "HomeRitual",
    "build_home",
]

# At most: greeting and buttons (2), a divider and a header per section (8), check-ins 10 + "more",
# pulses 6 + "more" + a note, commitments 15 + "more", wins 10 + "more": 56 blocks in all.
HOME_RITUALS_SHOWN: Final = 10
HOME_PULSES_SHOWN: Final = 6
HOME_COMMITMENTS_SHOWN: Final = 15
HOME_WINS_SHOWN: Final = 10
_NAME_MAX = 100


@dataclass(frozen=True)
class HomeRitual:
    """A check-in the person is part of, with its next time in the person's own timezone (None: none)."""

    summary: RitualSummary
    next_in_user_tz: dt.datetime | None


@dataclass(frozen=True)
class HomePulse:
    """The latest closed pulse of one of the person's check-ins."""

    ritual_name: str
    results: PulseResults
    closed_local: dt.datetime  # aware, in the person's timezone


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _name(name: str) -> str:
    return escape(truncate(" ".join(name.split()) or "Check-in", _NAME_MAX))


def _more(n: int, noun: str) -> list[Block]:
    return [_context(f"…and {n} more {noun}.")] if n > 0 else []


def _short_day(when: dt.datetime) -> str:
    return plain_date(when)


def _ritual_text(r: HomeRitual) -> str:
    s = r.summary
    head = f"*{_name(s.name)}* in <#{escape(s.channel_id)}>"
    if s.status == "paused":
        return (
            f":double_vertical_bar: {head}\n{escape(s.schedule)}\n"
            f"Paused: {escape(truncate(pause_reason_text(s.paused_reason), 300))}"
        )
    nxt = f"Next: {format_local(r.next_in_user_tz)}" if r.next_in_user_tz else "No check-in scheduled."
    return f":spiral_calendar_pad: {head}\n{escape(s.schedule)}\n{nxt}"


def _rituals(rituals: Sequence[HomeRitual]) -> list[Block]:
    if not rituals:
        return [
            _section(
                "You're not part of any check-in yet. Start one with *New check-in* above, "
                f"or `{ids.COMMAND} setup` in a channel."
            )
        ]

    def soonest(r: HomeRitual) -> tuple[int, float]:
        # Active check-ins by their next time, then the ones with nothing scheduled, then paused ones.
        if r.summary.status == "paused":
            return 2, 0.0
        if r.next_in_user_tz is None:
            return 1, 0.0
        return 0, r.next_in_user_tz.timestamp()

    ordered = sorted(rituals, key=soonest)
    blocks: list[Block] = [_section(_ritual_text(r)) for r in ordered[:HOME_RITUALS_SHOWN]]
    return blocks + _more(len(ordered) - HOME_RITUALS_SHOWN, "check-ins")


def _pulse_text(p: HomePulse) -> str:
    answered = sum(p.results.participation.values())
    if p.results.team is not None and answered:
        # Against each side's team, as everywhere results appear: "marketing 5 of 6 (83%) · IT 4 of 6 (67%)".
        people = f"answered: {participation_text(p.results.participation, p.results.team)}"
    else:
        people = "1 person answered" if answered == 1 else f"{answered} people answered"
    head = f":bar_chart: *{_name(p.ritual_name)}* · closed {_short_day(p.closed_local)} · {people}"
    lines = pulse_agenda_lines(p.results)
    if not lines:
        return f"{head}\nNobody answered this pulse."
    return head + "\n" + "\n".join(escape(line) for line in lines)


def _pulses(pulses: Sequence[HomePulse]) -> list[Block]:
    if not pulses:
        return [
            _section(
                "No pulse results yet. When a check-in runs a pulse, how each side rates the other "
                "and the gap between the two show here."
            )
        ]
    ordered = sorted(pulses, key=lambda p: p.closed_local.timestamp(), reverse=True)
    blocks: list[Block] = [_section(_pulse_text(p)) for p in ordered[:HOME_PULSES_SHOWN]]
    blocks += _more(len(ordered) - HOME_PULSES_SHOWN, "pulses")
    blocks.append(_context("A side's figures show once enough of it answered, so nobody can be identified."))
    return blocks


def _commitments(commitments: Sequence[CommitmentView]) -> list[Block]:
    blocks = commitment_blocks(commitments, limit=HOME_COMMITMENTS_SHOWN)
    if blocks:
        return blocks
    return [
        _section(
            "Nothing open. At your next check-in, agree on one thing to do together: "
            "one owner from marketing, one from IT, and a date."
        )
    ]


def _win_text(w: WinView) -> str:
    lines = [
        f":tada: *{escape_within(' '.join(w.what.split()), 200)}*",
        f"Marketing: {mentions(w.marketing, limit=5)} · IT: {mentions(w.it, limit=5)}",
    ]
    when = f"{_short_day(w.created_local)} in <#{escape(w.channel_id)}>"
    if w.outcome and w.outcome.strip():
        when += f" · :chart_with_upwards_trend: {escape_within(' '.join(w.outcome.split()), 100)}"
    lines.append(when)
    return "\n".join(lines)


def _wins(wins: Sequence[WinView], total: int | None) -> list[Block]:
    live = sorted((w for w in wins if not w.withdrawn), key=lambda w: (w.created_local, w.id), reverse=True)
    if not live:
        return [
            _section(
                "No wins credited to you yet. When marketing and IT pull something off together, "
                "celebrate it with *Celebrate a win* above."
            )
        ]
    shown = live[:HOME_WINS_SHOWN]
    rest = max(len(live), total or 0) - len(shown)
    return [_section(_win_text(w)) for w in shown] + _more(rest, "wins" if rest > 1 else "win")


def _greeting(user_id: str, commitments: Sequence[CommitmentView]) -> str:
    text = (
        f":wave: Hi <@{escape(user_id)}>! Here's how marketing and IT are doing together: "
        "your check-ins, the latest pulses, what you committed to and the wins you share."
    )
    overdue = len({c.id for c in commitments if c.status == "open" and c.overdue})
    if overdue:
        which = "1 commitment is" if overdue == 1 else f"{overdue} commitments are"
        text += f"\n:warning: {which} past due: mark it done, pick a new date or drop it below."
    return text


def build_home(
    *,
    user_id: str,
    rituals: Sequence[HomeRitual],
    pulses: Sequence[HomePulse],
    commitments: Sequence[CommitmentView],
    wins: Sequence[WinView],
    wins_total: int | None = None,
) -> View:
    """The Home tab of `user_id`: a greeting, buttons for the common actions (`ids.ACTION_HOME_NEW_*`),
    then their check-ins (soonest first), latest pulses, open commitments (with their menus) and the
    wins they were credited in (most recent first).

    `wins_total` is how many wins credit the person when `wins` holds only the most recent ones, so
    the tab can say how many more there are. At most 100 blocks whatever the input (see the caps).
    """
    blocks: list[Block] = [
        _section(_greeting(user_id, commitments)),
        ActionsBlock(
            block_id=ids.BLOCK_HOME_ACTIONS,
            elements=[
                ButtonElement(
                    text="New check-in", action_id=ids.ACTION_HOME_NEW_RITUAL, value="new", style="primary"
                ),
                ButtonElement(text="Celebrate a win", action_id=ids.ACTION_HOME_NEW_WIN, value="new"),
                ButtonElement(text="Add a commitment", action_id=ids.ACTION_HOME_NEW_COMMIT, value="new"),
            ],
        ),
    ]
    for title, part in (
        ("Your check-ins", _rituals(rituals)),
        ("Latest pulses", _pulses(pulses)),
        ("Your open commitments", _commitments(commitments)),
        ("Wins you were credited in", _wins(wins, wins_total)),
    ):
        blocks += [DividerBlock(), HeaderBlock(text=title), *part]
    return View(type="home", blocks=blocks)
