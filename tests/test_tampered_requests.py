"""Validly signed but tampered requests, by the thousand, through the real app (issue 9's acceptance).

What a buggy client, a replay tool or a hostile workspace sends: every block action, view submission
and shortcut Tandem listens to, carrying garbage, negative, huge, non-numeric, boolean and
Unicode-digit ids, ids of another workspace's objects and of objects the sender may not touch,
odd `private_metadata`, odd option values and odd modal state; and `/tandem` with every subcommand
and garbage arguments. All of it is generated from one seeded `random.Random`, so a failure names
a case that the next run sends again.

The rules every request must keep (`verdict` and the checks after it word each broken one):

- The HTTP answer is 200 (never a 5xx, never Bolt's 404 "unhandled request") and nothing is logged
  at ERROR or with the traceback of anything but a refusal from Slack.
- A command is answered with a non-empty ephemeral text, or with an empty ack followed by a modal
  (views.open with its trigger id) or a message to its response_url.
- A block action or shortcut from a message is answered through its response_url with a non-empty
  text (or `delete_original`, what "Cancel" and "Got it" do), or by opening or updating a modal
  (views.open with its trigger id, views.update of its view). One that names an object the sender
  may not change (another workspace's, someone else's, an id in range that names nothing) must be
  answered with a message: a modal is not an answer to "you can't".
- A view submission is answered inline: `response_action: errors` keyed by the modal's own block ids
  with non-empty sentences, `update`/`push` with a view, or an empty ack that closes the modal. The
  empty ack is the normal success: tampered metadata that no longer names anything (e.g. `"abc"`) is
  read as "new", and a valid form then creates the sender's own ritual, win or commitment. A
  submission whose metadata names an object the sender may not change must get `errors`.
- No row changed that the sender may not change. Every table (`Base.metadata.sorted_tables`) is
  read before and after the batch. No table and no column is excluded: Tandem keeps no last-seen or
  request-log columns (`processed_events` is written only for Events API deliveries, and none is
  sent here), so every row of the seeded world must come out exactly as it went in; the one global
  counter, the schedulers' change stamp, may only go up (it follows the rituals, checked themselves). New rows are
  allowed only inside the home workspace (no new workspace, installation or event row), made by a
  sender, and pointing at pre-existing (seeded) rows only where anyone may add one: an answer to the
  open pulse, a commitment attached to the home ritual. A commitment is never due more than five
  years ahead.
- Nothing of the other workspace is revealed: its texts, people and team id never appear in any
  answer, response_url message or Web API call made during the batch.

Two senders in the home workspace T0001: a stranger (member of nothing, not an admin) who sends
every kind of id, and a workspace admin, who may change anything in the home workspace and so is sent
only garbage and ids of the other workspace (or of nothing), and types commands only where no
ritual lives: whatever the admin changes in the home workspace is a bug too. The other workspace
(T_OTHER) is seeded straight into the database, its ritual in the same (Slack Connect) channel
C_SHARED as the home ritual; in single-workspace HTTP mode every request is the token's team.

`TANDEM_FUZZ_REPORT=/some/file` writes every problem found (the failure message shows the first).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
import random
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import requests
from slack_bolt import App
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import ids
from bot.config import Mode, Settings
from bot.listeners import register_listeners
from bot.messenger import DeliveryError
from bot.runtime import Runtime
from db.session import Database
from tests.clock import FrozenClock
from tests.conftest import serve_runtime
from tests.fake_slack import FakeSlack
from tests.modal_values import commit_values, drop_values, move_values, setup_values, win_values
from tests.slack_requests import BuiltRequest, SlackRequests
from tests.world import SCOPE_COLUMNS, Furnished, Snapshot, World, changes, snapshot, workspace_of

SEED = 20261123
HOME, OTHER = "T0001", "T_OTHER"
STRANGER = "U_STRANGER"  # in the home workspace: member of nothing, not an admin
ADMIN = "U_HOME_ADMIN"  # in the home workspace: an admin, member of nothing
SENDERS = (STRANGER, ADMIN)
SHARED = "C_SHARED"  # a Slack Connect channel: both workspaces have a ritual in it
FUZZ_CHANNEL = "C_FUZZ"  # Tandem is a member; valid forms create things here
NOWHERE = "C_NOWHERE"  # no ritual lives here: where the admin types commands
FRESH_M, FRESH_I = "U_FRESH_M", "U_FRESH_I"  # the people a valid form names (unknown to Tandem)
MIN_INTERACTIVE, MIN_COMMANDS = 500, 1000
MAX_DUE_YEARS = 5
SENDING_THREADS = 8
LISTENER_THREADS = 4

# Slack's refusals, logged with their traceback on purpose: a handled outcome, not a bug.
HANDLED = (SlackApiError, SlackClientError, DeliveryError)


class Expect(Enum):
    ANSWER = "answered"  # a message, an inline error, a modal, or an accepted submission
    REFUSE = "refused"  # names what the sender may not change: a message or an inline error


@dataclass(frozen=True)
class Case:
    """One tampered request, with what is needed to find its answer afterwards."""

    n: int
    surface: str  # "action:commit_done", "view:ritual_setup", "shortcut:celebrate_win", "command:pause"
    detail: str
    sender: str
    expect: Expect
    request: BuiltRequest
    response_name: str | None = None
    trigger_id: str | None = None
    view_id: str | None = None

    def __str__(self) -> str:
        shown = self.detail if len(self.detail) <= 160 else self.detail[:157] + "..."
        return f"#{self.n} {self.surface} by {self.sender}: {shown}"


# -- the world ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Worlds:
    home: Furnished
    other: Furnished
    today: dt.date


def seed(database: Database, clock: FrozenClock, fake: FakeSlack) -> Worlds:
    world = World(database, clock)
    home, other = (
        world.furnished(
            team,
            label=label,
            channel=SHARED,
            marketing=(f"{u}M1", f"{u}M2"),
            it=(f"{u}I1", f"{u}I2"),
            ritual_name=name,
        )
        for team, label, u, name in (
            (HOME, "HOME", "U_H_", "Weekly sync"),
            (OTHER, "ZEBRA", "U_Z_", "Zebra sync"),
        )
    )
    for channel in (SHARED, FUZZ_CHANNEL, NOWHERE):
        fake.add_channel(channel, name=channel.lower(), is_member=True)
    fake.add_user(STRANGER, tz="Europe/Berlin")
    fake.add_user(ADMIN, tz="Europe/Berlin", is_admin=True)
    for user in (FRESH_M, FRESH_I, *home.marketing, *home.it):
        fake.add_user(user, tz="Europe/Berlin")
    return Worlds(home, other, clock.now().date())


# -- values -------------------------------------------------------------------------------------------

MAX_ID = ids.MAX_ROW_ID
UNKNOWN_IDS: tuple[int, ...] = (MAX_ID, 1_000_003)  # in range, naming nothing
# fmt: off
GARBAGE_IDS: tuple[object, ...] = (
    0, -1, -(2**31), 2**31, 2**32 + 1, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30), 1.5, 1e308,
    True, False, None, "", " ", "abc", "12abc", "1 OR 1=1", "1; DROP TABLE rituals;--",
    "١٢",  # Arabic-Indic digits: int() reads them, Slack never writes them
    "²", "１２", "1e3", "0x10", "+1", "-0", " 7 ", "007", "9" * 40, "NaN", "Infinity", "null", "\x00",
    [1], {"id": 1},
)
ODD_VALUES: tuple[object, ...] = (
    None, "", " ", 0, -1, 2**63, True, 1.5, [], ["a", None], {}, {"value": "x"}, "x" * 5000, "é" * 20000,
    "\x00\x07\x1b[31m\r\n", "\u202etxt.exe", "１２", "<!channel> <@U_H_M1>", "'; DROP TABLE rituals;--",
)
ODD_DATES: tuple[object, ...] = (
    "0000-00-00", "9999-12-31", "2026-02-30", "2026-13-01", "2026-11-31", "20261201", "-001-01-01",
    "1970-01-01", "２０２６-１２-０１", "2026-12-01T00:00:00", None, 20261201, [],
)
ODD_METADATA: tuple[str, ...] = (
    "", "{", "not json", "[]", "null", "1", '"ritual"', "{}", '{"ritual_id": {"$ne": null}}',
    '{"win_id": [1, 2]}', '{"commitment_id": "1"}', "{" + '"a":' * 2000 + "1", "x" * 3001,
    json.dumps({"ritual_id": 1, "win_id": 1, "commitment_id": 1, "extra": "x" * 3000}), "\x00", "💥",
)
# fmt: on


def lenient_int(value: object) -> int | None:
    """What a careless `int()` would make of a value (Unicode digits, spaces, signs included)."""
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class Target:
    """An id to put in a payload and what its sender may expect for it."""

    value: object
    expect: Expect
    note: str


def id_targets(kind: str, sender: str, w: Worlds) -> list[Target]:
    """Every id to try in a slot naming a `kind` ("ritual", "pulse", "win", "commitment", "prompt")."""
    home = {
        "ritual": [w.home.ritual_id],
        "pulse": [w.home.open_pulse_id, w.home.closed_pulse_id],
        "win": [w.home.win_id],
        "commitment": [w.home.commitment_id],
        "prompt": [w.home.prompt_id],
    }[kind]
    other = {
        "ritual": [w.other.ritual_id],
        "pulse": [w.other.open_pulse_id, w.other.closed_pulse_id],
        "win": [w.other.win_id],
        "commitment": [w.other.commitment_id],
        "prompt": [w.other.prompt_id],
    }[kind]
    home_ids = home_object_ids(w)
    targets = [Target(v, Expect.REFUSE, f"other workspace's {kind}") for v in other]
    targets += [Target(v, Expect.REFUSE, f"unknown {kind}") for v in UNKNOWN_IDS]
    if sender == STRANGER:
        targets += [Target(v, Expect.REFUSE, f"home {kind} the stranger may not change") for v in home]
    for value in GARBAGE_IDS:
        # The admin may change the home workspace's objects, so nothing that a careless parser could
        # read as one of their ids is sent in the admin's name.
        if sender == ADMIN and lenient_int(value) in home_ids:
            continue
        targets.append(Target(value, Expect.ANSWER, "garbage"))
    return targets


def names_home_object(metadata: str, w: Worlds) -> bool:
    """Whether a careless reader of `metadata` would find an id of the home workspace in it."""
    try:
        data = json.loads(metadata)
    except ValueError:
        return False
    values = data.values() if isinstance(data, dict) else [data]
    return any(lenient_int(v) in home_object_ids(w) for v in values if not isinstance(v, (dict, list)))


def home_object_ids(w: Worlds) -> set[int]:
    h = w.home
    return {h.ritual_id, h.open_pulse_id, h.closed_pulse_id, h.win_id, h.commitment_id, h.prompt_id}


def as_button_value(rng: random.Random, value: object) -> object:
    """A button or option value: Slack sends strings; a tampered payload sometimes sends other types."""
    if isinstance(value, str):
        return value
    if rng.random() < 0.3:
        return value  # a number, list, object, boolean or null where a string belongs
    return json.dumps(value) if not isinstance(value, int) or isinstance(value, bool) else str(value)


# -- modal state --------------------------------------------------------------------------------------


def comment_values(text: str) -> dict[str, Any]:
    return {
        ids.BLOCK_PULSE_COMMENT_TEXT: {
            ids.ACTION_PULSE_COMMENT_TEXT: {"type": "plain_text_input", "value": text}
        }
    }


def valid_setup(n: int) -> dict[str, Any]:
    return setup_values(channel=FUZZ_CHANNEL, name=f"Fuzz ritual {n}", marketing=(FRESH_M,), it=(FRESH_I,))


def valid_win(n: int) -> dict[str, Any]:
    return win_values(
        what=f"Fuzz win {n}",
        marketing=(FRESH_M,),
        it=(FRESH_I,),
        outcome="More sign-ups",
        link="https://example.com/launch",
        channel=FUZZ_CHANNEL,
    )


def valid_commit(n: int, today: dt.date) -> dict[str, Any]:
    return commit_values(
        what=f"Fuzz commitment {n}",
        marketing_owner=FRESH_M,
        it_owner=FRESH_I,
        due=today + dt.timedelta(days=7),
    )


DATE_FIELDS = {
    (ids.BLOCK_COMMIT_DUE, ids.ACTION_COMMIT_DUE),
    (ids.BLOCK_COMMIT_MOVE_DUE, ids.ACTION_COMMIT_MOVE_DUE),
}


def mutate(rng: random.Random, state: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """One to three tamperings of a modal's `state.values`: blocks missing or of the wrong type,
    elements or their values null, lists, numbers, huge or control-character strings, odd dates."""
    state = copy.deepcopy(state)
    done: list[str] = []
    for _ in range(rng.randint(1, 3)):
        if not state:
            break
        block = rng.choice(sorted(state))
        element_ids = sorted(state[block]) if isinstance(state[block], dict) else []
        roll = rng.random()
        if roll < 0.15:
            del state[block]
            done.append(f"no {block}")
        elif roll < 0.25 or not element_ids:
            state[block] = rng.choice(ODD_VALUES)
            done.append(f"{block}={state[block]!r:.40}")
        else:
            element = rng.choice(element_ids)
            if (block, element) in DATE_FIELDS and rng.random() < 0.7:
                state[block][element] = {"type": "datepicker", "selected_date": rng.choice(ODD_DATES)}
                done.append(f"{block} date={state[block][element]['selected_date']!r}")
            elif roll < 0.4 or not isinstance(state[block][element], dict):
                state[block][element] = rng.choice(ODD_VALUES)
                done.append(f"{block}.{element}={state[block][element]!r:.40}")
            else:
                keys = sorted(k for k in state[block][element] if k != "type") or ["value"]
                key = rng.choice(keys)
                odd = rng.choice(ODD_VALUES)
                if key == "selected_option" and rng.random() < 0.5:
                    odd = {"text": {"type": "plain_text", "text": "x"}, "value": rng.choice(ODD_VALUES)}
                state[block][element][key] = odd
                done.append(f"{block}.{key}={odd!r:.40}")
    if rng.random() < 0.05:
        state = {}
        done = ["state.values={}"]
    return state, "; ".join(done)


# -- generating the batch -----------------------------------------------------------------------------


@dataclass
class Batch:
    rng: random.Random
    slack: SlackRequests
    worlds: Worlds
    cases: list[Case] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)

    def _next(self) -> int:
        return len(self.cases) + 1

    def trigger(self, n: int) -> str:
        return f"{1_700_000_000 + n}.{SEED}.{n:032x}"

    def action(
        self,
        action_id: str,
        *,
        sender: str,
        detail: str,
        expect: Expect,
        value: object = None,
        selected_option: object = None,
        view: dict[str, Any] | None = None,
        channel_id: str = SHARED,
        family: str | None = None,
    ) -> None:
        n = self._next()
        name = f"a{n}"
        trigger = self.trigger(n)
        extra: dict[str, Any] = {}
        if value is not None and not isinstance(value, str):
            extra["value"] = value  # a wrong type: build_block_action only takes strings
            value = None
        if selected_option is not None:
            extra["selected_option"] = selected_option
        request = self.slack.build_block_action(
            action_id,
            value=value,
            user_id=sender,
            channel_id=channel_id,
            response_url=None if view else self.response_url(name),
            view=view,
            trigger_id=trigger,
            action_type="overflow" if selected_option is not None else "button",
            action_extra=extra or None,
        )
        self.covered.add(family or action_id)
        self.cases.append(
            Case(
                n,
                f"action:{family or action_id}",
                detail,
                sender,
                expect,
                request,
                response_name=None if view else name,
                trigger_id=trigger,
                view_id=(view or {}).get("id"),
            )
        )

    def view(
        self,
        callback_id: str,
        *,
        sender: str,
        detail: str,
        expect: Expect,
        values: dict[str, Any],
        private_metadata: str,
    ) -> None:
        n = self._next()
        request = self.slack.build_view_submission(
            callback_id,
            values=values,
            private_metadata=private_metadata,
            user_id=sender,
            view_id=f"V_FUZZ{n}",
        )
        self.covered.add(callback_id)
        self.cases.append(Case(n, f"view:{callback_id}", detail, sender, expect, request))

    def shortcut(self, *, sender: str, detail: str, message: dict[str, Any] | None, channel_id: str) -> None:
        n = self._next()
        name, trigger = f"a{n}", self.trigger(n)
        if message is None:  # the message shortcut's callback sent as a global shortcut
            request = self.slack.build_shortcut(ids.SHORTCUT_CELEBRATE, user_id=sender, trigger_id=trigger)
        else:
            request = self.slack.build_message_shortcut(
                ids.SHORTCUT_CELEBRATE,
                message=message,
                channel_id=channel_id,
                user_id=sender,
                response_url=self.response_url(name),
                trigger_id=trigger,
            )
        self.covered.add(ids.SHORTCUT_CELEBRATE)
        self.cases.append(
            Case(
                n, f"shortcut:{ids.SHORTCUT_CELEBRATE}", detail, sender, Expect.ANSWER, request, name, trigger
            )
        )

    def command(self, subcommand: str, text: str, *, sender: str, channel_id: str) -> None:
        n = self._next()
        name, trigger = f"c{n}", self.trigger(n)
        request = self.slack.build_command(
            text,
            user_id=sender,
            channel_id=channel_id,
            response_url=self.response_url(name),
            trigger_id=trigger,
        )
        self.cases.append(
            Case(n, f"command:{subcommand}", repr(text), sender, Expect.ANSWER, request, name, trigger)
        )

    def response_url(self, name: str) -> str:
        assert self.slack.default_response_url is not None
        return self.slack.default_response_url.rsplit("/", 1)[0] + "/" + name


def id_actions(b: Batch, sender: str) -> None:
    """Buttons whose value is an id, and the overflow menu whose option value is "<choice>:<id>"."""
    rng, w = b.rng, b.worlds
    option: object
    buttons = {
        ids.ACTION_RITUAL_DELETE_CONFIRM: "ritual",
        ids.ACTION_PULSE_CLOSE: "pulse",
        ids.ACTION_WIN_EDIT: "win",
        ids.ACTION_WIN_WITHDRAW: "win",
        ids.ACTION_COMMIT_ADD: "ritual",
        ids.ACTION_COMMIT_DONE: "commitment",
        ids.ACTION_COMMIT_MOVE: "commitment",
        ids.ACTION_COMMIT_DROP: "commitment",
    }
    for action_id, kind in buttons.items():
        for t in id_targets(kind, sender, w):
            value = as_button_value(rng, t.value)
            # Opening the "new commitment" modal for an id that names nothing is a fair answer too.
            expect = Expect.ANSWER if action_id == ids.ACTION_COMMIT_ADD else t.expect
            b.action(
                action_id, sender=sender, detail=f"value={value!r} ({t.note})", expect=expect, value=value
            )
    choices = ("done", "move", "drop")
    for t in id_targets("commitment", sender, w):
        choice = rng.choice(choices)
        raw = t.value if rng.random() < 0.15 else f"{choice}:{t.value}"
        option = {"text": {"type": "plain_text", "text": choice}, "value": raw}
        b.action(
            ids.ACTION_COMMIT_MENU,
            sender=sender,
            detail=f"selected_option.value={raw!r} ({t.note})",
            expect=t.expect if isinstance(raw, str) and raw.startswith(choice) else Expect.ANSWER,
            selected_option=option,
        )
    for odd in ("delete:1", "DONE:1", "done:", ":", "done:1:2", "", None, 5, ["done", 1]):
        if (
            sender == ADMIN
            and isinstance(odd, str)
            and lenient_int(odd.rpartition(":")[2]) in home_object_ids(w)
        ):
            continue
        option = rng.choice([{"value": odd}, odd, None])
        b.action(
            ids.ACTION_COMMIT_MENU,
            sender=sender,
            detail=f"selected_option={option!r}",
            expect=Expect.ANSWER,
            selected_option=option if option is not None else {"value": None},
        )


def pairing_actions(b: Batch, sender: str) -> None:
    """ "We met" / "Skip this round" with values that name no pairing of the sender's (the worlds
    hold none): each click is answered ("no longer exists") and changes nothing."""
    for action_id in (ids.ACTION_PAIRING_MET, ids.ACTION_PAIRING_SKIP):
        for value in ("1", "0", "-3", "2147483648", "1e3", "", " ", "１", "abc", 7, None, ["1"], True):
            b.action(action_id, sender=sender, detail=f"value={value!r}", expect=Expect.ANSWER, value=value)


def written_actions(b: Batch, sender: str) -> None:
    """Written check-ins: the "Answer" button and a draft win's "Confirm win" with values that name
    no round of the sender's (the worlds hold none) or no draft win, and the answer modal with odd
    metadata: each is answered ("no longer exists", an inline error) and changes nothing."""
    for action_id in (ids.ACTION_WRITTEN_ANSWER, ids.ACTION_WRITTEN_CONFIRM_WIN):
        for value in ("1", "0", "-3", "2147483648", "1e3", "", " ", "１", "abc", 7, None, ["1"], True):
            b.action(action_id, sender=sender, detail=f"value={value!r}", expect=Expect.ANSWER, value=value)
    answer = {
        ids.BLOCK_WRITTEN_ANSWER: {
            ids.ACTION_WRITTEN_ANSWER_TEXT: {"type": "plain_text_input", "value": "Hi"}
        }
    }
    for metadata in (*ODD_METADATA, json.dumps({"round_id": 1}), json.dumps({"round_id": "1"})):
        b.view(
            ids.VIEW_WRITTEN_ANSWER,
            sender=sender,
            detail=f"private_metadata={metadata!r:.60}",
            expect=Expect.ANSWER,
            values=answer,
            private_metadata=metadata,
        )


def pulse_actions(b: Batch, sender: str) -> None:
    """Answer clicks ("pulse_answer:<question>:<score>", value "<pulse>:<question>:<score>") and the
    side question ("pulse_side:<side>", value: the pending answer)."""
    rng, w = b.rng, b.worlds
    value: object
    for t in id_targets("pulse", sender, w):
        if t.value == w.home.open_pulse_id:  # anyone in the workspace may answer it
            t = Target(t.value, Expect.ANSWER, "home open pulse, which anyone may answer")
        question, score = rng.choice(["partner", "level"]), rng.randint(1, 5)
        shapes = [f"{t.value}:{question}:{score}"]
        if rng.random() < 0.5:
            shapes.append(
                rng.choice([f"{t.value}:{question}:9", f"{t.value}:mood:{score}", f"{t.value}:{question}"])
            )
        for value in shapes:
            action_id = rng.choice(
                [f"{ids.ACTION_PULSE_ANSWER_PREFIX}:{question}:{score}", f"{ids.ACTION_PULSE_ANSWER_PREFIX}:"]
            )
            b.action(
                action_id,
                sender=sender,
                detail=f"action_id={action_id!r} value={value!r} ({t.note})",
                expect=t.expect,
                value=value,
                family=ids.ACTION_PULSE_ANSWER_PREFIX,
            )
        side: str = rng.choice(["marketing", "it", "other", "", "MARKETING", "ceo", "it:x", "ｉｔ", "\x00"])
        pending: object = f"{t.value}:{question}:{score}" if rng.random() < 0.8 else t.value
        value = as_button_value(rng, pending)
        b.action(
            f"{ids.ACTION_PULSE_SIDE_PREFIX}:{side}",
            sender=sender,
            detail=f"side={side!r} value={value!r} ({t.note})",
            expect=t.expect,
            value=value,
            family=ids.ACTION_PULSE_SIDE_PREFIX,
        )
    home_open = w.home.open_pulse_id if sender == STRANGER else w.other.open_pulse_id
    for value in (
        "",
        "::",
        "0:partner:1",
        f"{home_open}:partner:0",
        f"{home_open}:partner:-1",
        "x" * 3000,
        12,
    ):
        b.action(
            f"{ids.ACTION_PULSE_ANSWER_PREFIX}:partner:1",
            sender=sender,
            detail=f"value={value!r}",
            expect=Expect.ANSWER,
            value=value,
            family=ids.ACTION_PULSE_ANSWER_PREFIX,
        )


def comment_actions(b: Batch, sender: str) -> None:
    """ "Add a comment" (value: a pulse id) and "Make this a commitment" (value "<kind>:<id>"): a pulse
    of another workspace, an unknown one, or (for the stranger) the home ones, which take no comments
    and of whose ritual the stranger is no lead, are refused with a message; garbage is answered."""
    rng, w = b.rng, b.worlds
    for t in id_targets("pulse", sender, w):
        value = as_button_value(rng, t.value)
        b.action(
            ids.ACTION_PULSE_COMMENT,
            sender=sender,
            detail=f"value={value!r} ({t.note})",
            expect=t.expect,
            value=value,
        )
        kind = rng.choice(ids.COMMIT_SOURCE_KINDS)
        source = (
            f"{kind}:{t.value}" if isinstance(t.value, int) and not isinstance(t.value, bool) else t.value
        )
        b.action(
            ids.ACTION_COMMIT_FROM,
            sender=sender,
            detail=f"value={source!r} ({t.note})",
            expect=t.expect,
            value=as_button_value(rng, source),
        )
    for odd in (
        "result",
        "result:",
        "vote:1",
        "comment:01",
        "drift:1:2",
        ":",
        "x" * 3000,
        None,
        7,
        ["result", 1],
    ):
        b.action(
            ids.ACTION_COMMIT_FROM, sender=sender, detail=f"value={odd!r}", expect=Expect.ANSWER, value=odd
        )


def plain_actions(b: Batch, sender: str) -> None:
    """Buttons that carry no id: cancel, dismiss, forget-me, the Home tab's buttons, and the setup
    modal's cadence select (which rebuilds the modal with views.update)."""
    rng = b.rng
    value: object
    for action_id in (ids.ACTION_HELP_DISMISS, ids.ACTION_RITUAL_DELETE_CANCEL, ids.ACTION_FORGET_CANCEL):
        for value in ("", "x" * 2000, None, 7):
            b.action(action_id, sender=sender, detail=f"value={value!r}", expect=Expect.ANSWER, value=value)
    for value in ("", "1", None):
        b.action(
            ids.ACTION_FORGET_CONFIRM,
            sender=sender,
            detail=f"value={value!r}",
            expect=Expect.ANSWER,
            value=value,
        )
    for action_id in (ids.ACTION_HOME_NEW_RITUAL, ids.ACTION_HOME_NEW_WIN, ids.ACTION_HOME_NEW_COMMIT):
        for value in ("", "1", [1]):
            home_view = {
                "id": f"VH{b._next()}",
                "type": "home",
                "callback_id": "",
                "private_metadata": "",
                "hash": "h",
            }
            b.action(
                action_id,
                sender=sender,
                detail=f"value={value!r}",
                expect=Expect.ANSWER,
                value=value,
                view=home_view,
            )
    metadata = [json.dumps({"ritual_id": t.value}) for t in id_targets("ritual", sender, b.worlds)]
    for md in [*rng.sample(metadata, 8), *rng.sample(ODD_METADATA, 6)]:
        state, what = mutate(rng, valid_setup(b._next()))
        option = rng.choice(
            [{"value": v} for v in ("weekly", "monthly", "every_n_weeks", "yearly", "", None, 3, "x" * 3000)]
            + [None]
        )
        view = {
            "id": f"V_CAD{b._next()}",
            "type": "modal",
            "callback_id": ids.VIEW_SETUP,
            "private_metadata": md,
            "state": {"values": state},
            "hash": "h",
        }
        b.action(
            ids.ACTION_SETUP_CADENCE,
            sender=sender,
            detail=f"option={option!r:.60} metadata={md!r:.60} state: {what}",
            expect=Expect.ANSWER,
            selected_option=option if option is not None else {"value": None},
            view=view,
        )


