"""The pulse trend chart: a PNG of sensible size, withheld scores never drawn, and its alt text."""

from __future__ import annotations

import datetime as dt
import math
import struct

import pytest

from bot.charts import (
    ALT_TEXT_LIMIT,
    EMPTY_MESSAGE,
    IT_LABEL,
    MARKETING_LABEL,
    MAX_DATE_LABELS,
    TITLE_CHARS,
    TrendPoint,
    alt_text,
    build_figure,
    chart_title,
    hidden_note,
    render_trend_chart,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = dt.date(2026, 3, 2)


def weekly(n: int, *, hidden: tuple[int, ...] = ()) -> list[TrendPoint]:
    """`n` weekly pulses; at the indexes in `hidden`, IT had two answers so its score is withheld."""
    points = []
    for k in range(n):
        it_answers = 2 if k in hidden else 5
        points.append(
            TrendPoint(
                when=START + dt.timedelta(weeks=k),
                marketing_of_it=round(2.5 + k * 0.1, 2),
                it_of_marketing=None if k in hidden else 4.0,
                marketing_answers=6,
                it_answers=it_answers,
                withheld=k in hidden,
            )
        )
    return points


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def texts(fig) -> list[str]:  # type: ignore[no-untyped-def]
    """Every piece of text on the figure once drawn (titles, labels, legends, notes, tick labels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    FigureCanvasAgg(fig).draw()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def line_data(fig, label: str) -> list[float]:  # type: ignore[no-untyped-def]
    (line,) = [line for ax in fig.axes for line in ax.get_lines() if line.get_label() == label]
    return [float(y) for y in line.get_ydata()]


# --- The PNG ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 12, 60])
def test_renders_a_png_of_slack_preview_size(n: int) -> None:
    data = render_trend_chart(weekly(n, hidden=(0,)), title="Marketing & IT weekly", min_answers=3)
    width, height = png_size(data)
    assert 800 <= width <= 1000
    assert 450 <= height <= 700
    assert width > height
    assert 5_000 < len(data) < 500_000


def test_empty_data_renders_a_chart_that_says_so() -> None:
    data = render_trend_chart([], title="Marketing & IT weekly", min_answers=3)
    assert png_size(data)[0] >= 800
    shown = texts(build_figure([], title="Marketing & IT weekly", min_answers=3))
    assert EMPTY_MESSAGE in shown
    assert "Marketing & IT weekly" in shown


def test_the_chart_is_labelled() -> None:
    fig = build_figure(weekly(12), title="Marketing & IT weekly", min_answers=3)
    shown = texts(fig)
    for label in (
        "Marketing & IT weekly",
        "Score (1–5)",
        "Answers",
        "Pulse date, 2026",
        MARKETING_LABEL,
        IT_LABEL,
        "Gap",
    ):
        assert label in shown
    assert "Marketing" in shown and "IT" in shown  # the participation legend
    scores, answers = fig.axes
    assert scores.get_ylim()[0] <= 1 and scores.get_ylim()[1] >= 5
    assert all(t.get_fontsize() >= 10 for t in answers.get_xticklabels() + scores.get_yticklabels())


def test_dates_follow_the_pulses() -> None:
    fig = build_figure(weekly(4), title="t", min_answers=3)
    labels = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert labels == ["2 Mar", "9 Mar", "16 Mar", "23 Mar"]
    assert fig.axes[1].get_xlabel() == "Pulse date, 2026"


def test_many_pulses_label_every_other_date_up_to_the_latest() -> None:
    fig = build_figure(weekly(12), title="t", min_answers=3)
    labels = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    # 12 weekly pulses from 2 Mar: every second date, counting back from the latest (18 May).
    assert labels == ["9 Mar", "23 Mar", "6 Apr", "20 Apr", "4 May", "18 May"]
    assert len(labels) <= MAX_DATE_LABELS


def test_the_year_label_names_both_years_across_new_year() -> None:
    points = [
        TrendPoint(dt.date(2025, 12, 15) + dt.timedelta(weeks=k), 3.0, 3.5, 4, 4, False) for k in range(4)
    ]
    assert build_figure(points, title="t", min_answers=3).axes[1].get_xlabel() == "Pulse date, 2025–2026"


def test_a_long_name_is_cut_but_the_period_stays_whole() -> None:
    title = chart_title("Marketing and IT data partnership check-in for the EMEA region", "last 12 weeks")
    assert title.endswith("…: last 12 weeks") and len(title) <= TITLE_CHARS
    assert chart_title("Weekly sync", "last 12 weeks") == "Weekly sync: last 12 weeks"
    assert title in texts(build_figure(weekly(3), title=title, min_answers=3))  # drawn uncut


def test_points_arrive_in_any_order() -> None:
    points = weekly(5)
    fig = build_figure(list(reversed(points)), title="t", min_answers=3)
    assert line_data(fig, MARKETING_LABEL) == [p.marketing_of_it for p in points]


def test_titles_are_text_not_mathtext() -> None:
    title = "Budget $x^{ review $"  # an unbalanced mathtext expression would raise when drawn
    assert png_size(render_trend_chart(weekly(3), title=title, min_answers=3))[0] > 0
    assert title in texts(build_figure(weekly(3), title=title, min_answers=3))


# --- Withheld scores --------------------------------------------------------------------------


def test_a_withheld_score_is_not_drawn_and_the_chart_says_so() -> None:
    shown_all = build_figure(weekly(6), title="t", min_answers=3)
    one_hidden = build_figure(weekly(6, hidden=(2,)), title="t", min_answers=3)

    it_line = line_data(one_hidden, IT_LABEL)
    assert math.isnan(it_line[2])  # a gap in the line, not an interpolated or zero point
    assert not any(math.isnan(y) for i, y in enumerate(it_line) if i != 2)
    assert not any(math.isnan(y) for y in line_data(shown_all, IT_LABEL))

    note = hidden_note(3)
    assert note == "Hidden points: fewer than 3 answers from a side would identify people."
    assert note in texts(one_hidden)
    assert note not in texts(shown_all)


def test_the_gap_band_covers_only_pulses_with_both_scores() -> None:
    from matplotlib.collections import PolyCollection

    fig = build_figure(weekly(6, hidden=(2,)), title="t", min_answers=3)
    scores = fig.axes[0]
    (band,) = [c for c in scores.collections if isinstance(c, PolyCollection)]
    hidden_day = float(scores.get_lines()[0].get_xdata()[2])
    # One polygon before the withheld pulse and one after; none reaches into its date.
    for path in band.get_paths():
        xs = path.vertices[:, 0]
        assert not (xs.min() < hidden_day < xs.max())
        assert hidden_day not in xs
    assert len(band.get_paths()) == 2


def test_the_note_uses_the_workspace_threshold() -> None:
    points = weekly(4, hidden=(1,))
    assert hidden_note(5) in texts(build_figure(points, title="t", min_answers=5))
    assert "Needed to show a score (5)" in texts(build_figure(points, title="t", min_answers=5))


def test_no_scores_at_all_still_renders() -> None:
    points = [TrendPoint(START + dt.timedelta(weeks=k), None, None, 1, 2, withheld=True) for k in range(3)]
    assert png_size(render_trend_chart(points, title="t", min_answers=3))[0] > 0
    assert hidden_note(3) in texts(build_figure(points, title="t", min_answers=3))


def test_irregular_dates_fall_back_to_automatic_labels() -> None:
    days = [0, 7, 8, 14, 21]
    points = [TrendPoint(START + dt.timedelta(days=d), 3.0, 3.5, 4, 4, False) for d in days]
    assert png_size(render_trend_chart(points, title="t", min_answers=3))[0] > 0


# --- Alt text ---------------------------------------------------------------------------------


def test_alt_text_for_a_normal_history() -> None:
    points = [
        TrendPoint(START, 2.5, 4.0, 6, 5, False),
        TrendPoint(START + dt.timedelta(weeks=1), 3.0, 3.9, 7, 5, False),
        TrendPoint(START + dt.timedelta(weeks=2), 3.6, 3.8, 8, 4, False),
    ]
    text = alt_text(points, title="Marketing & IT weekly")
    assert text.startswith("Chart: Marketing & IT weekly. 3 pulses from 2 Mar 2026 to 16 Mar 2026.")
    assert "marketing rates IT 3.6 of 5 (16 Mar 2026)" in text
    assert "IT rates marketing 3.8 of 5 (16 Mar 2026)" in text
    assert "The gap is narrowing: 1.5 on 2 Mar 2026, 0.2 on 16 Mar 2026" in text
    assert "IT rates marketing 0.2 higher" in text
    assert "marketing 7.0 and IT 4.7 on average; latest 8 and 4" in text
    assert "No points are hidden." in text


@pytest.mark.parametrize(
    ("first", "last", "word"),
    [
        ((3.0, 3.2), (2.0, 3.5), "widening"),
        ((3.0, 3.5), (3.4, 3.95), "steady"),
        ((4.0, 2.0), (3.5, 3.0), "narrowing"),
    ],
)
def test_alt_text_gap_trend(first: tuple[float, float], last: tuple[float, float], word: str) -> None:
    points = [
        TrendPoint(START, *first, 5, 5, False),
        TrendPoint(START + dt.timedelta(weeks=1), None, None, 1, 1, True),
        TrendPoint(START + dt.timedelta(weeks=2), *last, 5, 5, False),
    ]
    assert f"The gap is {word}" in alt_text(points, title="t")


def test_alt_text_uses_the_latest_shown_values_and_counts_hidden_points() -> None:
    points = weekly(4, hidden=(3,))
    text = alt_text(points, title="t")
    assert "IT rates marketing 4.0 of 5 (16 Mar 2026)" in text  # the last pulse's IT score was withheld
    assert "marketing rates IT 2.8 of 5 (23 Mar 2026)" in text
    assert "1 of 4 pulses have a score hidden because too few people from a side answered." in text


def test_alt_text_without_data_or_gaps() -> None:
    assert alt_text([], title="Weekly") == "Chart: Weekly. No pulses in this period yet."
    lone = alt_text([TrendPoint(START, None, None, 2, 0, True)], title="Weekly")
    assert "1 pulse on 2 Mar 2026" in lone
    assert "No scores are shown." in lone
    assert "no gap to compare" in lone


def test_alt_text_stays_short() -> None:
    text = alt_text(weekly(60, hidden=(1, 2)), title="A ritual name " * 100)
    assert len(text) <= ALT_TEXT_LIMIT
    assert "60 pulses" in text


@pytest.mark.parametrize("n", [1, 8, 12, 52])
def test_every_text_fits_in_the_picture_and_the_note_clears_the_axis_label(n: int) -> None:
    """What is drawn must be readable at Slack's preview size, so nothing may run off the edge or
    sit on top of the axis label (the type is large for the picture on purpose)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    title = chart_title("Marketing and IT data partnership check-in for EMEA", "last 52 weeks")
    fig = build_figure(weekly(n, hidden=(0,)), title=title, min_answers=3)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    drawn = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    for text in drawn:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height, text.get_text()
    (note,) = [t for t in drawn if t.get_text() == hidden_note(3)]
    label = fig.axes[1].xaxis.label
    assert not note.get_window_extent(renderer).overlaps(label.get_window_extent(renderer))
