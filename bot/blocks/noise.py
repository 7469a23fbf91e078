"""`/tandem hours`: the workspace's working hours (when Tandem's DMs may reach people), its words
and the parser of what an admin types."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from bot.blocks.text import escape

HOURS_EXAMPLE = "hours 09:00-18:00 mon-fri"
HOURS_PROBLEM = (
    "Give the hours as start-end and the days, e.g. `09:00-18:00 mon-fri` or `8-17 mon,tue,wed,thu`."
)
HOURS_NOT_ADMIN = "Only a workspace admin can change when Tandem sends direct messages."
HOURS_ADMIN_UNKNOWN = "Slack did not say in time whether you are a workspace admin. Please try again."

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_TIME = r"(\d{1,2})(?::(\d{2}))?"
_RANGE = re.compile(rf"^{_TIME}\s*[-–]\s*{_TIME}$")


def _time(hour: str, minute: str | None) -> dt.time | None:
    h, m = int(hour), int(minute or 0)
    if h == 24 and m == 0:
        return dt.time(23, 59)  # "until midnight"
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return dt.time(h, m)


def _days(text: str) -> frozenset[int] | None:
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if first[:3] not in _DAYS or (dash and last[:3] not in _DAYS):
            return None
        a = _DAYS.index(first[:3])
        b = _DAYS.index(last[:3]) if dash else a
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days) or None


def parse_hours(text: str) -> tuple[dt.time, dt.time, frozenset[int]] | None:
    """`09:00-18:00 mon-fri` → (start, end, weekdays with Monday 0); days default to Monday–Friday.
    None for anything else (an end not after its start too)."""
    parts = text.strip().split(None, 1)
    if not parts:
        return None
    found = _RANGE.match(parts[0])
    if found is None:
        return None
    start, end = _time(found[1], found[2]), _time(found[3], found[4])
    days = _days(parts[1]) if len(parts) > 1 else frozenset(range(5))
    if start is None or end is None or days is None or not start < end:
        return None
    return start, end, days


def _day_names(days: Iterable[int]) -> str:
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{_DAYS[ordered[0]].title()}–{_DAYS[ordered[-1]].title()}"
    return ", ".join(_DAYS[d].title() for d in ordered)


def hours_text(start: dt.time, end: dt.time, days: Iterable[int], *, changed: bool) -> str:
    what = f"{start:%H:%M}–{end:%H:%M}, {_day_names(days)}"
    if changed:
        return (
            f":clock9: Tandem now sends direct messages {what}, in each person's own Slack timezone. "
            "Messages wanted outside these hours wait until they start."
        )
    return (
        f":clock9: Tandem sends direct messages (reminders, nudges, alerts) {what}, in each person's own "
        f"Slack timezone, and holds them otherwise. An admin can change this: `/tandem {HOURS_EXAMPLE}`."
    )


# -- /tandem mentions ---------------------------------------------------------------------------------

MENTIONS_EXAMPLE = "mentions everyone Weekly sync"
MENTIONS_PROBLEM = "Say `everyone` or `leads`, then the ritual if the channel has several."


def parse_mentions(text: str) -> tuple[bool, str] | None:
    """`everyone|leads [ritual]`: whether every member is @-mentioned, and the ritual's name ("" for
    the channel's one); None when neither word starts it."""
    choice, _, name = " ".join(text.split()).partition(" ")
    if choice.lower() not in ("everyone", "leads"):
        return None
    return choice.lower() == "everyone", name


def mentions_text(everyone: bool, ritual_name: str) -> str:
    name = escape(ritual_name)
    if everyone:
        return f":loudspeaker: Each check-in of “{name}” now @-mentions every member."
    return (
        f":mute: Each check-in of “{name}” now @-mentions its two leads only; the other members "
        "see it in the channel without a notification."
    )
