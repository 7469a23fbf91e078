"""Insight in words: the text around a report chart, an export and a drift alert (mrkdwn, no blocks),
the answers to `/tandem report`, `export` and `alerts`, and the parser of their arguments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from bot.blocks.pulse import participation_text
from bot.blocks.rituals import refusal_text
from bot.blocks.setup import MAX_NAME_LENGTH
from bot.blocks.text import escape
from db.models import Side
from db.prompt_library import Theme

REPORT_EXAMPLE: Final = "report Weekly sync 12"
EXPORT_EXAMPLE: Final = "export Weekly sync"
ALERTS_EXAMPLE: Final = "alerts off Weekly sync"
DEFAULT_WEEKS: Final = 12
MAX_WEEKS: Final = 104
REPORT_REFUSAL: Final = "Reports of “{name}” are for its creator, its members and admins."
WEEKS_PROBLEM: Final = f"Give a number of weeks from 1 to {MAX_WEEKS}."
ALERTS_PROBLEM: Final = "Say `on` or `off`, then the ritual if the channel has several."
NAME_PROBLEM: Final = f"No check-in has a name that long: names have at most {MAX_NAME_LENGTH} characters."


# -- arguments ------------------------------------------------------------------------------------


class InsightArgsError(ValueError):
    """The arguments of an insight subcommand made no sense; the message says why, in words for Slack."""


@dataclass(frozen=True)
class ReportArgs:
    ritual_name: str  # "" when the channel's only ritual is meant
    weeks: int


def _ritual_name(name: str) -> str:
    # A longer name matches nothing; refusing it here keeps it from being quoted back at length.
    if len(name) > MAX_NAME_LENGTH:
        raise InsightArgsError(NAME_PROBLEM)
    return name


def parse_ritual_name(text: str) -> str:
    """`[ritual]` (export): the name with its whitespace collapsed, "" for the channel's only one."""
    return _ritual_name(" ".join(text.split()))


def parse_report_args(text: str) -> ReportArgs:
    """`[ritual] [weeks]`: a last word of ASCII digits is the number of weeks (1 to MAX_WEEKS)."""
    name = " ".join(text.split())
    head, _, last = name.rpartition(" ")
    if not (last.isascii() and last.isdigit()):
        return ReportArgs(_ritual_name(name), DEFAULT_WEEKS)
    # A long run of digits is out of range whatever it says: no need to read it as a number.
    weeks = int(last) if len(last) <= 4 else 0
    if not 1 <= weeks <= MAX_WEEKS:
        raise InsightArgsError(WEEKS_PROBLEM)
    return ReportArgs(_ritual_name(head), weeks)


def parse_alerts_args(text: str) -> tuple[bool, str]:
    """`on|off [ritual]`: whether alerts are wanted, and the ritual's name ("" for the channel's one)."""
    choice, _, name = " ".join(text.split()).partition(" ")
    if choice.lower() not in ("on", "off"):
        raise InsightArgsError(ALERTS_PROBLEM)
    return choice.lower() == "on", _ritual_name(name)


# -- answers to the commands ----------------------------------------------------------------------


def report_refusal_text(kind: str, *, detail: str = "", ritual_name: str = "") -> str:
    """Why a report, an export or an alert setting was refused (bot.usecases.access.Refused's values)."""
    return refusal_text(kind, detail=detail, ritual_name=ritual_name, refusal=REPORT_REFUSAL)


def preparing_text(what: str, ritual_name: str) -> str:
    """`what` is "report" or "export"."""
    return f":hourglass_flowing_sand: Preparing the {what} of “{escape(ritual_name)}”…"


def not_shared_text(what: str, error: str) -> str:
    """A report or export was allowed and prepared, but Slack refused the file (`error` is its code)."""
    if what == "export":
        return f":warning: The export could not be sent ({escape(error)})."
    return f":warning: The {what} could not be shared ({escape(error)})."


def alerts_text(on: bool, ritual_name: str) -> str:
    name = escape(ritual_name)
    return (
        f":bell: Drift alerts for “{name}” are on." if on else f":no_bell: No more drift alerts for “{name}”."
    )


# -- the report's summary, the export's comment, the drift alert ----------------------------------


class ReportFigures(Protocol):
    """What the written summary of a report says (db.reports.ReportSummary has these)."""

    @property
    def pulses(self) -> int: ...
    @property
    def gap_first(self) -> float | None: ...
    @property
    def gap_last(self) -> float | None: ...
    @property
    def best(self) -> tuple[str, float] | None: ...  # (what was rated, its average)
    @property
    def worst(self) -> tuple[str, float] | None: ...
    @property
    def wins(self) -> int: ...
    @property
    def commitments_done(self) -> int: ...
    @property
    def hidden_points(self) -> int: ...
    @property
    def marketing_first(self) -> float | None: ...  # marketing's view of IT, first and last
    @property
    def marketing_last(self) -> float | None: ...
    @property
    def it_first(self) -> float | None: ...  # IT's view of marketing, first and last
    @property
    def it_last(self) -> float | None: ...
    @property
    def participation(self) -> Mapping[Side, int] | None: ...  # the latest pulse's, per side
    @property
    def team(self) -> Mapping[Side, int] | None: ...