def view_submissions(b: Batch, sender: str) -> None:
    """Every modal, with the id in its metadata tampered over a valid form, and odd metadata or
    tampered state otherwise."""
    rng, w = b.rng, b.worlds
    forms: dict[str, tuple[str, list[str], Callable[[int], dict[str, Any]]]] = {
        ids.VIEW_SETUP: ("ritual", ["ritual_id"], valid_setup),
        ids.VIEW_WIN: ("win", ["win_id"], valid_win),
        ids.VIEW_COMMIT: ("ritual", ["ritual_id", "commitment_id"], lambda n: valid_commit(n, w.today)),
        ids.VIEW_COMMIT_MOVE: (
            "commitment",
            ["commitment_id"],
            lambda n: move_values(w.today + dt.timedelta(days=14)),
        ),
        ids.VIEW_COMMIT_DROP: ("commitment", ["commitment_id"], lambda n: drop_values()),
        ids.VIEW_PULSE_COMMENT: ("pulse", ["pulse_id"], lambda n: comment_values(f"Comment {n}")),
    }
    # The ritual picker: a tampered pick is refused like a named ritual (reports change nothing).
    for t in rng.sample(id_targets("ritual", sender, w), 5):
        picked = {ids.BLOCK_RITUAL_PICK: {ids.ACTION_RITUAL_PICK: {"selected_option": {"value": t.value}}}}
        b.view(
            ids.VIEW_RITUAL_PICK,
            sender=sender,
            detail=f"picked ritual {t.value!r:.40} ({t.note})",
            expect=Expect.ANSWER,
            values=picked,
            private_metadata=json.dumps({"what": "report", "weeks": 12}),
        )
    for callback_id, (kind, keys, valid) in forms.items():
        for t in id_targets(kind, sender, w):
            expect = t.expect
            # A commitment attached to the home ritual is something anyone in the workspace may add.
            if callback_id == ids.VIEW_COMMIT and t.note.startswith("home"):
                expect = Expect.ANSWER
            metadata = json.dumps({keys[0]: t.value})
            b.view(
                callback_id,
                sender=sender,
                detail=f"private_metadata={metadata!r:.80} ({t.note}), valid form",
                expect=expect,
                values=valid(b._next()),
                private_metadata=metadata,
            )
        if len(keys) > 1:  # the commitment modal's other id, which nothing may use to edit someone's
            for t in rng.sample(id_targets("commitment", sender, w), 10):
                metadata = json.dumps({"ritual_id": None, keys[1]: t.value})
                b.view(
                    callback_id,
                    sender=sender,
                    detail=f"private_metadata={metadata!r:.80} ({t.note}), valid form",
                    expect=Expect.ANSWER,
                    values=valid(b._next()),
                    private_metadata=metadata,
                )
        for metadata in ODD_METADATA:
            if sender == ADMIN and names_home_object(metadata, w):
                continue
            b.view(
                callback_id,
                sender=sender,
                detail=f"private_metadata={metadata!r:.60}, valid form",
                expect=Expect.ANSWER,
                values=valid(b._next()),
                private_metadata=metadata,
            )
        for _ in range(14):
            state, what = mutate(rng, valid(b._next()))
            target = rng.choice(id_targets(kind, sender, w))
            metadata = rng.choice([json.dumps({keys[0]: target.value}), rng.choice(ODD_METADATA)])
            if sender == ADMIN and names_home_object(metadata, w):
                metadata = "{}"
            b.view(
                callback_id,
                sender=sender,
                detail=f"state: {what}; private_metadata={metadata!r:.60}",
                expect=Expect.ANSWER,
                values=state,
                private_metadata=metadata,
            )


