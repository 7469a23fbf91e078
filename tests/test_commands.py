"""The `/tandem` router: whatever is typed, an ephemeral answer, never an error page."""

from __future__ import annotations

import logging

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest

from bot.listeners import register_listeners
from bot.listeners.commands import Invocation, parse
from bot.middleware import register as register_middleware
from bot.slack_client import make_client
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, RunningApp

ODD_TEXTS = [
    "",
    " ",
    "   \t  ",
    "\n",
    "x" * 10_000,
    "report " + "Weekly sync " * 900,
    "\x00\x01\x02",
    "report\x00Weekly",
    "help\x7f",
    "\u202eevil",
    "ünïcödé",
    "報告",
    "😀 🎉",
    "İSTANBUL",
    "`rm -rf`",
    "<!channel> hello",
    "&amp; <b>",
    "REPORT ²",
    "report\tWeekly sync\t4",
    "report 99999999999999999999999",
    "report -1",
    "export " + "\u0000" * 50,
    "alerts",
    "alerts ON",
    "alerts off " + "x" * 5000,
    "prompts remove -1",
    "prompts remove 999999999999999999999",
    "prompts remove \x00",
    "prompts remove ws-١٢",  # Arabic-Indic digits
    "prompts " + "y" * 10_000,
    "prompts add",
    "prompts add \u200b \u200b",
    "prompts add data Which\x00 dashboard did nobody open last month?",  # NUL: PostgreSQL refuses it
    "prompts add data Which dashboard\u200b did nobody open last month?",
    "help me please",
    "HELP",
    "frobnicate",
    "frobnicate " + "z" * 9000,
]


@pytest.mark.parametrize("text", ODD_TEXTS, ids=range(len(ODD_TEXTS)))
def test_any_text_gets_a_clear_ephemeral_answer(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    running_app.fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    response = running_app.slack.command(text, channel_id="C_SHARED")
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].strip() and len(answer["text"]) < 4000
    running_app.drain()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not running_app.fake.errors


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", ("", "")),
        ("   ", ("", "")),
        ("Report  Weekly sync  4 ", ("report", "Weekly sync  4")),
        ("report\tWeekly sync", ("report", "Weekly sync")),
        ("prompts\nadd data Why?", ("prompts", "add data Why?")),
        (None, ("", "")),
        (42, ("", "")),
    ],
)
def test_parse_splits_on_any_whitespace(text: object, parsed: tuple[str, str]) -> None:
    assert parse(text) == parsed


def test_a_subcommand_failing_before_its_ack_is_answered_not_a_500(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    # The app the factory builds, with one more subcommand on its router.
    app = App(signing_secret=SIGNING_SECRET, client=make_client(running_app.services.settings, BOT_TOKEN))
    register_middleware(app, running_app.services)
    router = register_listeners(app)

    def broken(inv: Invocation) -> None:
        raise RuntimeError("boom before the ack")

    router.add("boom", usage="boom", summary="fails", example="boom", handler=broken)
    built = running_app.slack.build_command("boom")
    response = app.dispatch(BoltRequest(body=built.text, headers={k: [v] for k, v in built.headers.items()}))
    assert response.status == 200
    assert "something went wrong" in response.body and '"ephemeral"' in response.body
    assert any(r.exc_info and "boom before the ack" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize(
    ("user_id", "channel_id"),
    [("", "C_SHARED"), ("U" * 40, "C_SHARED"), ("U\x00", "C_SHARED"), ("U_M1", "C SHARED"), ("U_M1", "Ç1")],
)
def test_a_command_without_a_proper_sender_changes_nothing(
    running_app: RunningApp, user_id: str, channel_id: str
) -> None:
    answer = running_app.slack.command(
        "prompts add data Which dashboard did nobody open last month?", user_id=user_id, channel_id=channel_id
    ).json()
    assert answer["response_type"] == "ephemeral" and "did nothing" in answer["text"]
    assert "ws-" not in running_app.slack.command("prompts").json()["text"].split("built in")[0]
