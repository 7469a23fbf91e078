"""The words around a report chart, an export and a drift alert (mrkdwn text, no blocks)."""

from __future__ import annotations

from bot.blocks.text import escape
from db.reports import Drift, PulsePoint, ReportSummary


def _gap_trend(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "The gap between the two sides could not be shown (too few answers from a side)."
    change = abs(last) - abs(first)
    if abs(change) < 0.1:
        return f"The gap between the two sides held steady at {abs(last):.1f}."
    direction = "narrowed" if change < 0 else "widened"
    return f"The gap between the two sides {direction} from {abs(first):.1f} to {abs(last):.1f}."


def report_summary(ritual_name: str, weeks: int, s: ReportSummary) -> str:
    lines = [f":bar_chart: *{escape(ritual_name)}: the last {weeks} weeks*"]
    if not s.pulses:
        lines.append("No pulse closed in this period yet, so there is nothing to chart.")
    else:
        lines.append(f"{s.pulses} pulse{'s' if s.pulses != 1 else ''}. {_gap_trend(s.gap_first, s.gap_last)}")
        if s.best:
            lines.append(f"Best: {s.best[0]} ({s.best[1]:.1f}/5 on average).")
        if s.worst:
            lines.append(f"Needs the most attention: {s.worst[0]} ({s.worst[1]:.1f}/5 on average).")
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
        "people), then the shared wins, then the commitments with their outcome.",
    ]
    if anonymous_only:
        parts.append("No row names who answered a pulse: the anonymous ones were never stored by person.")
    if with_answers:
        parts.append(
            "`tandem-answers.csv` lists who answered what in the pulses that were not anonymous "
            "(you get it because you are a member of this ritual)."
        )
    return "\n".join(parts)


def drift_alert(ritual_name: str, drift: Drift, last: PulsePoint, focus: str | None) -> str:
    values = " → ".join(f"{v:.1f}" for v in drift.values)
    what = (
        f"the partnership score fell in each of the last two pulses ({values})"
        if drift.kind == "falling"
        else f"the gap between marketing and IT widened in each of the last two pulses ({values})"
    )
    lines = [f":warning: *{escape(ritual_name)}*: {what}."]
    mkt, it = last.partner_view()
    lines.append(f"Latest pulse: marketing's view of IT {mkt}, IT's view of marketing {it}.")
    if focus:
        lines.append(f"Suggested focus for the next check-in: {escape(focus)}.")
    lines.append("The chart shows the trend. Turn these alerts off with `/tandem alerts off`.")
    return "\n".join(lines)