def shortcuts(b: Batch, sender: str) -> None:
    rng = b.rng
    texts: list[object] = ["", None, 12, ["x"], "x" * 50_000, "🎉" * 3000, "\x00\x1b", "<!channel> we did it"]
    for text in texts:
        message: dict[str, Any] = {"type": "message", "user": "U_H_M1", "text": text}
        if rng.random() < 0.7:
            message["ts"] = rng.choice(["1700000000.000100", "", "not-a-ts", 5])
        channel = rng.choice([FUZZ_CHANNEL, "C_UNKNOWN", "D0DM", ""])
        b.shortcut(
            sender=sender,
            detail=f"text={text!r:.40} ts={message.get('ts')!r} channel={channel!r}",
            message=message,
            channel_id=channel,
        )
    b.shortcut(sender=sender, detail="as a global shortcut (no message)", message=None, channel_id="")


# -- commands -----------------------------------------------------------------------------------------

# fmt: off
SQLISH = ("' OR 1=1 --", "Robert'); DROP TABLE rituals;--", "%", "_", "\\", "%%_", "1; SELECT pg_sleep(5)")
DATES = (
    "0000-00-00", "9999-12-31", "2026-02-30", "2026-13-01", "1900-01-01", "24.12.2026", "Dec 24", "31/02/2026",
    "2026-2-3", "-2026-01-01", "99999-01-01", "2026-12-24",
)
MENTIONS = (
    "<@U_H_M1>", "<@U123|bob>", f"<#{SHARED}|shared>", "<!here>", "<!channel>", "<!subteam^S1|team>",
    "<https://evil.example|click>",
)
EMOJI = (":tada:", "🎉", "👩‍👩‍👧‍👦", "🏳️‍🌈", ":+1::skin-tone-2:", "\u200b", "\ufeff", "\u202e")
CONTROL = ("\x00", "\x07", "\x1b[31m", "\r\n", "\t", "\x7f", "\u2028")
WORDS = (
    "on", "off", "votes", "add", "remove", "list", "marketing", "it", "other", "IT", "last-month", "2026-11",
    "november 2026", "12", "104", "105", "data", "kpis", "ws-1", "all", "help",
)
NUMBERS = ("-1", "0", "2147483648", "9223372036854775808", "1" + "0" * 30, "1e9", "٣", "１２", "0x1f", "+5", "3.5")
# fmt: on


