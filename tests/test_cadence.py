"""Tests for db.cadence: controlled clock only (every "now" is passed in explicitly)."""

from __future__ import annotations

import calendar
import dataclasses
import pickle
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.cron import CronTrigger

from db.cadence import (
    MAX_OCCURRENCES,
    Cadence,
    CadenceKind,
    build_trigger,
    describe,
    next_occurrences,
    occurrences_between,
)

NY = "America/New_York"
BERLIN = "Europe/Berlin"
MON, TUE, THU, FRI, SAT, SUN = 0, 1, 3, 4, 5, 6

H = timedelta(hours=1)

# (timezone, transition Sunday, UTC offset before, UTC offset after)
TRANSITIONS = [
    pytest.param(NY, date(2026, 3, 8), -5 * H, -4 * H, id="new_york-spring"),
    pytest.param(NY, date(2026, 11, 1), -4 * H, -5 * H, id="new_york-autumn"),
    pytest.param(BERLIN, date(2026, 3, 29), 1 * H, 2 * H, id="berlin-spring"),
    pytest.param(BERLIN, date(2026, 10, 25), 2 * H, 1 * H, id="berlin-autumn"),
]


def at(tz: str, d: date, hh: int = 0, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), ZoneInfo(tz))


def utc(y: int, mo: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, mo, d, hh, mm, tzinfo=UTC)


def weekly(tz: str, weekday: int, hh: int, mm: int = 0) -> Cadence:
    return Cadence(CadenceKind.weekly, weekday, time(hh, mm), tz)


def monthly(tz: str, week_of_month: int, weekday: int, hh: int, mm: int = 0) -> Cadence:
    return Cadence(CadenceKind.monthly, weekday, time(hh, mm), tz, week_of_month=week_of_month)


def every(tz: str, n: int, weekday: int, hh: int, mm: int, anchor: date) -> Cadence:
    return Cadence(CadenceKind.every_n_weeks, weekday, time(hh, mm), tz, interval_weeks=n, anchor=anchor)


def on_day(c: Cadence, tz: str, d: date) -> list[datetime]:
    """Occurrences during the local calendar day ``d`` (local midnight to midnight)."""
    return occurrences_between(c, at(tz, d) - timedelta(microseconds=1), at(tz, d + timedelta(days=1)))


# --------------------------------------------------------------------------- 09:00 around transitions


@pytest.mark.parametrize(("tz", "sunday", "off_before", "off_after"), TRANSITIONS)
def test_nine_am_rituals_fire_once_a_week_at_nine_local_around_transition(tz, sunday, off_before, off_after):
    zone = ZoneInfo(tz)
    start = at(tz, sunday - timedelta(days=7))  # the Sunday before, 00:00 local (exclusive)
    end = at(tz, sunday + timedelta(days=14))  # two Sundays later, 00:00 local (inclusive)
    all_local = []
    for weekday in (SAT, SUN, MON):
        fires = occurrences_between(weekly(tz, weekday, 9), start, end)
        assert len(fires) == 3, fires
        assert all(f.utcoffset() == timedelta(0) for f in fires)
        local = [f.astimezone(zone) for f in fires]
        all_local += local
        for lt in local:
            assert (lt.hour, lt.minute, lt.second) == (9, 0, 0)
            assert lt.weekday() == weekday
            assert lt.utcoffset() == (off_before if lt.date() < sunday else off_after)
        # exactly once per week, 7 local days apart
        assert len({lt.isocalendar()[:2] for lt in local}) == 3
        assert [(b.date() - a.date()).days for a, b in pairwise(local)] == [7, 7]
        # the UTC spacing shows the offset change exactly once
        gaps = sorted(b - a for a, b in pairwise(fires))
        assert gaps == sorted([timedelta(days=7), timedelta(days=7) + (off_before - off_after)])
    # Saturday before, the transition Sunday and the Monday after: one each, all at 09:00
    days = Counter(lt.date() for lt in all_local)
    for d in (sunday - timedelta(days=1), sunday, sunday + timedelta(days=1)):
        assert days[d] == 1
    assert {lt.utcoffset() for lt in all_local} == {off_before, off_after}


