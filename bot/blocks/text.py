"""Text helpers shared by the builders."""

from __future__ import annotations

import datetime as dt


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain_date(day: dt.date) -> str:
    """The one written date format, e.g. "Tue 5 Jan 2027": for days (due dates, check-in days) and
    wherever a Slack date token (`bot.blocks.rituals.slack_date`, each reader's own locale and
    timezone) cannot be used, such as fallback text, headers and files."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def plain_time(when: dt.datetime) -> str:
    """An instant in its own timezone, e.g. "Tue 5 Jan 2027, 09:00 CET"."""
    return f"{plain_date(when)}, {when:%H:%M} {when.tzname() or ''}".rstrip()