def random_unicode(rng: random.Random, n: int) -> str:
    out: list[str] = []
    while len(out) < n:
        c = rng.randrange(0x20, 0x2FFFF)
        if not 0xD800 <= c <= 0xDFFF:  # no lone surrogates: they cannot be sent as UTF-8
            out.append(chr(c))
    return "".join(out)


def fragment(rng: random.Random, sender: str, w: Worlds) -> str:
    kind = rng.randrange(12)
    if kind == 0:
        return random_unicode(rng, rng.randint(1, 40))
    if kind == 1:
        return rng.choice(CONTROL)
    if kind == 2:
        return rng.choice(["x" * 5000, "é" * 5000, "Weekly sync " * 420, random_unicode(rng, 5000)])
    if kind == 3:
        return rng.choice(NUMBERS)
    if kind == 4:
        return rng.choice(SQLISH)
    if kind == 5:
        return rng.choice(DATES)
    if kind == 6:
        return rng.choice(MENTIONS)
    if kind == 7:
        return rng.choice(EMOJI)
    if kind == 8:
        return rng.choice(WORDS)
    if kind == 9:
        names = [w.other.ritual_name, w.other.ritual_name.upper()]
        if sender == STRANGER:
            names += [w.home.ritual_name, f"  {w.home.ritual_name.lower()}  "]
        return rng.choice(names)
    if kind == 10:
        ids_ = [w.other.prompt_id, *UNKNOWN_IDS, -1, 0, 10**30]
        if sender == STRANGER:
            ids_.append(w.home.prompt_id)
        return f"ws-{rng.choice(ids_)}" if rng.random() < 0.6 else str(rng.choice(ids_))
    return ""


