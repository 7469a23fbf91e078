"""Pulse trend charts: plain values in, PNG bytes out. Nothing here knows Slack or the database.

The chart has two panels sharing the date axis: on top, how each side rates the other (1–5) with
the gap between them shaded; below, how many people from each side answered each pulse. A side's
score is drawn only where it was shown in the pulse results, so a figure withheld for anonymity
stays hidden here too (a gap in the line), and the chart says that some points are hidden.

matplotlib is used through `Figure` and `FigureCanvasAgg` only, never pyplot: no global figure
registry, no display, and no shared rcParams are touched, so charts can be drawn from any thread.
It is imported on first use (about half a second on the reference machine) so that processes that
never draw a chart, and the test run, do not pay for it.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Okabe–Ito palette: distinguishable with the common kinds of colour blindness.
MARKETING_COLOUR = "#0072B2"  # blue
IT_COLOUR = "#E69F00"  # orange
GAP_COLOUR = "#999999"  # grey
TEXT_COLOUR = "#333333"
GRID_COLOUR = "#DDDDDD"
# The dashed line at the number of answers a score needs to be shown.
THRESHOLD_COLOUR = "#444444"
THRESHOLD_DASHES = (0, (4, 3))
THRESHOLD_WIDTH = 1.2

MARKETING_LABEL = "Marketing rates IT"
IT_LABEL = "IT rates marketing"
GAP_LABEL = "Gap"
EMPTY_MESSAGE = "No pulses in this period yet"

# 896 × 616 pixels, sharp when opened. Slack's message preview scales it down to about 360 pixels
# wide, so the type is sized for that: 11.5 pt at 140 dpi is 22 px here, 9 px in the preview.
FIGURE_SIZE = (6.4, 4.4)
DPI = 140

TITLE_SIZE = 15
LABEL_SIZE = 12
TICK_SIZE = 11.5
NOTE_SIZE = 11

# Longer titles are cut so they stay on one line at TITLE_SIZE.
TITLE_CHARS = 48
# At most this many date labels fit under the chart at TICK_SIZE; with more pulses, every second
# (third, …) pulse is labelled.
MAX_DATE_LABELS = 8
# Up to this many pulses, pulse dates are the tick labels; beyond, matplotlib picks the ticks.
LABEL_EVERY_PULSE = 28
X_LABEL = "Pulse date"
ALT_TEXT_LIMIT = 1000
# A change in the gap smaller than this (in points on the 1–5 scale) reads as "steady".
STEADY_GAP_CHANGE = 0.1


@dataclass(frozen=True)
class TrendPoint:
    """One pulse on the trend chart."""

    when: dt.date
    marketing_of_it: float | None  # marketing's average rating of IT; None = withheld or no answers
    it_of_marketing: float | None  # IT's average rating of marketing; None = withheld or no answers
    marketing_answers: int
    it_answers: int
    withheld: bool  # at least one side's figure was withheld for anonymity

    @property
    def gap(self) -> float | None:
        """Marketing's score of IT minus IT's score of marketing, when both are shown."""
        if self.marketing_of_it is None or self.it_of_marketing is None:
            return None
        return self.marketing_of_it - self.it_of_marketing


def hidden_note(min_answers: int) -> str:
    """The footnote shown when some points are hidden."""
    return f"Hidden points: fewer than {min_answers} answers from a side would identify people."


def _short(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def chart_title(name: str, period: str) -> str:
    """`<name>: <period>` on one line: the period is kept whole and the name shortened to fit."""
    room = TITLE_CHARS - len(period) - 2
    return f"{_short(name, max(room, 8))}: {period}"


def _sorted(points: Sequence[TrendPoint]) -> list[TrendPoint]:
    return sorted(points, key=lambda p: p.when)


def _style_axes(ax: Axes) -> None:
    ax.tick_params(labelsize=TICK_SIZE, colors=TEXT_COLOUR)
    ax.grid(axis="y", color=GRID_COLOUR, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#888888")


def build_figure(points: Sequence[TrendPoint], *, title: str, min_answers: int) -> Figure:
    """The chart as a matplotlib `Figure` (not yet drawn); `render_trend_chart` makes the PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI, facecolor="white")
    fig.suptitle(
        _short(title, TITLE_CHARS),
        fontsize=TITLE_SIZE,
        fontweight="bold",
        color=TEXT_COLOUR,
        x=0.02,
        ha="left",
        y=0.975,
        parse_math=False,  # the title is a ritual's name: "$" must not start mathtext
    )
    ordered = _sorted(points)
    if not ordered:
        _draw_empty(fig)
    else:
        _draw_trend(fig, ordered, min_answers=min_answers)
    return fig