@pytest.mark.parametrize(("tz", "sunday", "off_before", "off_after"), TRANSITIONS)
def test_nine_am_on_transition_day_by_scheduler_style_iteration(tz, sunday, off_before, off_after):
    """Iterate the trigger the way APScheduler does: get_next_fire_time(None, now), then (prev, now)."""
    zone = ZoneInfo(tz)
    trigger = build_trigger(weekly(tz, SUN, 9))
    now = at(tz, sunday - timedelta(days=1), 12)
    first = trigger.get_next_fire_time(None, now)
    assert first.astimezone(zone).date() == sunday
    assert first.astimezone(zone).hour == 9
    assert first.utcoffset() == off_after
    second = trigger.get_next_fire_time(first, first)
    assert second.astimezone(zone).date() == sunday + timedelta(days=7)
    assert second.astimezone(zone).hour == 9


# --------------------------------------------------------------------------- nonexistent / ambiguous


def test_new_york_nonexistent_0230_fires_once_at_first_instant_after_gap():
    c = weekly(NY, SUN, 2, 30)
    fires = on_day(c, NY, date(2026, 3, 8))
    assert fires == [utc(2026, 3, 8, 7, 0)]  # 03:00 EDT: the moment clocks jump from 02:00 to 03:00
    local = fires[0].astimezone(ZoneInfo(NY))
    assert (local.hour, local.minute, local.utcoffset()) == (3, 0, -4 * H)
    # the weeks around it are untouched
    assert next_occurrences(c, at(NY, date(2026, 2, 28)), 3) == [
        utc(2026, 3, 1, 7, 30),  # 02:30 EST
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT
        utc(2026, 3, 15, 6, 30),  # 02:30 EDT
    ]


def test_berlin_nonexistent_0230_fires_once_at_first_instant_after_gap():
    c = weekly(BERLIN, SUN, 2, 30)
    fires = on_day(c, BERLIN, date(2026, 3, 29))
    assert fires == [utc(2026, 3, 29, 1, 0)]  # 03:00 CEST
    assert next_occurrences(c, at(BERLIN, date(2026, 3, 21)), 3) == [
        utc(2026, 3, 22, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST
        utc(2026, 4, 5, 0, 30),  # 02:30 CEST
    ]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 3, 8, 6, 59), utc(2026, 3, 8, 7, 0)),  # 01:59 EST: the gap occurrence is next
        (utc(2026, 3, 8, 7, 0), utc(2026, 3, 15, 6, 30)),  # it has just fired: next week
        (utc(2026, 3, 8, 7, 15), utc(2026, 3, 15, 6, 30)),  # no second, late firing at 03:30 EDT
        (utc(2026, 3, 8, 7, 30), utc(2026, 3, 15, 6, 30)),
    ],
)
def test_nonexistent_time_is_never_duplicated(after, expected):
    assert next_occurrences(weekly(NY, SUN, 2, 30), after, 1) == [expected]


def test_new_york_ambiguous_0130_fires_once_first_occurrence():
    c = weekly(NY, SUN, 1, 30)
    fires = on_day(c, NY, date(2026, 11, 1))
    assert fires == [utc(2026, 11, 1, 5, 30)]  # 01:30 EDT, not again at 01:30 EST (06:30Z)
    assert next_occurrences(c, at(NY, date(2026, 10, 31)), 3) == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 8, 6, 30),
        utc(2026, 11, 15, 6, 30),
    ]


def test_berlin_ambiguous_0230_fires_once_first_occurrence():
    c = weekly(BERLIN, SUN, 2, 30)
    fires = on_day(c, BERLIN, date(2026, 10, 25))
    assert fires == [utc(2026, 10, 25, 0, 30)]  # 02:30 CEST, not again at 02:30 CET (01:30Z)
    assert next_occurrences(c, at(BERLIN, date(2026, 10, 24)), 2) == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 11, 1, 1, 30),
    ]