# Each subcommand's valid shapes: half of its texts fill one of them, each slot with a valid value or
# a tampered one, so the fuzz reaches the code behind the argument checks too.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "now": ("now {name}",),
    "edit": ("edit {name}",),
    "pause": ("pause {name}",),
    "resume": ("resume {name}",),
    "skip": ("skip {name} {date}", "skip {date}", "skip {name}"),
    "delete": ("delete {name}",),
    "pulse": ("pulse {name}", "pulse votes {name}"),
    "role": ("role {side}",),
    "reminders": ("reminders {onoff}",),
    "prompts": ("prompts", "prompts add {theme} {text}", "prompts remove {prompt}"),
    "wins": ("wins {name} {period}", "wins {period}"),
    "commit": ("commit {name}",),
    "report": ("report {name} {weeks}", "report {weeks}"),
    "export": ("export {name}",),
    "alerts": ("alerts {onoff} {name}", "alerts {onoff}"),
}
VALID_SLOTS: dict[str, tuple[str, ...]] = {
    "date": ("2026-12-01", "2026-12-24", "2027-01-05"),
    "side": ("marketing", "it", "other"),
    "onoff": ("on", "off"),
    "theme": ("data", "kpis", "Customer"),
    "text": ("What would we measure first if budgets doubled?",),
    "period": ("last-month", "2026-11", "november 2026"),
    "weeks": ("4", "12", "104"),
}


