"""The click path's background parts: the debounced count refresh, and clicks taking turns on SQLite."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher
from sqlalchemy import func, select

from bot import ids
from bot.app import PayloadMatcher
from db.models import PulseBallot, PulseQuestion
from jobs import pulses as pulse_jobs
from jobs.pulses import CountRefresher
from tests.conftest import RunningApp
from tests.test_pulses import AWAKE_AT_REMINDER, IT, MARKETING, start_pulse
from tests.world import World


class _CountingCondition(threading.Condition):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notified = 0

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        super().notify(n)


def test_clicks_during_the_refresh_interval_do_not_wake_the_count_refresher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pulse_jobs.threading, "Condition", _CountingCondition)
    refreshed: list[int] = []
    first_round = threading.Event()

    def refresh(pulse_id: int) -> None:
        refreshed.append(pulse_id)
        first_round.set()

    refresher = CountRefresher(refresh, interval=600)
    cond = refresher._cond
    assert isinstance(cond, _CountingCondition)
    try:
        refresher.mark(1)
        assert first_round.wait(10)
        # The refresher now waits out its interval: 200 more clicks on two pulses wake it once (when
        # there was nothing to do), not 200 times.
        for _ in range(100):
            refresher.mark(1)
            refresher.mark(2)
        assert cond.notified == 2
        assert refreshed == [1]
    finally:
        refresher.stop()
    # Stopping still refreshes what the clicks marked, in one round.
    assert refreshed[0] == 1 and sorted(refreshed[1:]) == [1, 2]


def test_a_click_waits_for_the_group_commit_in_progress_then_is_stored_and_answered(
    running_app: RunningApp,
) -> None:
    # Clicks arriving together share a transaction (Database.together): one waits for the group
    # being committed, in the queue rather than in SQLite's busy handler, and is stored after it.
    people = World(running_app.services.database, running_app.clock)
    for user in MARKETING + IT:
        people.person(user, timezone=AWAKE_AT_REMINDER)
    world = start_pulse(running_app)
    database = running_app.services.database
    release, running = threading.Event(), threading.Event()

    def hold(session: object) -> None:
        running.set()
        release.wait(10)

    holder = threading.Thread(target=database.together, args=(hold,))
    holder.start()
    assert running.wait(10)
    try:
        assert world.click("U_M1", PulseQuestion.PARTNER, 4).status_code == 200  # acked at once
        deadline = time.monotonic() + 10
        while not database._group.waiting:
            assert time.monotonic() < deadline, "the click never asked to be committed"
            time.sleep(0.005)
        assert _ballots(running_app) == 0
        assert running_app.fake.responses() == []
    finally:
        release.set()
        holder.join(10)
    running_app.drain()
    assert _ballots(running_app) == 1
    (reply,) = running_app.fake.responses()
    assert "4" in reply["text"]


def _ballots(app: RunningApp) -> int:
    with app.services.database.read() as session:
        return session.scalar(select(func.count()).select_from(PulseBallot)) or 0


def test_tandems_listeners_are_matched_on_the_payload_without_building_every_argument(
    running_app: RunningApp,
) -> None:
    app = running_app.runtime.app
    assert app is not None
    matchers = [m for listener in app._listeners for m in listener.matchers]
    assert not [m for m in matchers if type(m) is BuiltinListenerMatcher and m.arg_names == ["body"]]
    assert sum(isinstance(m, PayloadMatcher) for m in matchers) >= 20
    # The last action registered is still found (the help message's "Got it" comes after many).
    assert running_app.slack.block_action(ids.ACTION_HELP_DISMISS, value="dismiss").status_code == 200
    running_app.drain()
    assert [r["delete_original"] for r in running_app.fake.responses()] == [True]