@pytest.mark.parametrize(
    ("tz", "hh", "mm", "first", "repeat"),
    [
        (NY, 1, 30, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)),
        (BERLIN, 2, 30, utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),
    ],
)
def test_ambiguous_time_not_refired_when_starting_inside_repeated_hour(tz, hh, mm, first, repeat):
    c = weekly(tz, SUN, hh, mm)
    # after the first instance, before the wall clock shows the time again: skip to next week
    between = first + timedelta(minutes=15)
    assert next_occurrences(c, between, 1) == [first + timedelta(days=7, hours=1)]
    trigger = build_trigger(c)
    nxt = trigger.get_next_fire_time(None, between)  # as the scheduler would on (re)start
    assert nxt.astimezone(UTC) == first + timedelta(days=7, hours=1)
    assert occurrences_between(c, first - timedelta(minutes=1), repeat + timedelta(minutes=1)) == [first]


@pytest.mark.parametrize(
    ("cadence", "tz", "day", "expected"),
    [
        # monthly: 2026-03-08 is the 2nd Sunday of March, 2026-03-29 the last Sunday
        (monthly(NY, 2, SUN, 2, 30), NY, date(2026, 3, 8), [utc(2026, 3, 8, 7, 0)]),
        (monthly(BERLIN, -1, SUN, 2, 30), BERLIN, date(2026, 3, 29), [utc(2026, 3, 29, 1, 0)]),
        (monthly(NY, 1, SUN, 1, 30), NY, date(2026, 11, 1), [utc(2026, 11, 1, 5, 30)]),
        (monthly(BERLIN, -1, SUN, 2, 30), BERLIN, date(2026, 10, 25), [utc(2026, 10, 25, 0, 30)]),
        # every 2 weeks, anchored so that the transition Sunday is an occurrence
        (every(NY, 2, SUN, 2, 30, date(2026, 2, 22)), NY, date(2026, 3, 8), [utc(2026, 3, 8, 7, 0)]),
        (every(BERLIN, 2, SUN, 2, 30, date(2026, 3, 15)), BERLIN, date(2026, 3, 29), [utc(2026, 3, 29, 1)]),
        (every(NY, 3, SUN, 1, 30, date(2026, 10, 11)), NY, date(2026, 11, 1), [utc(2026, 11, 1, 5, 30)]),
        (
            every(BERLIN, 2, SUN, 2, 30, date(2026, 10, 11)),
            BERLIN,
            date(2026, 10, 25),
            [utc(2026, 10, 25, 0, 30)],
        ),
    ],
)
def test_dst_policy_for_monthly_and_every_n_weeks(cadence, tz, day, expected):
    assert on_day(cadence, tz, day) == expected


# --------------------------------------------------------------------------- every N weeks


@pytest.mark.parametrize(
    ("tz", "anchor", "weekday", "offsets"),
    [
        (NY, date(2026, 2, 9), TUE, [-5, -5, -4, -4, -4]),  # first Tue 2026-02-10; DST from 03-08
        (BERLIN, date(2026, 9, 28), THU, [2, 2, 1, 1, 1]),  # first Thu 2026-10-01; CET from 10-25
    ],
)
def test_every_two_weeks_keeps_local_time_and_fourteen_day_spacing_across_transition(
    tz, anchor, weekday, offsets
):
    zone = ZoneInfo(tz)
    c = every(tz, 2, weekday, 9, 0, anchor)
    fires = next_occurrences(c, at(tz, anchor) - timedelta(days=30), 5)
    local = [f.astimezone(zone) for f in fires]
    assert local[0].date() == anchor + timedelta(days=(weekday - anchor.weekday()) % 7)
    assert all((lt.hour, lt.minute, lt.weekday()) == (9, 0, weekday) for lt in local)
    assert [(b.date() - a.date()).days for a, b in pairwise(local)] == [14] * 4
    assert [lt.utcoffset() for lt in local] == [o * H for o in offsets]


