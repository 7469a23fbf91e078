"""Working hours in the recipient's timezone: the one rule every DM is timed by."""

from __future__ import annotations

import datetime as dt

import pytest

from db.working_hours import DEFAULT, WorkingHours

LA = "America/Los_Angeles"
BERLIN = "Europe/Berlin"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_inside_hours_is_now() -> None:
    # Tue 5 Jan 2027 10:00 in Berlin is 09:00 UTC.
    at = utc(2027, 1, 5, 9, 0)
    assert DEFAULT.contains(at, BERLIN)
    assert DEFAULT.next_start(at, BERLIN) == at


def test_before_hours_waits_for_nine_local() -> None:
    at = utc(2027, 1, 5, 5, 0)  # 06:00 Berlin, 21:00 the day before in Los Angeles
    assert DEFAULT.next_start(at, BERLIN) == utc(2027, 1, 5, 8, 0)  # 09:00 CET
    assert DEFAULT.next_start(at, LA) == utc(2027, 1, 5, 17, 0)  # Tue 09:00 PST


def test_friday_evening_waits_for_monday() -> None:
    at = utc(2027, 1, 8, 18, 30)  # Fri 19:30 Berlin
    assert DEFAULT.next_start(at, BERLIN) == utc(2027, 1, 11, 8, 0)


def test_end_is_exclusive_and_unknown_zone_is_utc() -> None:
    assert not DEFAULT.contains(utc(2027, 1, 5, 18, 0), "UTC")
    assert DEFAULT.contains(utc(2027, 1, 5, 17, 59), "Not/AZone")
    assert DEFAULT.next_start(utc(2027, 1, 5, 18, 0), None) == utc(2027, 1, 6, 9, 0)


def test_dst_change_keeps_nine_local() -> None:
    # Berlin moves to CEST on Sun 28 Mar 2027: Monday's 09:00 is 07:00 UTC.
    assert DEFAULT.next_start(utc(2027, 3, 27, 12, 0), BERLIN) == utc(2027, 3, 29, 7, 0)


def test_start_in_a_dst_gap_moves_later() -> None:
    hours = WorkingHours(start=dt.time(2, 30), end=dt.time(10), weekdays=frozenset({6}))
    # Sun 14 Mar 2027: 02:30 does not exist in Los Angeles; the start becomes 03:30 PDT.
    start = hours.next_start(utc(2027, 3, 14, 8, 0), LA)
    assert start == utc(2027, 3, 14, 10, 30)
    assert hours.contains(start, LA)


def test_deadline_skips_what_cannot_arrive_in_time() -> None:
    at = utc(2027, 1, 5, 4, 0)  # 05:00 Berlin, a pulse closing at 08:00 Berlin
    assert DEFAULT.deliver_at(at, BERLIN, deadline=utc(2027, 1, 5, 7, 0)) is None
    assert DEFAULT.deliver_at(at, BERLIN, deadline=utc(2027, 1, 5, 12, 0)) == utc(2027, 1, 5, 8, 0)


def test_custom_hours_and_validation() -> None:
    hours = WorkingHours(start=dt.time(8), end=dt.time(16), weekdays=frozenset({0, 1, 2, 3, 6}))
    assert hours.next_start(utc(2027, 1, 8, 12, 0), "UTC") == utc(2027, 1, 10, 8, 0)  # Fri off, Sun on
    with pytest.raises(ValueError):
        WorkingHours(start=dt.time(18), end=dt.time(9))
    with pytest.raises(ValueError):
        WorkingHours(weekdays=frozenset())
    with pytest.raises(ValueError):
        DEFAULT.contains(dt.datetime(2027, 1, 5, 9), BERLIN)