def _draw_empty(fig: Figure) -> None:
    ax = fig.add_axes((0.06, 0.1, 0.88, 0.72))
    ax.set_axis_off()
    ax.text(
        0.5,
        0.55,
        EMPTY_MESSAGE,
        ha="center",
        va="center",
        fontsize=16,
        color=TEXT_COLOUR,
        transform=ax.transAxes,
    )
    ax.text(
        0.5,
        0.42,
        "The trend appears here once pulses have closed.",
        ha="center",
        va="center",
        fontsize=LABEL_SIZE,
        color="#666666",
        transform=ax.transAxes,
    )


def _legend_above(ax: Axes, handles: list[Any], labels: list[str]) -> None:
    ax.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02),
        ncol=len(labels),
        frameon=False,
        fontsize=TICK_SIZE,
        handlelength=2.2,
        borderaxespad=0.0,
    )


def _date_axis(ax: Axes, days: list[dt.date], *, evenly: bool) -> None:
    """Date labels: pulse dates when the pulses are evenly spread (every pulse's, or every second
    or third one's so that at most MAX_DATE_LABELS fit without colliding), else matplotlib's
    concise choice. The axis label names the year (or years), which keeps the labels to one line."""
    from matplotlib import dates as mdates
    from matplotlib.ticker import FixedLocator, FuncFormatter

    unique = sorted(set(days))
    if evenly and len(unique) <= LABEL_EVERY_PULSE:
        every = -(-len(unique) // MAX_DATE_LABELS)  # ceiling division
        # Count back from the latest pulse, so the most recent one is always labelled.
        labelled = unique[::-1][::every][::-1]
        ax.xaxis.set_major_locator(FixedLocator(mdates.date2num(labelled)))
        shown = {float(mdates.date2num(day)): f"{day.day} {day:%b}" for day in labelled}
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: shown.get(float(value), "")))
    else:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=MAX_DATE_LABELS)
        # Years are in the axis label, so no offset text is needed under the ticks.
        formatter = mdates.ConciseDateFormatter(
            locator,
            formats=["%Y", "%b", "%-d %b", "%H:%M", "%H:%M", "%S.%f"],
            offset_formats=["", "", "", "", "", ""],
        )
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(formatter)
    ax.tick_params(axis="x", labelsize=TICK_SIZE)
    first, last = unique[0].year, unique[-1].year
    years = str(first) if first == last else f"{first}–{last}"
    ax.set_xlabel(f"{X_LABEL}, {years}", fontsize=LABEL_SIZE, color=TEXT_COLOUR)