def theme_label(slug: str) -> str:
    """A theme's name for people; a slug Tandem no longer knows is shown as it is."""
    try:
        return Theme(slug).label
    except ValueError:
        return slug


_STEADY = 0.05  # changes smaller than this show as 0.0: "held steady"
_VIEWS = {"marketing": "marketing's view of IT", "IT": "IT's view of marketing"}


def _move(first: float, last: float) -> str:
    d = round(last - first, 1)
    if abs(d) < _STEADY:
        return f"held steady at {last:.1f}"
    return f"{'rose' if d > 0 else 'fell'} from {first:.1f} to {last:.1f}"


def _views(s: ReportFigures) -> tuple[float, float, float, float] | None:
    """(marketing first, marketing last, IT first, IT last), or None when a side was not shown."""
    mf, ml, itf, itl = s.marketing_first, s.marketing_last, s.it_first, s.it_last
    if mf is None or ml is None or itf is None or itl is None:
        return None
    return mf, ml, itf, itl


def _sides_trend(s: ReportFigures) -> str | None:
    """Where each side went, before anything about the gap between them (a gap can narrow while
    both sides fall, which is no good news)."""
    views = _views(s)
    if views is None:
        return None
    mf, ml, itf, itl = views
    dm, di = round(ml - mf, 1), round(itl - itf, 1)
    said = f"{_VIEWS['marketing']} {_move(mf, ml)}, {_VIEWS['IT']} {_move(itf, itl)}"
    if dm <= -_STEADY and di <= -_STEADY:
        return f"Both sides rate the partnership lower than at the start: {said}."
    if dm >= _STEADY and di >= _STEADY:
        return f"Both sides rate the partnership higher than at the start: {said}."
    return said[0].upper() + said[1:] + "."


def _gap_reason(dm: float, di: float) -> str:
    """Why the gap moved, from each side's change: which side's view moved, and which way."""
    m, i = "marketing's view", "IT's view"
    if dm < 0 and di < 0:
        return f" because {m if dm < di else i} fell further" if dm != di else ""
    if dm > 0 and di > 0:
        return f" because {m if dm > di else i} rose further" if dm != di else ""
    if dm > 0 > di:
        return f" because {m} rose while {i} fell"
    if di > 0 > dm:
        return f" because {i} rose while {m} fell"
    if dm:
        return f" because {m} {'rose' if dm > 0 else 'fell'}"
    if di:
        return f" because {i} {'rose' if di > 0 else 'fell'}"
    return ""


def _gap_trend(s: ReportFigures) -> str:
    first, last = s.gap_first, s.gap_last
    if first is None or last is None:
        return "The gap between the two sides could not be shown (too few answers from a side)."
    change = abs(last) - abs(first)
    if abs(change) < 0.1:
        return f"The gap between the two sides held steady at {abs(last):.1f}."
    direction = "narrowed" if change < 0 else "widened"
    said = f"The gap between the two sides {direction} from {abs(first):.1f} to {abs(last):.1f}"
    views = _views(s)
    if views is not None:
        mf, ml, itf, itl = views
        dm, di = round(ml - mf, 1), round(itl - itf, 1)
        said += _gap_reason(dm, di)
        if direction == "narrowed" and dm < 0 and di < 0:
            said += ": closer, but both lower"
    return said + "."


def report_title(ritual_name: str, weeks: int) -> str:
    """The file's title (it can say it all; the chart's own title must fit on one line)."""
    return f"{ritual_name}: how marketing and IT rate each other, last {weeks} weeks"


def report_period(weeks: int) -> str:
    return f"last {weeks} weeks"


def report_summary(ritual_name: str, weeks: int, s: ReportFigures) -> str:
    lines = [f":bar_chart: *{escape(ritual_name)}: the last {weeks} weeks*"]
    if not s.pulses:
        lines.append("No pulse closed in this period yet, so there is nothing to chart.")
    else:
        pulses = f"{s.pulses} pulse{'s' if s.pulses != 1 else ''}."
        sides = _sides_trend(s)
        lines.append(f"{pulses} {sides}" if sides else pulses)
        lines.append(_gap_trend(s))
        if s.participation is not None and any(s.participation.values()):
            lines.append(f"Latest pulse answered by {participation_text(s.participation, s.team)}.")
        # Averages over the whole period: "highest", not "best", since a side can be the highest
        # on average and still be falling.
        if s.best:
            lines.append(f"Highest on average: {s.best[0]} ({s.best[1]:.1f}/5).")
        if s.worst:
            lines.append(f"Lowest on average: {s.worst[0]} ({s.worst[1]:.1f}/5).")
        if s.hidden_points:
            lines.append(
                f"{s.hidden_points} pulse{'s' if s.hidden_points != 1 else ''} had too few answers from a side "
                "to show without identifying people; those points are not drawn."
            )
    lines.append(f"Shared wins: {s.wins}. Commitments done: {s.commitments_done}.")
    return "\n".join(lines)