def test_every_n_weeks_first_occurrence_is_first_matching_weekday_on_or_after_anchor():
    on_anchor = every(NY, 3, THU, 16, 30, date(2026, 1, 1))  # 2026-01-01 is a Thursday
    assert on_anchor.first_date == date(2026, 1, 1)
    assert next_occurrences(on_anchor, utc(2025, 6, 1, 0), 1) == [utc(2026, 1, 1, 21, 30)]
    after_anchor = every(NY, 3, MON, 16, 30, date(2026, 1, 1))
    assert after_anchor.first_date == date(2026, 1, 5)


def test_every_n_weeks_stays_aligned_far_from_anchor_and_ignores_argument_timezone():
    # Monday 08:00 in Tokyo is Sunday 23:00 UTC: date arithmetic must use the ritual's zone.
    c = every("Asia/Tokyo", 4, MON, 8, 0, date(2026, 1, 5))
    tokyo = ZoneInfo("Asia/Tokyo")
    after_utc = utc(2029, 7, 1, 12)
    fires = next_occurrences(c, after_utc, 4)
    assert fires == next_occurrences(c, after_utc.astimezone(tokyo), 4)
    assert fires == next_occurrences(c, after_utc.astimezone(ZoneInfo(NY)), 4)
    for f in fires:
        lt = f.astimezone(tokyo)
        assert (lt.weekday(), lt.hour, lt.minute) == (MON, 8, 0)
        assert (lt.date() - date(2026, 1, 5)).days % 28 == 0


def test_every_n_weeks_trigger_honours_now_without_previous_fire_time():
    c = every(BERLIN, 2, TUE, 9, 0, date(2020, 1, 6))  # first occurrence 2020-01-07
    trigger = build_trigger(c)
    now = at(BERLIN, date(2026, 6, 1), 12)
    nxt = trigger.get_next_fire_time(None, now)
    assert nxt >= now
    assert nxt - now < timedelta(days=14)
    # an exact fire time counts as "now" for the scheduler, but is excluded by next_occurrences
    assert trigger.get_next_fire_time(None, nxt) == nxt
    assert next_occurrences(c, nxt, 1) == [(nxt + timedelta(days=14)).astimezone(UTC)]


# --------------------------------------------------------------------------- monthly


def test_monthly_first_tuesday_over_a_year():
    c = monthly("Asia/Tokyo", 1, TUE, 9)
    tokyo = ZoneInfo("Asia/Tokyo")
    fires = occurrences_between(c, at("Asia/Tokyo", date(2026, 1, 1)), at("Asia/Tokyo", date(2027, 1, 1)))
    local = [f.astimezone(tokyo) for f in fires]
    assert [lt.month for lt in local] == list(range(1, 13))
    assert all(lt.weekday() == TUE and lt.day <= 7 and (lt.hour, lt.minute) == (9, 0) for lt in local)
    assert local[0].date() == date(2026, 1, 6)
    assert local[8].date() == date(2026, 9, 1)


def test_monthly_last_friday_over_a_year():
    c = monthly("UTC", -1, FRI, 15)
    fires = occurrences_between(c, utc(2026, 1, 1, 0), utc(2027, 1, 1, 0))
    assert [f.month for f in fires] == list(range(1, 13))
    for f in fires:
        assert f.weekday() == FRI and (f.hour, f.minute) == (15, 0)
        assert f.day + 7 > calendar.monthrange(f.year, f.month)[1]
    assert fires[0] == utc(2026, 1, 30, 15)
    assert fires[4] == utc(2026, 5, 29, 15)


@pytest.mark.parametrize(("week", "expected_day"), [(1, 2), (2, 9), (3, 16), (4, 23), (-1, 30)])
def test_monthly_each_week_of_month(week, expected_day):
    # April 2026: Thursdays are the 2nd, 9th, 16th, 23rd and 30th
    c = monthly(BERLIN, week, THU, 16, 30)
    (fire,) = next_occurrences(c, at(BERLIN, date(2026, 4, 1)), 1)
    assert fire.astimezone(ZoneInfo(BERLIN)) == at(BERLIN, date(2026, 4, expected_day), 16, 30)