def _draw_trend(fig: Figure, points: list[TrendPoint], *, min_answers: int) -> None:
    import numpy as np
    from matplotlib import dates as mdates
    from matplotlib.ticker import MaxNLocator

    x = np.array([mdates.date2num(p.when) for p in points], dtype=float)
    marketing = np.array([np.nan if p.marketing_of_it is None else p.marketing_of_it for p in points])
    it = np.array([np.nan if p.it_of_marketing is None else p.it_of_marketing for p in points])
    any_hidden = any(p.withheld for p in points)

    # Fixed margins (the figure size is fixed): faster than a layout engine and just as tidy.
    bottom = 0.2 if any_hidden else 0.145
    fig.subplots_adjust(left=0.1, right=0.975, top=0.83, bottom=bottom, hspace=0.5)
    grid = fig.add_gridspec(2, 1, height_ratios=(2.6, 1.2))
    scores: Axes = fig.add_subplot(grid[0])
    answers: Axes = fig.add_subplot(grid[1], sharex=scores)

    # Widths in days: bars and margins follow the spacing of the pulses (weekly, monthly, …).
    # The typical step sets the margins; the smallest keeps the bar pairs of close pulses apart.
    steps = np.diff(np.unique(x))
    step = float(np.median(steps)) if steps.size else 7.0
    closest = float(steps.min()) if steps.size else step
    pad = step * 0.6 if steps.size else step * 2.5  # a lone pulse: narrow bars in a week-wide frame
    scores.set_xlim(x.min() - pad, x.max() + pad)

    # Top: the two scores; NaN (withheld / no answers) leaves a gap in the line.
    both = ~np.isnan(marketing) & ~np.isnan(it)
    scores.fill_between(
        x, marketing, it, where=both, color=GAP_COLOUR, alpha=0.3, linewidth=0, label=GAP_LABEL
    )
    marker_size = 6 if len(points) <= 26 else 4
    for values, colour, marker, label in (
        (marketing, MARKETING_COLOUR, "o", MARKETING_LABEL),
        (it, IT_COLOUR, "s", IT_LABEL),
    ):
        scores.plot(
            x, values, color=colour, marker=marker, markersize=marker_size, linewidth=2.2, label=label
        )
    scores.set_ylim(0.75, 5.25)
    scores.set_yticks([1, 2, 3, 4, 5])
    scores.set_ylabel("Score (1–5)", fontsize=LABEL_SIZE, color=TEXT_COLOUR)
    _style_axes(scores)
    scores.tick_params(axis="x", labelbottom=False, length=0)
    handles, labels = scores.get_legend_handles_labels()
    order = [labels.index(name) for name in (MARKETING_LABEL, IT_LABEL, GAP_LABEL) if name in labels]
    _legend_above(scores, [handles[k] for k in order], [labels[k] for k in order])

    # Bottom: answers per side, side by side around each pulse's date. A side with too few
    # answers for its score to be shown is drawn faint and hatched, matching the gap above.
    width = min(step * 0.36, closest * 0.45)
    for offset, side_counts, colour, label in (
        (-width / 2, [p.marketing_answers for p in points], MARKETING_COLOUR, "Marketing"),
        (width / 2, [p.it_answers for p in points], IT_COLOUR, "IT"),
    ):
        bars = answers.bar(x + offset, side_counts, width=width, color=colour, label=label, linewidth=0)
        for bar, count in zip(bars, side_counts, strict=True):
            if 0 < count < min_answers:
                bar.set_alpha(0.45)
                bar.set_hatch("////")
                bar.set_edgecolor(colour)
    threshold = answers.axhline(
        min_answers, zorder=3, color=THRESHOLD_COLOUR, linestyle=THRESHOLD_DASHES, linewidth=THRESHOLD_WIDTH
    )
    answers.set_ylabel("Answers", fontsize=LABEL_SIZE, color=TEXT_COLOUR)
    top = max(max(p.marketing_answers for p in points), max(p.it_answers for p in points), min_answers)
    answers.set_ylim(0, top * 1.12 + 0.5)
    locator = answers.yaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator)  # a linear axis's AutoLocator is one
    locator.set_params(integer=True, nbins=4)
    _style_axes(answers)
    handles, labels = answers.get_legend_handles_labels()
    handles.append(threshold)  # the legend draws the line's own style
    labels.append(f"Needed to show a score ({min_answers})")
    _legend_above(answers, handles, labels)

    _date_axis(answers, [p.when for p in points], evenly=closest >= step * 0.5)

    if any_hidden:
        fig.text(
            0.02,
            0.02,
            hidden_note(min_answers),
            fontsize=NOTE_SIZE,
            style="italic",
            color="#555555",
            ha="left",
            va="bottom",
        )