def export_comment(ritual_name: str, *, anonymous_only: bool, with_answers: bool) -> str:
    parts = [
        f":page_facing_up: *Export of {escape(ritual_name)}* (the last 12 months).",
        "`tandem-export.csv` has one row per pulse, question and side, and one for everyone on the level "
        "question (answers, average and how many gave each score; blank where showing it could identify "
        "people; participation against the side's team, e.g. 5 of 6 (83%); the theme question in the "
        "words each side was asked), then the shared wins, then the commitments with their outcome.",
    ]
    if anonymous_only:
        parts.append("No row names who answered a pulse: the anonymous ones were never stored by person.")
    if with_answers:
        parts.append(
            "`tandem-answers.csv` lists who answered what in the pulses that were not anonymous "
            "(you get it because you are a member of this ritual)."
        )
    return "\n".join(parts)


def _rating(average: float | None) -> str:
    return f"{average:.1f}/5" if average is not None else "withheld (too few answers)"


def short_date(day: dt.date) -> str:
    """ "Tue 3 Nov 2026": one date format for the dates insight quotes."""
    return f"{day:%a} {day.day} {day:%b %Y}"


@dataclass(frozen=True)
class FocusFacts:
    """A theme's latest measurement that a check-in or an alert aims at, as plain values."""

    theme: str
    marketing_question: str  # what marketing was asked (its rating of IT)
    it_question: str  # the mirror IT was asked
    day: dt.date  # the day the pulse opened, in the ritual's timezone
    marketing: float | None  # averages shown (None: withheld or no answers)
    it: float | None
    widest_gap: bool  # aimed at the gap between the sides, else at the lowest score


def _rated(side: str, question: str, score: float) -> str:
    return f"{side} rated “{question}” {score:.1f}/5"


def chosen_because(f: FocusFacts) -> str:
    """Why the check-in aims at this theme, quoting only the questions the pulse asked and the scores
    it got: "chosen because IT rated “How clearly does marketing say what data it needs?” 2.0/5 in
    the pulse of Tue 3 Nov 2026 (marketing rated “…” 4.1/5)"."""
    when = f"in the pulse of {short_date(f.day)}"
    mkt = _rated("marketing", f.marketing_question, f.marketing) if f.marketing is not None else None
    it = _rated("IT", f.it_question, f.it) if f.it is not None else None
    if f.widest_gap and mkt and it and f.marketing is not None and f.it is not None:
        return f"chosen because the sides were {abs(f.marketing - f.it):.1f} points apart {when}: {mkt}, {it}"
    if it and (not mkt or (f.it is not None and f.marketing is not None and f.it <= f.marketing)):
        return f"chosen because {it} {when}" + (f" ({mkt})" if mkt else "")
    assert mkt is not None  # a measurement has at least one side shown
    return f"chosen because {mkt} {when}" + (f" ({it})" if it else "")


@dataclass(frozen=True)
class DriftFacts:
    """What a drift alert says, as plain values."""

    ritual_name: str
    falling: bool  # the partnership score fell; otherwise the gap between the sides widened
    values: tuple[float, ...]  # the last three scores, or gaps
    marketing_of_it: float | None  # the latest pulse's ratings (None: withheld)
    it_of_marketing: float | None
    focus: FocusFacts | None = None  # the weakest measured theme the next check-in may aim at


def drift_alert(facts: DriftFacts) -> str:
    values = " → ".join(f"{v:.1f}" for v in facts.values)
    what = (
        f"the partnership score fell in each of the last two pulses ({values})"
        if facts.falling
        else f"the gap between marketing and IT widened in each of the last two pulses ({values})"
    )
    lines = [
        f":warning: *{escape(facts.ritual_name)}*: {what}.",
        f"Latest pulse: marketing's view of IT {_rating(facts.marketing_of_it)}, "
        f"IT's view of marketing {_rating(facts.it_of_marketing)}.",
    ]
    if facts.focus is not None:
        reason = chosen_because(facts.focus).removeprefix("chosen because ")
        focus = f"{theme_label(facts.focus.theme)}, because {reason}"
        lines.append(f"Suggested focus for the next check-in: {escape(focus)}.")
    lines.append("The chart shows the trend. Turn these alerts off with `/tandem alerts off`.")
    return "\n".join(lines)
