"""Ritual cadences: validation, APScheduler triggers, occurrence maths and descriptions.

This module is pure: it depends on APScheduler and :mod:`zoneinfo` only (nothing from Slack
or the database), so the scheduler, the "next check-in" line in the UI and the catch-up logic
all compute fire times the same way -- by iterating the trigger returned by
:func:`build_trigger` with ``get_next_fire_time(previous_fire_time, now)``.

Cadences
--------
* ``weekly``        -- every week on a weekday at a local time of day;
* ``every_n_weeks`` -- every N weeks (2..8) on a weekday; the first occurrence is the first
  matching weekday on/after the ``anchor`` date, then every N weeks after that;
* ``monthly``       -- on the 1st/2nd/3rd/4th/last given weekday of every month.

Times are wall-clock times in the ritual's own IANA timezone.

DST policy
----------
* A time that exists exactly once (e.g. 09:00 almost everywhere) always fires at that local
  time, exactly once per occurrence, including on the days around both DST transitions; only
  the UTC offset changes.
* A local time that does not exist (it falls in the spring-forward gap, e.g. 02:30 in New York
  on 2026-03-08) fires exactly once that day, at the first valid instant after the gap
  (03:00 EDT in that example, i.e. the moment of the transition).
* An ambiguous local time (it occurs twice on fall-back day, e.g. 01:30 in New York on
  2026-11-01) fires exactly once, at the first (daylight-time) occurrence.

What APScheduler 3.11 does on its own, and why this module wraps it
------------------------------------------------------------------
* ``CronTrigger`` at a nonexistent time returns an "imaginary" aware datetime with the
  requested wall time and ``fold=0`` (e.g. ``2026-03-08 02:30-05:00``), i.e. the instant
  07:30Z = 03:30 EDT -- once, but not at the first instant after the gap.
* ``CronTrigger`` at an ambiguous time fires TWICE: at ``01:30 fold=0`` (EDT) and again at
  ``01:30 fold=1`` (EST) one hour later.
* ``CalendarIntervalTrigger`` (``weeks=N``) picks the earlier instant for ambiguous times
  (good) but silently SKIPS an occurrence whose time is nonexistent (it jumps a whole
  interval).  It also ignores ``now`` when there is no previous fire time (it returns the
  start date even if that is years in the past) and does its date arithmetic on whatever
  timezone the ``previous_fire_time`` happens to carry.

:class:`DstSafeCronTrigger` (a ``CronTrigger`` subclass) and :class:`EveryNWeeksTrigger`
(a ``CalendarIntervalTrigger`` subclass) implement the policy above.  Both are picklable
module-level classes, so they can be stored in APScheduler's persistent job stores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.cron import CronTrigger

__all__ = [
    "MAX_OCCURRENCES",
    "Cadence",
    "CadenceKind",
    "DstSafeCronTrigger",
    "EveryNWeeksTrigger",
    "build_trigger",
    "describe",
    "next_occurrences",
    "occurrences_between",
]

UTC = dt.UTC

#: Upper bound on the number of occurrences :func:`occurrences_between` returns.
MAX_OCCURRENCES = 1000

MIN_INTERVAL_WEEKS = 2
MAX_INTERVAL_WEEKS = 8
LAST_WEEK = -1

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CRON_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_POSITIONS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", LAST_WEEK: "last"}
_ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", LAST_WEEK: "last"}


class CadenceKind(StrEnum):
    weekly = "weekly"
    every_n_weeks = "every_n_weeks"
    monthly = "monthly"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Cadence:
    """When a ritual recurs.  Invalid values raise ``ValueError`` with a user-facing message.

    Fields that do not apply to ``kind`` are normalised to their defaults (``interval_weeks=1``
    and ``anchor=None`` unless every_n_weeks; ``week_of_month=1`` unless monthly) so that equal
    schedules compare equal.
    """

    kind: CadenceKind
    weekday: int  # 0 = Monday .. 6 = Sunday
    time_of_day: dt.time
    timezone: str  # IANA name, e.g. "Europe/Berlin"
    interval_weeks: int = 1  # every_n_weeks only: 2..8
    week_of_month: int = 1  # monthly only: 1..4, or -1 for the last one
    anchor: dt.date | None = None  # every_n_weeks only: the first occurrence is on/after this date

    def __post_init__(self) -> None:
        try:
            kind = CadenceKind(self.kind)
        except ValueError:
            raise ValueError(
                f"“{self.kind}” isn't a schedule we support. Choose weekly, every few weeks, or monthly."
            ) from None
        object.__setattr__(self, "kind", kind)

        if not _is_int(self.weekday) or not 0 <= self.weekday <= 6:
            raise ValueError("Please pick a day of the week (Monday to Sunday).")

        t = self.time_of_day
        if not isinstance(t, dt.time):
            raise ValueError("Please pick a time of day for the check-in.")
        if t.tzinfo is not None:
            raise ValueError(
                "The check-in time should be a plain time of day; set the ritual's timezone separately."
            )
        if t.second or t.microsecond:
            raise ValueError("Check-in times must be on a whole minute (for example 09:00 or 16:30).")

        _zone(self.timezone)  # raises a user-facing ValueError when unknown

        if kind is CadenceKind.every_n_weeks:
            n = self.interval_weeks
            if not _is_int(n) or not MIN_INTERVAL_WEEKS <= n <= MAX_INTERVAL_WEEKS:
                raise ValueError(
                    f"A ritual can repeat every {MIN_INTERVAL_WEEKS} to {MAX_INTERVAL_WEEKS} weeks; "
                    "for every week choose “weekly”."
                )
            if self.anchor is None:
                raise ValueError("Please pick a start date for a ritual that repeats every few weeks.")
            if isinstance(self.anchor, dt.datetime) or not isinstance(self.anchor, dt.date):
                raise ValueError("The start date should be a calendar date (for example 2026-03-02).")
        else:
            object.__setattr__(self, "interval_weeks", 1)
            object.__setattr__(self, "anchor", None)

        if kind is CadenceKind.monthly:
            w = self.week_of_month
            if not _is_int(w) or w not in _ORDINAL_WORDS:
                raise ValueError(
                    "For a monthly ritual, pick the first, second, third, fourth or last week of the month."
                )
        else:
            object.__setattr__(self, "week_of_month", 1)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    @property
    def first_date(self) -> dt.date | None:
        """every_n_weeks: the date of the first occurrence (first matching weekday on/after anchor)."""
        if self.anchor is None:
            return None
        return self.anchor + dt.timedelta(days=(self.weekday - self.anchor.weekday()) % 7)


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("Please pick a timezone for the ritual (for example Europe/Berlin).")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"“{name}” isn't a timezone we recognise. Please pick one from the list "
            "(for example Europe/Berlin or America/New_York)."
        ) from None


# --------------------------------------------------------------------------- DST helpers


def _exists(aware: dt.datetime) -> bool:
    """True if the wall time of ``aware`` actually occurs in its timezone (not in a DST gap)."""
    return aware.astimezone(UTC).astimezone(aware.tzinfo).replace(tzinfo=None, fold=0) == aware.replace(
        tzinfo=None, fold=0
    )


def _is_ambiguous(aware: dt.datetime) -> bool:
    return _exists(aware) and aware.replace(fold=0).utcoffset() != aware.replace(fold=1).utcoffset()


def _resolve_wall(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Turn a naive local wall time into an aware datetime following the DST policy.

    Ambiguous -> the first (earlier) instant; nonexistent -> the first valid instant after the gap
    (the transition itself).  The result carries ``tz``.
    """
    early = wall.replace(tzinfo=tz, fold=0)
    if _exists(early):
        return early
    # In a gap: fold=0 uses the pre-transition offset, fold=1 the post-transition one; the
    # transition instant T lies in (lo, hi].  Binary-search it to the second.
    a = early.timestamp()
    b = wall.replace(tzinfo=tz, fold=1).timestamp()
    lo, hi = int(min(a, b)), int(max(a, b)) + 1
    off_before = dt.datetime.fromtimestamp(lo, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if dt.datetime.fromtimestamp(mid, tz).utcoffset() == off_before:
            lo = mid
        else:
            hi = mid
    return dt.datetime.fromtimestamp(hi, tz)


# --------------------------------------------------------------------------- triggers


class DstSafeCronTrigger(CronTrigger):
    """``CronTrigger`` that applies the module's DST policy.

    * the second (``fold=1``) instance of an ambiguous wall time is skipped, so the job fires
      once, at the first instance;
    * an "imaginary" wall time inside a spring-forward gap is moved to the first valid instant
      after the gap.
    """

    __slots__ = ()

    def get_next_fire_time(self, previous_fire_time, now):
        candidate = super().get_next_fire_time(previous_fire_time, now)
        for _ in range(16):  # each retry moves past one DST artefact; 16 is far more than needed
            if candidate is None:
                return None
            if candidate.fold and _is_ambiguous(candidate):
                pass  # the fold=0 instance already was (or would have been) the occurrence
            else:
                resolved = _resolve_wall(candidate.replace(tzinfo=None, fold=0), self.timezone)
                if previous_fire_time is None or resolved > previous_fire_time:
                    return resolved
            candidate = super().get_next_fire_time(candidate, candidate)
        return None  # pragma: no cover - defensive


class EveryNWeeksTrigger(CalendarIntervalTrigger):
    """Fires every ``weeks`` weeks at a fixed local time, from ``start_date`` (an occurrence date).

    Keeps ``CalendarIntervalTrigger``'s constructor and pickled state, but replaces its fire-time
    calculation: nonexistent local times fire at the first instant after the gap (upstream skips
    the occurrence), ambiguous ones at the first instance, ``now`` is honoured when there is no
    previous fire time, and the calculation is independent of the timezone of the arguments.
    """

    __slots__ = ()

    def _fire_time(self, day: dt.date) -> dt.datetime:
        return _resolve_wall(dt.datetime.combine(day, self._time.replace(tzinfo=None)), self.timezone)

    def get_next_fire_time(self, previous_fire_time, now):
        step = 7 * self.weeks + self.days
        if previous_fire_time is not None:
            ref, strict = previous_fire_time, True
        else:
            ref, strict = now, False
        ref_date = ref.astimezone(self.timezone).date()
        k = max(0, (ref_date - self.start_date).days // step - 1)
        while True:
            day = self.start_date + dt.timedelta(days=k * step)
            if self.end_date and day > self.end_date:
                return None
            fire = self._fire_time(day)
            if fire > ref or (not strict and fire == ref):
                return self._apply_jitter(fire, self.jitter, now)
            k += 1


def build_trigger(c: Cadence) -> BaseTrigger:
    """The APScheduler trigger for ``c`` (all times computed in ``ZoneInfo(c.timezone)``)."""
    tz = ZoneInfo(c.timezone)
    hour, minute = c.time_of_day.hour, c.time_of_day.minute
    if c.kind is CadenceKind.weekly:
        return DstSafeCronTrigger(
            day_of_week=_CRON_WEEKDAYS[c.weekday], hour=hour, minute=minute, timezone=tz
        )
    if c.kind is CadenceKind.monthly:
        day = f"{_CRON_POSITIONS[c.week_of_month]} {_CRON_WEEKDAYS[c.weekday]}"
        return DstSafeCronTrigger(day=day, hour=hour, minute=minute, timezone=tz)
    assert c.first_date is not None
    return EveryNWeeksTrigger(
        weeks=c.interval_weeks, hour=hour, minute=minute, start_date=c.first_date, timezone=tz
    )


# --------------------------------------------------------------------------- occurrences


def _require_aware(value: dt.datetime, name: str) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _iter_after(trigger: BaseTrigger, after: dt.datetime):
    """Fire times strictly after ``after``, iterated the way the scheduler does."""
    t = trigger.get_next_fire_time(None, after)
    if t is not None and t <= after:
        t = trigger.get_next_fire_time(t, after)
    while t is not None:
        yield t
        nxt = trigger.get_next_fire_time(t, t)
        if nxt is not None and nxt <= t:  # pragma: no cover - would be a trigger bug
            raise RuntimeError(f"trigger {trigger!r} did not advance past {t.isoformat()}")
        t = nxt


def next_occurrences(c: Cadence, after: dt.datetime, count: int) -> list[dt.datetime]:
    """The next ``count`` fire times strictly after the aware datetime ``after``, in UTC."""
    _require_aware(after, "after")
    if count < 0:
        raise ValueError("count must not be negative")
    out: list[dt.datetime] = []
    if count == 0:
        return out
    for t in _iter_after(build_trigger(c), after):
        out.append(t.astimezone(UTC))
        if len(out) >= count:
            break
    return out


def occurrences_between(
    c: Cadence, start: dt.datetime, end: dt.datetime, *, limit: int = MAX_OCCURRENCES
) -> list[dt.datetime]:
    """Fire times in ``(start, end]`` in UTC -- e.g. occurrences missed during downtime.

    At most ``limit`` (default :data:`MAX_OCCURRENCES`) are returned: the earliest ones.  An empty
    or inverted range returns ``[]``.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    out: list[dt.datetime] = []
    if end <= start or limit <= 0:
        return out
    for t in _iter_after(build_trigger(c), start):
        if t > end:
            break
        out.append(t.astimezone(UTC))
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- descriptions


def describe(c: Cadence) -> str:
    """Plain English, e.g. "Every 2 weeks on Thursday at 16:30 (America/New_York)"."""
    day = WEEKDAY_NAMES[c.weekday]
    at = f"at {c.time_of_day:%H:%M} ({c.timezone})"
    if c.kind is CadenceKind.weekly:
        return f"Every {day} {at}"
    if c.kind is CadenceKind.every_n_weeks:
        return f"Every {c.interval_weeks} weeks on {day} {at}"
    return f"Monthly on the {_ORDINAL_WORDS[c.week_of_month]} {day} {at}"