@pytest.mark.parametrize("week", [0, 5, -2, 6, "1", 1.0, None, True])
def test_week_of_month_validation(week):
    with pytest.raises(ValueError, match="first, second, third, fourth or last week"):
        Cadence(CadenceKind.monthly, TUE, time(9), BERLIN, week_of_month=week)


# --------------------------------------------------------------------------- occurrences_between


def test_occurrences_between_three_hour_downtime():
    c = weekly(BERLIN, TUE, 9)
    tue = date(2026, 6, 2)
    assert occurrences_between(c, at(BERLIN, tue, 8), at(BERLIN, tue, 11)) == [utc(2026, 6, 2, 7)]
    # start exclusive, end inclusive
    assert occurrences_between(c, at(BERLIN, tue, 9), at(BERLIN, tue, 12)) == []
    assert occurrences_between(c, at(BERLIN, tue, 6), at(BERLIN, tue, 9)) == [utc(2026, 6, 2, 7)]
    # a downtime on another day misses nothing
    assert (
        occurrences_between(c, at(BERLIN, tue + timedelta(days=1), 8), at(BERLIN, tue, 11) + timedelta(1))
        == []
    )


def test_occurrences_between_three_week_window():
    c = weekly(NY, THU, 16, 30)
    start = utc(2026, 10, 20, 0)
    fires = occurrences_between(c, start, start + timedelta(weeks=3))
    assert fires == [utc(2026, 10, 22, 20, 30), utc(2026, 10, 29, 20, 30), utc(2026, 11, 5, 21, 30)]
    assert all(f.tzinfo is UTC for f in fires)


def test_occurrences_between_empty_or_inverted_range():
    c = weekly(NY, THU, 16, 30)
    t = utc(2026, 10, 22, 20, 30)
    assert occurrences_between(c, t, t) == []
    assert occurrences_between(c, t + timedelta(days=30), t) == []


def test_occurrences_between_is_capped():
    c = weekly("UTC", MON, 9)
    start = utc(2000, 1, 1, 0)
    end = utc(2040, 1, 1, 0)  # ~2087 Mondays
    fires = occurrences_between(c, start, end)
    assert len(fires) == MAX_OCCURRENCES == 1000
    assert fires[0] == utc(2000, 1, 3, 9)  # the earliest ones are kept
    assert fires == sorted(set(fires))
    assert occurrences_between(c, start, end, limit=5) == fires[:5]