def render_trend_chart(points: Sequence[TrendPoint], *, title: str, min_answers: int) -> bytes:
    """The trend of `points` as PNG bytes (896 × 616 pixels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = build_figure(points, title=title, min_answers=min_answers)
    canvas = FigureCanvasAgg(fig)
    out = io.BytesIO()
    canvas.print_png(out, metadata={"Software": None})
    return out.getvalue()


# --- Alt text ---------------------------------------------------------------------------------


def _day(when: dt.date) -> str:
    return f"{when.day} {when:%b %Y}"


def _score(value: float) -> str:
    return f"{value:.1f}"


def _latest(points: list[TrendPoint], attr: str) -> TrendPoint | None:
    return next((p for p in reversed(points) if getattr(p, attr) is not None), None)


def _gap_sentence(points: list[TrendPoint]) -> str:
    gapped = [p for p in points if p.gap is not None]
    if not gapped:
        return "No pulse shows both sides' scores, so there is no gap to compare."
    last = gapped[-1]
    gap = last.gap or 0.0
    if abs(gap) < 0.05:
        where = "the two sides rate each other the same"
    elif gap > 0:
        where = f"marketing rates IT {abs(gap):.1f} higher than IT rates marketing"
    else:
        where = f"IT rates marketing {abs(gap):.1f} higher than marketing rates IT"
    if len(gapped) == 1:
        return f"Gap on {_day(last.when)}: {where}."
    first = gapped[0]
    change = abs(gap) - abs(first.gap or 0.0)
    if abs(change) < STEADY_GAP_CHANGE:
        trend = "steady"
    elif change < 0:
        trend = "narrowing"
    else:
        trend = "widening"
    return (
        f"The gap is {trend}: {abs(first.gap or 0.0):.1f} on {_day(first.when)}, "
        f"{abs(gap):.1f} on {_day(last.when)}, where {where}."
    )


def alt_text(points: Sequence[TrendPoint], *, title: str) -> str:
    """A short description of the chart for screen readers (at most 1000 characters)."""
    title = _short(title, 200)
    ordered = _sorted(points)
    if not ordered:
        return f"Chart: {title}. No pulses in this period yet."
    n = len(ordered)
    span = (
        f"1 pulse on {_day(ordered[0].when)}"
        if n == 1
        else f"{n} pulses from {_day(ordered[0].when)} to {_day(ordered[-1].when)}"
    )
    parts = [f"Chart: {title}. {span}."]

    latest = []
    m = _latest(ordered, "marketing_of_it")
    i = _latest(ordered, "it_of_marketing")
    if m is not None:
        latest.append(f"marketing rates IT {_score(m.marketing_of_it or 0.0)} of 5 ({_day(m.when)})")
    if i is not None:
        latest.append(f"IT rates marketing {_score(i.it_of_marketing or 0.0)} of 5 ({_day(i.when)})")
    if latest:
        parts.append("Latest shown: " + "; ".join(latest) + ".")
    else:
        parts.append("No scores are shown.")
    parts.append(_gap_sentence(ordered))

    avg_m = sum(p.marketing_answers for p in ordered) / n
    avg_i = sum(p.it_answers for p in ordered) / n
    last = ordered[-1]
    parts.append(
        f"Answers per pulse: marketing {avg_m:.1f} and IT {avg_i:.1f} on average; "
        f"latest {last.marketing_answers} and {last.it_answers}."
    )
    hidden = sum(1 for p in ordered if p.withheld)
    if hidden:
        parts.append(
            f"{hidden} of {n} pulses have a score hidden because too few people from a side answered."
        )
    else:
        parts.append("No points are hidden.")
    text = " ".join(parts)
    if len(text) > ALT_TEXT_LIMIT:
        text = text[: ALT_TEXT_LIMIT - 1] + "…"
    return text
