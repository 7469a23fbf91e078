"""Workflow Builder custom steps, driven by signed `function_executed` events into the running app.

Each step must end in `functions.completeSuccess` (with its outputs) or `functions.completeError`
(with a sentence for whoever runs the workflow), on the fake Web API, and do what the slash command
or modal does.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from bot import ids
from tests.conftest import RunningApp
from tests.fake_slack import Call
from tests.world import CHANNEL, World

STEP_TOKEN = "xwfp-step-token-123"
_runs = itertools.count(1)


@pytest.fixture
def world(running_app: RunningApp) -> RunningApp:
    fake = running_app.fake
    fake.add_channel(CHANNEL, name="mkt-it", is_member=True)
    for user in ("U_M1", "U_M2", "U_I1", "U_OUT"):
        fake.add_user(user, tz="Europe/Berlin")
    World(running_app.services.database, running_app.clock).ritual(
        marketing=("U_M1", "U_M2"), it=("U_I1",), pulse_enabled=False
    )
    return running_app


def run_step(app: RunningApp, callback_id: str, inputs: dict[str, Any]) -> tuple[str, Call]:
    """Send one signed `function_executed` event, as Slack does when a workflow reaches the step;
    the execution id and the call that finished the step."""
    execution = f"Fx{next(_runs):08d}"
    event = {
        "type": "function_executed",
        "function": {
            "id": "Fn0001",
            "callback_id": callback_id,
            "title": callback_id,
            "description": "",
            "type": "app",
            "input_parameters": [],
            "output_parameters": [],
            "app_id": "A0001",
            "date_created": 1700000000,
            "date_updated": 1700000000,
            "date_deleted": 0,
        },
        "inputs": inputs,
        "function_execution_id": execution,
        "workflow_execution_id": "Wx0001",
        "event_ts": "1700000000.000100",
        "bot_access_token": STEP_TOKEN,
    }
    assert app.slack.event(event).response.status_code == 200
    app.drain()
    (finished,) = app.fake.wait_for(
        None,
        lambda c: (
            c.method in ("functions.completeSuccess", "functions.completeError")
            and c.params.get("function_execution_id") == execution
        ),
    )
    assert finished.token == STEP_TOKEN  # with the execution's own token
    return execution, finished


def test_start_a_pulse_completes_and_the_pulse_opens_in_the_channel(world: RunningApp) -> None:
    _, finished = run_step(world, ids.FUNCTION_START_PULSE, {"user": "U_M1", "ritual": "Weekly sync"})
    assert finished.method == "functions.completeSuccess"
    assert finished.params["outputs"] == {"ritual": "Weekly sync"}
    world.settle()
    (posted,) = [c for c in world.fake.calls("chat.postMessage") if c.params["channel"] == CHANNEL]
    assert "pulse" in posted.params["text"].lower()


def test_start_a_pulse_for_an_unknown_ritual_fails_with_a_clear_error(world: RunningApp) -> None:
    _, finished = run_step(world, ids.FUNCTION_START_PULSE, {"user": "U_M1", "ritual": "Nope"})
    assert finished.method == "functions.completeError"
    assert finished.params["error"].startswith("Tandem could not finish this step: ")
    assert "Nope" in finished.params["error"]
    world.settle()
    assert world.fake.calls("chat.postMessage") == []


def test_start_a_pulse_by_an_outsider_fails_as_the_command_would(world: RunningApp) -> None:
    _, finished = run_step(world, ids.FUNCTION_START_PULSE, {"user": "U_OUT", "ritual": "Weekly sync"})
    assert finished.method == "functions.completeError"
    assert "Only the creator of “Weekly sync”, its members or a workspace admin" in finished.params["error"]


def test_celebrate_a_shared_win_completes_and_celebrates_in_the_channel(world: RunningApp) -> None:
    inputs = {
        "user": "U_M1",
        "text": "Launched the pricing page early",
        "marketing": ["U_M1", "U_M2"],
        "it": ["U_I1"],
        "channel": CHANNEL,
    }
    _, finished = run_step(world, ids.FUNCTION_CELEBRATE_WIN, inputs)
    assert finished.method == "functions.completeSuccess", finished.params
    assert finished.params["outputs"]["win_id"].isdigit()
    celebration = world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == CHANNEL)[0]
    assert "Launched the pricing page early" in celebration.params["text"]


@pytest.mark.parametrize(
    ("inputs", "says"),
    [
        ({"text": "Won", "marketing": ["U_M1"], "it": [], "channel": CHANNEL}, "at least one person from IT"),
        ({"text": "", "marketing": ["U_M1"], "it": ["U_I1"], "channel": CHANNEL}, "Say what the win was"),
        ({"text": "Won", "marketing": ["U_M1"], "it": ["U_I1"], "channel": "C_GONE"}, "channel"),
    ],
    ids=["no-it-people", "no-text", "unknown-channel"],
)
def test_celebrate_a_win_that_does_not_hold_fails_and_posts_nothing(
    world: RunningApp, inputs: dict[str, Any], says: str
) -> None:
    _, finished = run_step(world, ids.FUNCTION_CELEBRATE_WIN, {"user": "U_M1", **inputs})
    assert finished.method == "functions.completeError"
    assert says in finished.params["error"]
    world.settle()
    assert world.fake.calls("chat.postMessage") == []


def test_add_a_commitment_completes_and_both_owners_hear_of_it(world: RunningApp) -> None:
    due = (world.clock.now() + dt.timedelta(days=14)).date().isoformat()
    inputs = {
        "user": "U_M1",
        "text": "Agree the tracking plan",
        "marketing_owner": "U_M2",
        "it_owner": "U_I1",
        "due": due,
    }
    _, finished = run_step(world, ids.FUNCTION_ADD_COMMITMENT, inputs)
    assert finished.method == "functions.completeSuccess", finished.params
    assert finished.params["outputs"]["commitment_id"].isdigit()
    world.settle()
    # Outside any ritual, as from the modal: each owner gets the confirmation by DM.
    told = {
        c.params["channel"]
        for c in world.fake.calls("chat.postMessage")
        if "Agree the tracking plan" in c.params["text"]
    }
    assert told == {"U_M2", "U_I1"}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"it_owner": "U_M2"}, "One owner from each side"),
        ({"due": "2000-01-01"}, "past"),
        ({"due": "tomorrow"}, "date"),
        ({"user": "not a person"}, "Person running the workflow"),
    ],
    ids=["same-owner", "past-date", "not-a-date", "no-runner"],
)
def test_add_a_commitment_that_does_not_hold_fails_with_the_modals_words(
    world: RunningApp, change: dict[str, str], says: str
) -> None:
    due = (world.clock.now() + dt.timedelta(days=14)).date().isoformat()
    inputs = {
        "user": "U_M1",
        "text": "Agree the tracking plan",
        "marketing_owner": "U_M2",
        "it_owner": "U_I1",
        "due": due,
        **change,
    }
    _, finished = run_step(world, ids.FUNCTION_ADD_COMMITMENT, inputs)
    assert finished.method == "functions.completeError"
    assert says in finished.params["error"], finished.params["error"]
    world.settle()
    assert world.fake.calls("chat.postMessage") == []