def test_naive_datetimes_are_rejected():
    c = weekly("UTC", MON, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_occurrences(c, datetime(2026, 1, 1), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrences_between(c, datetime(2026, 1, 1), utc(2026, 2, 1, 0))


def test_next_occurrences_count_and_strictness():
    c = weekly("UTC", MON, 9)
    assert next_occurrences(c, utc(2026, 1, 5, 9), 0) == []
    assert next_occurrences(c, utc(2026, 1, 5, 9), 2) == [utc(2026, 1, 12, 9), utc(2026, 1, 19, 9)]
    assert next_occurrences(c, utc(2026, 1, 5, 8, 59), 1) == [utc(2026, 1, 5, 9)]
    with pytest.raises(ValueError):
        next_occurrences(c, utc(2026, 1, 5, 9), -1)


# --------------------------------------------------------------------------- triggers


def test_build_trigger_types_and_pickling():
    weekly_c = weekly(BERLIN, TUE, 9)
    monthly_c = monthly(BERLIN, -1, FRI, 15)
    every_c = every(BERLIN, 2, THU, 16, 30, date(2026, 1, 1))
    wt, mt, et = build_trigger(weekly_c), build_trigger(monthly_c), build_trigger(every_c)
    assert isinstance(wt, CronTrigger) and isinstance(mt, CronTrigger)
    assert isinstance(et, CalendarIntervalTrigger)
    assert wt.timezone == ZoneInfo(BERLIN) == et.timezone
    assert "day_of_week='tue'" in str(wt)
    assert "day='last fri'" in str(mt)
    now = at(BERLIN, date(2026, 3, 1))
    for trig in (wt, mt, et):
        clone = pickle.loads(pickle.dumps(trig))
        assert type(clone) is type(trig)
        a, b = trig.get_next_fire_time(None, now), clone.get_next_fire_time(None, now)
        assert a == b
        assert trig.get_next_fire_time(a, a) == clone.get_next_fire_time(b, b)


# --------------------------------------------------------------------------- describe


@pytest.mark.parametrize(
    ("cadence", "text"),
    [
        (weekly(BERLIN, TUE, 9), "Every Tuesday at 09:00 (Europe/Berlin)"),
        (
            every(NY, 2, THU, 16, 30, date(2026, 1, 1)),
            "Every 2 weeks on Thursday at 16:30 (America/New_York)",
        ),
        (monthly("Asia/Tokyo", 1, TUE, 9), "Monthly on the first Tuesday at 09:00 (Asia/Tokyo)"),
        (monthly("UTC", -1, FRI, 15), "Monthly on the last Friday at 15:00 (UTC)"),
        (monthly("UTC", 3, SUN, 7, 5), "Monthly on the third Sunday at 07:05 (UTC)"),
    ],
)
def test_describe(cadence, text):
    assert describe(cadence) == text


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "“Mars/Olympus_Mons” isn't a timezone we recognise"),
        ({"timezone": "../../etc/passwd"}, "isn't a timezone we recognise"),
        ({"timezone": ""}, "Please pick a timezone"),
        ({"timezone": None}, "Please pick a timezone"),
        ({"weekday": 7}, "Please pick a day of the week"),
        ({"weekday": -1}, "Please pick a day of the week"),
        ({"weekday": True}, "Please pick a day of the week"),
        ({"weekday": "tue"}, "Please pick a day of the week"),
        ({"kind": "daily"}, "“daily” isn't a schedule we support"),
        ({"time_of_day": "09:00"}, "Please pick a time of day"),
        ({"time_of_day": time(9, 0, 30)}, "whole minute"),
        ({"time_of_day": time(9, tzinfo=UTC)}, "set the ritual's timezone separately"),
        ({"kind": CadenceKind.every_n_weeks, "interval_weeks": 1}, "every 2 to 8 weeks"),
        ({"kind": CadenceKind.every_n_weeks, "interval_weeks": 9}, "every 2 to 8 weeks"),
        ({"kind": CadenceKind.every_n_weeks, "interval_weeks": 2}, "Please pick a start date"),
        (
            {"kind": CadenceKind.every_n_weeks, "interval_weeks": 2, "anchor": datetime(2026, 1, 1)},
            "calendar date",
        ),
    ],
)
def test_validation_messages(kwargs, message):
    base = {"kind": CadenceKind.weekly, "weekday": TUE, "time_of_day": time(9), "timezone": BERLIN}
    with pytest.raises(ValueError, match=message):
        Cadence(**(base | kwargs))


def test_kind_strings_are_coerced_and_irrelevant_fields_normalised():
    c = Cadence("weekly", TUE, time(9), BERLIN, interval_weeks=5, week_of_month=-1, anchor=date(2026, 1, 1))
    assert c.kind is CadenceKind.weekly
    assert c == weekly(BERLIN, TUE, 9)
    m = Cadence("monthly", TUE, time(9), BERLIN, week_of_month=-1, interval_weeks=3)
    assert (m.interval_weeks, m.anchor, m.week_of_month) == (1, None, -1)
    e = every(BERLIN, 8, TUE, 9, 0, date(2026, 1, 1))
    assert (e.interval_weeks, e.week_of_month) == (8, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.weekday = 3  # type: ignore[misc]
