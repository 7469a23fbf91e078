"""Working hours: when a person may be sent a direct message.

Executives mute apps that ping them at 05:00. Every DM Tandem sends (reminders, nudges, alerts,
introductions, digests) is timed with this one module, in the recipient's own Slack timezone.
Pure domain code: no Slack, no database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# When a person's timezone is unknown (never fetched, or invalid), their day is UTC's.
FALLBACK_ZONE = "UTC"


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or FALLBACK_ZONE)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo(FALLBACK_ZONE)


@dataclass(frozen=True)
class WorkingHours:
    """A working day: ``start`` (inclusive) to ``end`` (exclusive), local time, on ``weekdays``
    (Monday is 0). The default, 09:00–18:00 Monday to Friday, is settable per workspace."""

    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(18, 0)
    weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("working hours must start before they end")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("working hours need at least one weekday (0 = Monday … 6 = Sunday)")

    def contains(self, at: dt.datetime, timezone: str | None) -> bool:
        """Whether the aware instant ``at`` falls inside working hours for someone in ``timezone``."""
        local = _require_aware(at).astimezone(_zone(timezone))
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end

    def next_start(self, at: dt.datetime, timezone: str | None) -> dt.datetime:
        """The first instant at or after ``at`` that is inside working hours (``at`` itself when it is).

        Returned in UTC. DST is handled by building each candidate start as a local wall time and
        converting it; a start that falls in a DST gap moves to the first existing minute after it.
        """
        at = _require_aware(at).astimezone(dt.UTC)
        if self.contains(at, timezone):
            return at
        zone = _zone(timezone)
        local = at.astimezone(zone)
        day = local.date()
        for offset in range(8):
            candidate_day = day + dt.timedelta(days=offset)
            if candidate_day.weekday() not in self.weekdays:
                continue
            start = _wall(candidate_day, self.start, zone)
            end = _wall(candidate_day, self.end, zone)
            if end <= at:
                continue
            return max(start, at)
        raise AssertionError("a week always holds a working day")  # pragma: no cover

    def deliver_at(
        self, at: dt.datetime, timezone: str | None, *, deadline: dt.datetime | None = None
    ) -> dt.datetime | None:
        """When a DM wanted at ``at`` may go out: ``at`` itself inside working hours, else the next
        working start; ``None`` when that would be at or after ``deadline`` (the message would be
        useless by then, like a reminder for a pulse that has closed)."""
        when = self.next_start(at, timezone)
        if deadline is not None and when >= _require_aware(deadline):
            return None
        return when


def _wall(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of the local wall time ``day time`` in ``zone``. A wall time skipped by a
    spring-forward change resolves (fold=0, the offset before the change) to the same distance past
    the gap, so a start inside a gap is moved later, never earlier."""
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC)


def _require_aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("working hours need an aware datetime")
    return value


DEFAULT = WorkingHours()