# Always sent, by both senders: the texts issue 9 names, and their neighbours.
FIXED_COMMANDS = (
    "prompts remove 999999999999999999999",
    "prompts remove ws-999999999999999999999",
    "prompts remove ws-0",
    "prompts remove -1",
    "prompts remove ws-١٢",
    "skip Zebra sync 9999-12-31",
    "skip 0000-00-00",
    "skip 2026-02-30",
    "skip Zebra sync 99999-01-01",
    "report Zebra sync 0",
    "report 99999999999999999999",
    "wins 9999-99",
    "wins Zebra sync 0000-00",
    "pulse votes Zebra sync",
    "alerts on Zebra sync",
    "role \x00",
    "reminders \x00on",
)


def fill(rng: random.Random, template: str, sender: str, w: Worlds) -> str:
    def slot(name: str) -> str:
        if rng.random() < 0.5:
            return fragment(rng, sender, w)
        if name == "name":
            return rng.choice([w.other.ritual_name, *([w.home.ritual_name] if sender == STRANGER else [])])
        if name == "prompt":
            ids_ = [w.other.prompt_id, *UNKNOWN_IDS, *([w.home.prompt_id] if sender == STRANGER else [])]
            return f"ws-{rng.choice(ids_)}"
        return rng.choice(VALID_SLOTS[name])

    return re.sub(r"\{(\w+)\}", lambda m: slot(m[1]), template)


def command_texts(b: Batch, subcommands: list[str], per_subcommand: int) -> None:
    rng, w = b.rng, b.worlds
    home_names = {w.home.ritual_name.casefold()}
    home_ids = {str(i) for i in home_object_ids(w)}
    odd = ["", "xyzzy", "PAUSE", "ｈｅｌｐ", "pulse votes", "prompts remove", "prompts add"]
    for text in FIXED_COMMANDS:
        for sender in SENDERS:
            b.command(text.split()[0], text, sender=sender, channel_id=NOWHERE if sender == ADMIN else SHARED)
    for sub in [*subcommands, *odd]:
        for i in range(per_subcommand if sub in subcommands else 6):
            sender = STRANGER if i % 10 < 7 else ADMIN
            if sub in TEMPLATES and i % 2:
                text = fill(rng, rng.choice(TEMPLATES[sub]), sender, w)
            else:
                args = " ".join(fragment(rng, sender, w) for _ in range(rng.randint(0, 4)))
                text = f"{sub} {args}".strip() if rng.random() < 0.95 else f"  {sub}\t{args}  "
            if sender == ADMIN and (
                any(name in text.casefold() for name in home_names)
                or ("remove" in text and any(n in home_ids for n in re.findall(r"\d+", text)))
            ):
                sender = STRANGER  # what the admin may legitimately change is never sent in the admin's name
            channel = NOWHERE if sender == ADMIN else rng.choice([SHARED, SHARED, NOWHERE, "D0DM"])
            b.command(sub or "(none)", text, sender=sender, channel_id=channel)


