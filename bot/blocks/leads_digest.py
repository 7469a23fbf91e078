"""The monthly digest a ritual's two leads get by DM: the words of it, from plain values.

Sent as the comment of the trend chart's upload (a file's comment is text, so this is mrkdwn, not
blocks, like the drift alert's), or alone when the month had no pulse to chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from bot import ids
from bot.blocks.pulse import participation_text
from bot.blocks.report import FocusFacts, chosen_because, theme_label
from bot.blocks.text import escape, plain_date, truncate
from db.models import Side

# Titles of wins and commitments are quoted up to this long, and this many of each are listed.
TITLE_LIMIT: Final = 80
LISTED: Final = 5
# A change smaller than this is "held steady" (figures are shown to one decimal).
STEADY: Final = 0.05


def turn_off(ritual_name: str) -> str:
    return (
        "You get this digest as a lead of this check-in. To stop it, untick “Monthly digest to the "
        f"leads” in `{ids.COMMAND} edit {escape(ritual_name)}`."
    )


def month_label(year: int, month: int) -> str:
    """E.g. "November 2026"."""
    return dt.date(year, month, 1).strftime("%B %Y")


@dataclass(frozen=True)
class MonthScores:
    """One month's figures: each side's average rating of the other over the month's pulses (None:
    no pulse, or withheld in every one), and the gap between them."""

    marketing: float | None  # marketing's view of IT
    it: float | None  # IT's view of marketing

    @property
    def gap(self) -> float | None:
        if self.marketing is None or self.it is None:
            return None
        return round(abs(self.marketing - self.it), 2)


@dataclass(frozen=True)
class Overdue:
    what: str
    due: dt.date


@dataclass(frozen=True)
class Focus:
    """The one suggestion: the weakest theme's next prompt from the library, as a check-in would ask it."""

    theme: str
    prompt: str
    why: str


@dataclass(frozen=True)
class DigestFacts:
    """What a lead's monthly digest says, as plain values (bot.usecases.leads_digest reads them)."""

    ritual_name: str
    year: int
    month: int
    pulses: int  # pulses that closed in the month (opened in it)
    scores: MonthScores
    previous: MonthScores  # the month before, for the trend
    answered: Mapping[Side, int] = field(default_factory=dict)  # answers per side over the month's pulses
    team: Mapping[Side, int] | None = None  # members asked per side over them (None: not recorded)
    weakest: FocusFacts | None = None  # the weakest theme measured in the month
    wins: Sequence[str] = ()  # titles, oldest first
    commitments_done: int = 0
    overdue: Sequence[Overdue] = ()  # still open, due before the month ended
    focus: Focus | None = None
    charted: bool = False  # a trend chart goes with the text

    @property
    def empty(self) -> bool:
        """Nothing was measured or recorded in the month."""
        return not (self.pulses or self.wins or self.commitments_done or self.overdue)


def _previous_label(f: DigestFacts) -> str:
    return (dt.date(f.year, f.month, 1) - dt.timedelta(days=1)).strftime("%B")


def _next_label(f: DigestFacts) -> str:
    return dt.date(f.year + f.month // 12, f.month % 12 + 1, 1).strftime("%B")


def _score(now: float | None, before: float | None, previous_month: str) -> str:
    if now is None:
        return "no figure (no pulse, or too few answers to show)"
    said = f"{now:.1f}/5"
    if before is None:
        return f"{said} (no figure for {previous_month} to compare)"
    change = round(now - before, 1)
    if abs(change) < STEADY:
        return f"{said}, steady since {previous_month}"
    return f"{said}, {'up' if change > 0 else 'down'} {abs(change):.1f} from {previous_month}"


def _gap(now: float | None, before: float | None, previous_month: str) -> str:
    if now is None:
        return "*Gap*: not shown (a side had no figure this month)."
    said = f"*Gap*: {now:.1f} points between the two sides"
    if before is None:
        return f"{said}."
    change = round(now - before, 1)
    if abs(change) < STEADY:
        return f"{said}, the same as in {previous_month}."
    return f"{said}, {'wider' if change > 0 else 'narrower'} than in {previous_month} ({before:.1f})."


def _titles(titles: Sequence[str]) -> str:
    shown = ", ".join(f"“{escape(truncate(' '.join(t.split()), TITLE_LIMIT))}”" for t in titles[:LISTED])
    more = len(titles) - LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _weakest(f: FocusFacts) -> str:
    reason = chosen_because(f).removeprefix("chosen because ")
    return f"*Weakest theme*: {escape(theme_label(f.theme))}: {escape(reason)}."


def build_leads_digest(f: DigestFacts) -> str:
    """The digest's text (mrkdwn). A month with nothing in it gets two honest lines, not a page of
    blanks: that the ritual was quiet is itself what a lead should know."""
    name, month = escape(f.ritual_name), month_label(f.year, f.month)
    lines = [f":calendar: *{name}: your digest for {month}*"]
    if f.empty:
        lines.append(
            f"Nothing to report for {month}: no pulse closed, no win was shared and no commitment "
            "was done or fell overdue. A check-in with a pulse next month gives you figures to compare."
        )
        lines.append(turn_off(f.ritual_name))
        return "\n".join(lines)
    before = _previous_label(f)
    if f.pulses:
        lines.append(
            f"*Scores* ({f.pulses} pulse{'s' if f.pulses != 1 else ''}, each side rating the other):"
        )
        lines.append(f"• Marketing rates IT: {_score(f.scores.marketing, f.previous.marketing, before)}")
        lines.append(f"• IT rates marketing: {_score(f.scores.it, f.previous.it, before)}")
        lines.append(_gap(f.scores.gap, f.previous.gap, before))
        lines.append(
            f"*Participation*: {participation_text(f.answered, f.team)}"
            + (" (answers over the month's pulses)." if f.pulses > 1 else ".")
        )
        lines.append(
            _weakest(f.weakest)
            if f.weakest is not None
            else "*Weakest theme*: none measured (no pulse asked a theme question, or too few answered)."
        )
    else:
        lines.append(f"*Scores*: no pulse closed in {month}, so there are no scores to compare.")
    lines.append(f"*Wins*: {len(f.wins)}" + (f": {_titles(f.wins)}." if f.wins else "."))
    overdue = (
        f"{len(f.overdue)} overdue: "
        + ", ".join(
            f"“{escape(truncate(' '.join(o.what.split()), TITLE_LIMIT))}” (due {plain_date(o.due)})"
            for o in f.overdue[:LISTED]
        )
        + (f" and {len(f.overdue) - LISTED} more" if len(f.overdue) > LISTED else "")
        if f.overdue
        else "none overdue"
    )
    lines.append(f"*Commitments*: {f.commitments_done} done, {overdue}.")
    if f.focus is not None:
        lines.append(
            f"*Suggested focus for {_next_label(f)}*: {escape(theme_label(f.focus.theme))}. "
            f"Ask together: “{escape(f.focus.prompt)}” {escape(f.focus.why)}"
        )
    if f.charted:
        lines.append("The chart shows how each side rated the other over the last three months.")
    lines.append(turn_off(f.ritual_name))
    return "\n".join(lines)
