"""A modal submission seen twice (Slack's retry, a double click, a replay of the signed request within
its five minutes: the same view id and hash) creates one win, one commitment, one ritual."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import ids
from db.models import Commitment, Ritual, Win
from tests.conftest import RunningApp
from tests.modal_values import commit_values, win_values
from tests.ritual_helpers import setup_values
from tests.slack_requests import BuiltRequest


@pytest.fixture
def app(running_app: RunningApp) -> RunningApp:
    fake = running_app.fake
    for user in ("U_MKT1", "U_IT1"):
        fake.add_user(user, tz="Europe/Berlin")
    fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    return running_app


def win(app: RunningApp, **view: Any) -> BuiltRequest:
    return app.slack.build_view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_MKT1", **view)


def commitment(app: RunningApp, **view: Any) -> BuiltRequest:
    due = app.clock.now().date() + dt.timedelta(days=7)
    return app.slack.build_view_submission(
        ids.VIEW_COMMIT, values=commit_values(due=due), user_id="U_MKT1", **view
    )


def ritual(app: RunningApp, **view: Any) -> BuiltRequest:
    return app.slack.build_view_submission(ids.VIEW_SETUP, values=setup_values(), user_id="U_MKT1", **view)


# What one submission creates, and the words of the messages it sends: a celebration in the channel,
# a confirmation DM to each owner of a commitment outside any ritual, the new ritual's announcement.
KINDS: list[tuple[Callable[..., BuiltRequest], type[Any], str, int]] = [
    (win, Win, "<@U_MKT1>", 1),
    (commitment, Commitment, "Agree the tracking plan", 2),
    (ritual, Ritual, "Weekly sync", 1),
]


def count(app: RunningApp, model: type[Any]) -> int:
    with app.services.database.begin() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def messages_about(app: RunningApp, words: str) -> int:
    """Messages Tandem sent (in channels or by DM, seen by all or one) that mention `words`."""
    return sum(
        1
        for c in app.fake.calls()
        if c.method in ("chat.postMessage", "chat.postEphemeral", "response_url")
        and words in str(c.params.get("text", "")) + str(c.params.get("blocks"))
    )


@pytest.mark.parametrize(("build", "model", "words", "messages"), KINDS, ids=["win", "commitment", "ritual"])
def test_the_same_signed_submission_sent_twice_creates_one(
    app: RunningApp, build: Callable[..., BuiltRequest], model: type[Any], words: str, messages: int
) -> None:
    request = build(app)  # one signed request, sent twice: a replay within the signature window
    for _ in range(2):
        response = app.slack.send(request)
        assert response.status_code == 200 and not response.text  # both close the modal
    app.settle()
    assert count(app, model) == 1
    assert messages_about(app, words) == messages  # as many as one submission sends


@pytest.mark.parametrize("listener_threads", [4])
@pytest.mark.parametrize(("build", "model", "words", "messages"), KINDS, ids=["win", "commitment", "ritual"])
def test_a_double_click_creates_one(
    app: RunningApp, build: Callable[..., BuiltRequest], model: type[Any], words: str, messages: int
) -> None:
    # Two requests at once, each signed on its own (a double click, or Slack retrying a slow one).
    requests = [build(app, view_id="V_TWICE", hash="1700000000.abc") for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(app.slack.send, requests))
    assert [r.status_code for r in responses] == [200, 200]
    # With four listener threads `settle` cannot wait for all of them: wait for what one sends.
    app.fake.wait_for(None, lambda c: words in str(c.params.get("text", "")), count=messages, timeout=10)
    app.settle()
    assert count(app, model) == 1
    assert messages_about(app, words) == messages


def test_a_new_submission_of_the_same_form_is_a_new_object(app: RunningApp) -> None:
    # Opening the modal again gives a new view: a second win with the same words is a second win.
    for _ in range(2):
        assert app.slack.send(win(app)).status_code == 200
    app.settle()
    assert count(app, Win) == 2


def test_a_submission_refused_then_corrected_is_saved(app: RunningApp) -> None:
    # The same view (same id and hash) sent again after Tandem showed an error: it was not acted on.
    view = {"view_id": "V_FIX", "hash": "1700000000.fix"}
    refused = app.slack.view_submission(
        ids.VIEW_WIN, values=win_values(it=()), user_id="U_MKT1", **view
    ).json()
    assert refused["response_action"] == "errors"
    assert app.slack.send(win(app, **view)).status_code == 200
    app.settle()
    assert count(app, Win) == 1