def subcommand_names() -> list[str]:
    """Every subcommand the router knows, from the same registration `create_app` runs."""
    app = App(signing_secret="x", token="xoxb-x", token_verification_enabled=False)
    return register_listeners(app).names


def build_batch(slack: SlackRequests, worlds: Worlds) -> Batch:
    b = Batch(random.Random(SEED), slack, worlds)
    for sender in SENDERS:
        id_actions(b, sender)
        pairing_actions(b, sender)
        written_actions(b, sender)
        pulse_actions(b, sender)
        comment_actions(b, sender)
        plain_actions(b, sender)
        view_submissions(b, sender)
        shortcuts(b, sender)
    names = subcommand_names()
    command_texts(b, names, per_subcommand=max(50, -(-MIN_COMMANDS // len(names)) + 5))
    return b


def interactive_ids() -> set[str]:
    """What the fuzz must cover: every block action Tandem dispatches, every modal and shortcut.

    Input elements of modals (`ACTION_*` whose value ends in "_value") dispatch nothing, except the
    setup modal's cadence select; the pulse's answer and side buttons are matched by prefix.
    """
    wanted = {ids.ACTION_SETUP_CADENCE}
    for name, value in vars(ids).items():
        if not isinstance(value, str):
            continue
        if name.startswith("ACTION_") and not value.endswith("_value"):
            wanted.add(value)
        if name.startswith(("VIEW_", "SHORTCUT_")):
            wanted.add(value)
    return wanted


# -- sending ------------------------------------------------------------------------------------------


def send_all(slack: SlackRequests, cases: list[Case]) -> dict[int, requests.Response]:
    local = threading.local()

    def send(case: Case) -> tuple[int, requests.Response]:
        if not hasattr(local, "slack"):
            local.slack = slack.clone()
        return case.n, local.slack.send(case.request)

    # Deleting a ritual goes last, so that the requests before it meet the world as seeded.
    ordered = sorted(cases, key=lambda c: c.surface == f"action:{ids.ACTION_RITUAL_DELETE_CONFIRM}")
    with ThreadPoolExecutor(SENDING_THREADS, thread_name_prefix="fuzz-sender") as pool:
        return dict(pool.map(send, ordered))


# -- verdicts -----------------------------------------------------------------------------------------


BLOCK_IDS = {v for k, v in vars(ids).items() if k.startswith("BLOCK_") and isinstance(v, str)}


@dataclass
class Answers:
    """What Slack (the fake) received during the batch, indexed by what identifies each request."""

    responses: dict[str, list[dict[str, Any]]]
    opened: set[str]  # trigger ids of views.open / views.push
    updated: set[str]  # view ids of views.update

    @classmethod
    def of(cls, fake: FakeSlack) -> Answers:
        responses: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for call in fake.calls("response_url"):
            responses[call.path.rsplit("/", 1)[-1]].append(call.params)
        opened = {
            str(c.params.get("trigger_id")) for c in fake.calls() if c.method in ("views.open", "views.push")
        }
        updated = {str(c.params.get("view_id")) for c in fake.calls("views.update")}
        return cls(dict(responses), opened, updated)

    def texts(self, name: str | None) -> list[str]:
        return [
            p["text"]
            for p in self.responses.get(name or "", [])
            if isinstance(p.get("text"), str) and p["text"].strip()
        ]

    def deleted(self, name: str | None) -> bool:
        return any(p.get("delete_original") for p in self.responses.get(name or "", []))


def verdict(case: Case, response: requests.Response, answers: Answers) -> str | None:
    """What is wrong with how `case` was answered, or None."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    body = response.text.strip()
    kind = case.surface.split(":", 1)[0]
    if kind == "view":
        return view_verdict(case, body)
    if kind == "command":
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                return f"answered with a body that is not JSON: {body[:80]!r}"
            if not (isinstance(data.get("text"), str) and data["text"].strip()):
                return f"answered without a text: {body[:120]!r}"
            if data.get("response_type", "ephemeral") != "ephemeral":
                return f"answered in the channel ({data.get('response_type')!r}), not ephemerally"
            return None
        if answers.texts(case.response_name) or case.trigger_id in answers.opened:
            return None
        return "empty ack, and no message to its response_url and no modal followed"
    # Block actions and shortcuts (Slack ignores what their ack carries).
    texts = answers.texts(case.response_name)
    if case.expect is Expect.REFUSE:
        return None if texts else "no message to its response_url (it names what the sender may not change)"
    if texts or answers.deleted(case.response_name):
        return None
    if case.trigger_id in answers.opened or (case.view_id and case.view_id in answers.updated):
        return None
    return "no answer: no message to its response_url, no modal opened or updated"


def view_verdict(case: Case, body: str) -> str | None:
    if not body:
        if case.expect is Expect.REFUSE:
            return "accepted (the modal closed) though it names what the sender may not change"
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return f"answered with a body that is not JSON: {body[:80]!r}"
    action = data.get("response_action")
    if action == "errors":
        errors = data.get("errors")
        if not isinstance(errors, dict) or not errors:
            return f"response_action errors without errors: {body[:120]!r}"
        unknown = sorted(k for k in errors if k not in BLOCK_IDS)
        if unknown:
            return f"inline errors on blocks no modal has (Slack shows nothing): {unknown}"
        if not all(isinstance(v, str) and v.strip() for v in errors.values()):
            return f"an inline error without a sentence: {errors!r:.120}"
        return None
    if action in ("update", "push") and isinstance(data.get("view"), dict):
        return None
    if action == "clear" and case.expect is Expect.ANSWER:
        return None
    return f"unexpected answer {body[:120]!r}"


# -- what may change ----------------------------------------------------------------------------------

# (table, column) where a new row may point at a row of the seeded world: what anyone in the workspace
# may add to what is already there.
MAY_POINT_AT_SEEDED = {
    ("pulse_ballots", "pulse_id"),  # an answer to the home workspace's open pulse
    ("pulse_votes", "pulse_id"),
    ("commitments", "ritual_id"),  # a commitment from the check-in's "Add a commitment" button
    ("seen_submissions", "workspace_id"),  # the record of a submission that saved something
    *((table, "workspace_id") for table in ("rituals", "wins", "commitments", "custom_prompts", "people")),
}


def forbidden_changes(before: Snapshot, after: Snapshot, worlds: Worlds) -> list[str]:
    home = worlds.home.workspace_id
    latest_due = worlds.today.replace(year=worlds.today.year + MAX_DUE_YEARS)
    problems: list[str] = []
    for change in changes(before, after):
        row = change.after or change.before or {}
        if change.table == "people" and row["workspace_id"] == home and row["slack_user_id"] in SENDERS:
            continue  # a sender's own side, reminders, or forgetting themselves
        if (
            change.table == "schedule_changes"
            and change.before is not None
            and change.after is not None
            and change.after["stamp"] > change.before["stamp"]
        ):
            # The schedulers' change stamp (db/schedule.py): a counter, raised with every ritual a
            # sender creates in the home workspace, holding nothing of anyone's. It only moves with a
            # change to a ritual or a workspace, and that change is itself checked here.
            continue
        if change.before is not None:
            problems.append(f"seeded row touched: {change}")
            continue
        refs = {column: row[column] for column in SCOPE_COLUMNS if row.get(column) is not None}
        if not refs:
            problems.append(f"new row where no request may add one: {change}")
        for column, value in refs.items():
            target = SCOPE_COLUMNS[column]
            parent = after[target].get((value,))
            if parent is None or workspace_of(after, target, parent) != home:
                problems.append(
                    f"new row points at another workspace's {target} ({column}={value}): {change}"
                )
            elif (value,) in before[target] and (change.table, column) not in MAY_POINT_AT_SEEDED:
                problems.append(f"new row attached to the seeded {target} row {value}: {change}")
        if "created_by" in row and row["created_by"] not in SENDERS:
            problems.append(f"new row made in someone else's name: {change}")
        if change.table == "commitments" and row["due_date"] > latest_due:
            problems.append(f"a commitment due more than {MAX_DUE_YEARS} years ahead: {change}")
    return problems


def leaks(fake: FakeSlack, other: Furnished) -> list[str]:
    """The other workspace's texts, people or team id in anything Slack was sent during the batch.
    (Its ritual's name is left out: commands name it, and a refusal may quote what was typed.)"""
    secrets = [s for s in other.secrets() if s != other.ritual_name]
    found = []
    for call in fake.calls():
        text = json.dumps(call.params, ensure_ascii=False, default=str)
        for secret in secrets:
            if secret in text:
                found.append(f"{call.method} carries {secret!r}: {call.path} {text[:200]}")
    return found


def where(exc: BaseException) -> str:
    """The deepest frame of Tandem's own code in a traceback: where to look."""
    found = "?"
    tb = exc.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if any(f"/{package}/" in path for package in ("bot", "db", "jobs")) and "site-packages" not in path:
            found = f"{path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def unexpected_logs(records: list[logging.LogRecord]) -> list[str]:
    found = []
    for r in records:
        exc = r.exc_info[1] if r.exc_info else None
        if r.levelno >= logging.ERROR or (exc is not None and not isinstance(exc, HANDLED)):
            kind = f"{type(exc).__name__} at {where(exc)}" if exc is not None else "no exception"
            found.append(f"{r.levelname} {r.name} {kind}: {r.getMessage()[:120]} {str(exc)[:160]!r}")
    return found


def summary(title: str, problems: list[str], limit: int = 40) -> str:
    """The problems of one kind counted by what went wrong where (the text before the first "] " of
    a request's, the first ": " of anything else), then the first `limit` in full."""
    counted: dict[str, int] = defaultdict(int)
    for p in problems:
        request = p.split(" ", 1)[0].split(":", 1)[0] in ("action", "view", "shortcut", "command")
        counted[p.split("] ", 1)[0] + "]" if request else p.split(": ", 1)[0]] += 1
    groups = "".join(f"\n    {n:4d} x {k}" for k, n in sorted(counted.items(), key=lambda kv: -kv[1]))
    shown = "".join(f"\n  {p[:400]}" for p in problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{title}: {len(problems)}{groups}\n  examples:{shown}{more}"


# -- the test -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    worlds: Worlds
    batch: Batch
    responses: dict[int, requests.Response]
    before: Snapshot
    after: Snapshot
    answers: Answers
    seconds: float


def run_batch(settings: Settings, database: Database, fake: FakeSlack, clock: FrozenClock) -> Outcome:
    worlds = seed(database, clock, fake)
    before = snapshot(database)
    started = time.monotonic()
    # Its own runtime, with several listener threads; leaving `serve_runtime` closes it, which waits
    # for all the work Bolt runs after acknowledging and for everything queued for Slack.
    runtime = Runtime(
        settings, Mode.HTTP, clock=clock, listener_threads=LISTENER_THREADS, poster_interval=0.0
    )
    with serve_runtime(runtime, fake, clock) as app:
        batch = build_batch(app.slack, worlds)
        fake.clear()
        responses = send_all(app.slack, batch.cases)
    return Outcome(
        worlds, batch, responses, before, snapshot(database), Answers.of(fake), time.monotonic() - started
    )


def test_thousands_of_tampered_requests_are_answered_and_change_nothing_they_may_not(
    settings: Settings,
    database: Database,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    out = run_batch(settings, database, fake_slack, clock)
    cases = out.batch.cases
    interactive = [c for c in cases if not c.surface.startswith("command:")]
    commands = [c for c in cases if c.surface.startswith("command:")]
    assert len(interactive) >= MIN_INTERACTIVE and len(commands) >= MIN_COMMANDS, (
        len(interactive),
        len(commands),
    )
    uncovered = interactive_ids() - out.batch.covered
    assert not uncovered, f"ids Tandem listens to that the fuzz never sends: {sorted(uncovered)}"

    problems = []
    for case in cases:
        wrong = verdict(case, out.responses[case.n], out.answers)
        if wrong:
            problems.append(f"{case.surface} [{wrong}] {case}")
    checks = {
        "requests answered wrongly": problems,
        "unhandled errors logged": unexpected_logs(caplog.records),
        "rows changed that the sender may not change": forbidden_changes(out.before, out.after, out.worlds),
        "the other workspace revealed": leaks(fake_slack, out.worlds.other),
        "errors inside the fake Slack": list(fake_slack.errors),
    }
    if report := os.environ.get("TANDEM_FUZZ_REPORT"):  # every problem, for whoever fixes them
        Path(report).write_text("\n\n".join(summary(t, p, limit=len(p)) for t, p in checks.items()))
    failed = [summary(title, found) for title, found in checks.items() if found]
    assert not failed, (
        f"{len(interactive)} interactive payloads and {len(commands)} commands in {out.seconds:.1f} s\n\n"
        + "\n\n".join(failed)
    )
