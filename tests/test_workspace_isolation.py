"""Two workspaces installed through OAuth: nothing of workspace A can be read, changed or attached to
from workspace B, by id or by name (issue 9's acceptance).

Workspace B's admin (the most a hostile workspace has) sends validly signed requests from B, each
carrying one of workspace A's ids or names: the setup modal saved with A's ritual id, the delete
button with it, every ritual command by A's ritual name, closing and answering A's pulse, editing and
withdrawing A's win, marking done, moving and dropping A's commitment, a commitment attached to A's
ritual, removing A's prompt, and listing. Both rituals live in one Slack Connect channel, so even the
channel does not tell them apart: only the workspace does.

For each request: HTTP 200; a clear "not found" answer (an ephemeral text, or an inline modal error);
none of A's names, texts, people or team id in anything B is shown or Slack is sent on B's behalf;
and no Web API call at all with A's token. After all of them, every row of workspace A is exactly as
it was, and no new row points at one of A's.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from slack_sdk.oauth.installation_store import Installation

from bot import ids
from bot.config import Mode, Settings
from bot.runtime import Runtime
from db.session import Database
from tests.clock import FrozenClock
from tests.conftest import SIGNING_SECRET, RunningApp, serve_runtime
from tests.fake_slack import APP_ID, FakeSlack, _SlackError
from tests.modal_values import commit_values, drop_values, move_values, setup_values, win_values
from tests.slack_requests import SlackRequests
from tests.world import SCOPE_COLUMNS, Furnished, World, changes, snapshot, workspace_of

CLIENT_ID, CLIENT_SECRET = "1234.5678", "oauth-client-secret-0123456789"
TEAM_A, TEAM_B = "T_ALPHA", "T_BETA"
TOKEN_A, TOKEN_B = "xoxb-alpha-token", "xoxb-beta-token"
CONNECT = "C_CONNECT"  # a Slack Connect channel both workspaces have a ritual in
ATTACKER = "U_B_ADMIN"  # workspace B's admin: may do anything in B
B_PEOPLE = ("U_B_M1", "U_B_I1")
# What a clear "not found" says, in the words Tandem uses (bot.blocks.rituals.refusal_text and the
# features' own): the object is unknown here, gone, or not this workspace's. A permission refusal
# ("Only <@U…> can …") is not one: it tells B that the object exists, and whose it is.
NOT_FOUND = re.compile(
    r"not found|can['’]?t find|cannot find|could(?: not|n['’]t) (?:be )?find|could(?: not|n['’]t) be found|no longer exists|doesn['’]t exist|"
    r"does not exist|not one of this workspace|isn['’]t one of|no such|unknown|was deleted|already deleted|"
    r"there is no|no check-in",
    re.IGNORECASE,
)


class TwoTeamSlack(FakeSlack):
    """The fake Web API answering as the workspace each bot token belongs to: `auth.test` names the
    token's team, and `users.info` knows only that team's people (as Slack does outside shared
    channels)."""

    def __init__(self, teams: dict[str, tuple[str, str]]) -> None:
        super().__init__()
        self.teams = teams  # token -> (team id, team name)
        self.valid_tokens = set(teams)

    def _api(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        team = self.teams.get(token or "")
        if method == "users.info" and team is not None:
            user = self.users.get(str(params.get("user") or ""))
            if user is not None and user.team_id != team[0]:
                raise _SlackError("user_not_found")
        result = super()._api(method, params, token)
        if method == "auth.test" and team is not None:
            result.update(team_id=team[0], team=team[1], url=f"https://{team[0].lower()}.slack.com/")
        return result


def install(runtime: Runtime, team_id: str, name: str, token: str, clock: FrozenClock) -> None:
    """What a completed OAuth install leaves behind: the installation and its bot in the store."""
    assert runtime.installation_store is not None
    runtime.installation_store.save(
        Installation(
            app_id=APP_ID,
            enterprise_id=None,
            team_id=team_id,
            team_name=name,
            bot_token=token,
            bot_id=f"B_{team_id}",
            bot_user_id=f"U_BOT_{team_id}",
            bot_scopes=["commands", "chat:write", "users:read", "channels:read", "im:write", "files:write"],
            user_id=f"U_INSTALLER_{team_id}",
            installed_at=clock.now().timestamp(),
        )
    )


@dataclass
class Two:
    runtime: Runtime
    fake: TwoTeamSlack
    clock: FrozenClock
    a: Furnished
    b: Furnished
    today: dt.date
    app: RunningApp | None = None

    @property
    def b_slack(self) -> SlackRequests:
        assert self.app is not None
        return SlackRequests(
            self.app.url, SIGNING_SECRET, TEAM_B, default_response_url=self.fake.response_url()
        )


@pytest.fixture
def two(database_url: str, database: Database, clock: FrozenClock) -> Iterator[Two]:
    """Workspaces A and B installed (each its own bot token in the installation store), each with a
    ritual in the shared channel, pulses, a win, a commitment and a prompt; the app not yet served."""
    fake = TwoTeamSlack({TOKEN_A: (TEAM_A, "Alpha"), TOKEN_B: (TEAM_B, "Beta")})
    with fake:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_client_id=CLIENT_ID,
            slack_client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
            slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
            slack_api_url=fake.base_url,
            database_url=database_url,
        )
        assert settings.resolve_mode() is Mode.OAUTH
        world = World(database, clock)
        a = world.furnished(
            TEAM_A,
            label="ALPHA",
            channel=CONNECT,
            marketing=("U_A_M1",),
            it=("U_A_I1",),
            ritual_name="Alpha sync",
        )
        b = world.furnished(
            TEAM_B,
            label="BETA",
            channel=CONNECT,
            marketing=B_PEOPLE[:1],
            it=B_PEOPLE[1:],
            ritual_name="Beta sync",
        )
        fake.add_channel(CONNECT, name="mkt-it-connect", is_member=True)
        for user in (*a.marketing, *a.it):
            fake.add_user(user, team_id=TEAM_A, tz="Europe/Berlin")
        for user in B_PEOPLE:
            fake.add_user(user, team_id=TEAM_B, tz="Europe/Berlin")
        fake.add_user(ATTACKER, team_id=TEAM_B, tz="Europe/Berlin", is_admin=True)
        runtime = Runtime(settings, Mode.OAUTH, clock=clock, listener_threads=1, poster_interval=0.0)
        install(runtime, TEAM_A, "Alpha", TOKEN_A, clock)
        install(runtime, TEAM_B, "Beta", TOKEN_B, clock)
        yield Two(runtime, fake, clock, a, b, clock.now().date())


# -- what B tries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One request from workspace B carrying workspace A's id or name."""

    what: str
    kind: str  # "command", "action" or "view"
    send: Callable[[Two, str], requests.Response]  # (world, response_url name) -> the app's answer
    must_say_not_found: bool = True


def command(text: str, *, not_found: bool = True) -> Attempt:
    def send(t: Two, name: str) -> requests.Response:
        return t.b_slack.command(
            text,
            user_id=ATTACKER,
            channel_id=CONNECT,
            response_url=t.fake.response_url(name),
            trigger_id=name,
        )

    return Attempt(f"/tandem {text}", "command", send, not_found)


def button(action_id: str, value: Callable[[Furnished], str], *, not_found: bool = True) -> Attempt:
    def send(t: Two, name: str) -> requests.Response:
        return t.b_slack.block_action(
            action_id,
            value=value(t.a),
            user_id=ATTACKER,
            channel_id=CONNECT,
            response_url=t.fake.response_url(name),
            trigger_id=name,
        )

    return Attempt(f"button {action_id} with A's id", "action", send, not_found)


def menu(choice: str) -> Attempt:
    def send(t: Two, name: str) -> requests.Response:
        option = {"text": {"type": "plain_text", "text": choice}, "value": f"{choice}:{t.a.commitment_id}"}
        return t.b_slack.block_action(
            ids.ACTION_COMMIT_MENU,
            user_id=ATTACKER,
            channel_id=CONNECT,
            response_url=t.fake.response_url(name),
            trigger_id=name,
            action_type="overflow",
            selected_option=option,
        )

    return Attempt(f"overflow {choice} on A's commitment", "action", send)


def submission(
    callback_id: str, metadata: Callable[[Furnished], dict[str, Any]], values: Callable[[Two], dict[str, Any]]
) -> Attempt:
    def send(t: Two, name: str) -> requests.Response:
        return t.b_slack.view_submission(
            callback_id,
            values=values(t),
            private_metadata=json.dumps(metadata(t.a)),
            user_id=ATTACKER,
            view_id=f"V_{name}",
        )

    return Attempt(f"{callback_id} submitted with A's id in private_metadata", "view", send)


# In the order sent, from reading to deleting: a request that wrongly succeeds changes A for the ones
# after it (each such change is reported, and the answers after it stop saying "not found").
ATTEMPTS = [
    # Reading: B's lists show nothing of A's.
    command("list", not_found=False),
    command("prompts", not_found=False),
    command("wins", not_found=False),
    # Every ritual command, by A's ritual name, from the channel both rituals live in.
    *(
        command(f"{sub} Alpha sync")
        for sub in ("edit", "report", "export", "commit", "delete", "pulse", "skip", "now", "pause", "resume")
    ),
    command("report Alpha sync 4"),
    command("pulse votes Alpha sync"),
    command("wins Alpha sync"),
    command("skip Alpha sync 2026-12-01"),
    command("alerts off Alpha sync"),
    # A's pulses: answering them, choosing a side for an answer to them, closing them.
    button(f"{ids.ACTION_PULSE_ANSWER_PREFIX}:partner:4", lambda a: f"{a.open_pulse_id}:partner:4"),
    button(f"{ids.ACTION_PULSE_ANSWER_PREFIX}:level:3", lambda a: f"{a.closed_pulse_id}:level:3"),
    button(f"{ids.ACTION_PULSE_SIDE_PREFIX}:marketing", lambda a: f"{a.open_pulse_id}:level:3"),
    button(ids.ACTION_PULSE_CLOSE, lambda a: str(a.closed_pulse_id)),
    button(ids.ACTION_PULSE_CLOSE, lambda a: str(a.open_pulse_id)),
    # A's win: opening its editor, saving an edit, withdrawing it.
    button(ids.ACTION_WIN_EDIT, lambda a: str(a.win_id)),
    submission(
        ids.VIEW_WIN,
        lambda a: {"win_id": a.win_id},
        lambda t: win_values(what="Edited by B", marketing=B_PEOPLE[:1], it=B_PEOPLE[1:], channel=CONNECT),
    ),
    button(ids.ACTION_WIN_WITHDRAW, lambda a: str(a.win_id)),
    # A's commitment: the buttons and menu choices that open a modal, then those that change it.
    button(ids.ACTION_COMMIT_MOVE, lambda a: str(a.commitment_id)),
    button(ids.ACTION_COMMIT_DROP, lambda a: str(a.commitment_id)),
    menu("move"),
    menu("drop"),
    submission(
        ids.VIEW_COMMIT_MOVE,
        lambda a: {"commitment_id": a.commitment_id},
        lambda t: move_values(t.today + dt.timedelta(days=30)),
    ),
    submission(
        ids.VIEW_COMMIT_DROP, lambda a: {"commitment_id": a.commitment_id}, lambda t: drop_values("B says so")
    ),
    menu("done"),
    button(ids.ACTION_COMMIT_DONE, lambda a: str(a.commitment_id)),
    # A's prompt.
    command("prompts remove ws-{prompt}"),
    command("prompts remove {prompt}"),
    # A's ritual by id: a commitment attached to it, then renaming it, then deleting it.
    # The check-in's "Add a commitment" button: opening a modal for no ritual is a fair answer too.
    button(ids.ACTION_COMMIT_ADD, lambda a: str(a.ritual_id), not_found=False),
    submission(
        ids.VIEW_COMMIT,
        lambda a: {"ritual_id": a.ritual_id, "commitment_id": None},
        lambda t: commit_values(
            what="Attached by B",
            marketing_owner=B_PEOPLE[0],
            it_owner=B_PEOPLE[1],
            due=t.today + dt.timedelta(days=7),
        ),
    ),
    submission(
        ids.VIEW_SETUP,
        lambda a: {"ritual_id": a.ritual_id},
        lambda t: setup_values(channel=CONNECT, name="Renamed by B", marketing=B_PEOPLE[:1], it=B_PEOPLE[1:]),
    ),
    button(ids.ACTION_RITUAL_DELETE_CONFIRM, lambda a: str(a.ritual_id)),
]


# -- judging the answers ------------------------------------------------------------------------------


def shown_to_b(t: Two, name: str, response: requests.Response) -> list[str]:
    """Everything B was shown for one attempt: the HTTP answer's texts and its response_url messages."""
    shown = [response.text] if response.text.strip() else []
    shown += [json.dumps(p, ensure_ascii=False) for p in t.fake.responses(name)]
    return shown


def answer_text(attempt: Attempt, name: str, response: requests.Response, t: Two) -> str | None:
    """The sentence B got back, or None when B got none."""
    body = response.text.strip()
    data: dict[str, Any] = {}
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            return None
    if attempt.kind == "view":
        errors = data.get("errors") if data.get("response_action") == "errors" else None
        return " ".join(str(v) for v in errors.values()) if isinstance(errors, dict) and errors else None
    texts = [data["text"]] if isinstance(data.get("text"), str) and data["text"].strip() else []
    texts += [
        p["text"] for p in t.fake.responses(name) if isinstance(p.get("text"), str) and p["text"].strip()
    ]
    return " ".join(texts) or None


def a_rows_changed(before: dict, after: dict, a: Furnished) -> list[str]:
    """Rows of workspace A that changed, disappeared or appeared, and new rows pointing into A."""
    found = []
    for change in changes(before, after):
        row = change.after or change.before or {}
        tables = after if change.after is not None else before
        owner = workspace_of(tables, change.table, row)
        pointing_into_a = any(
            (parent := after[target].get((row[column],))) is not None
            and workspace_of(after, target, parent) == a.workspace_id
            for column, target in SCOPE_COLUMNS.items()
            if row.get(column) is not None
        )
        if owner == a.workspace_id or pointing_into_a or owner is None:
            found.append(str(change))
    return found


def test_workspace_b_can_neither_read_change_nor_attach_to_workspace_a(two: Two, database: Database) -> None:
    t = two
    problems: list[str] = []
    with serve_runtime(t.runtime, t.fake, t.clock) as app:
        t.app = app
        # Both installations answer: B sees its own ritual in the shared channel, and only that.
        control = t.b_slack.command("list", user_id=ATTACKER, channel_id=CONNECT)
        assert control.status_code == 200 and "Beta sync" in control.text, control.text
        assert "Alpha sync" not in control.text
        app.settle()
        t.fake.clear()
        before = snapshot(database)
        for n, attempt in enumerate(ATTEMPTS):
            problems += judge(t, with_ids(attempt, t.a), f"b{n}")
    # The runtime is closed: whatever B's requests queued has been sent.
    for call in t.fake.calls():
        if call.token == TOKEN_A:
            problems.append(
                f"a Web API call in workspace A on B's behalf: {call.method} {str(call.params)[:160]}"
            )
        text = json.dumps(call.params, ensure_ascii=False, default=str)
        for secret in t.a.secrets():
            if secret in text and secret != t.a.ritual_name:
                problems.append(f"Slack was sent A's {secret!r}: {call.method} {text[:200]}")
    problems += [f"A's data changed: {c}" for c in a_rows_changed(before, snapshot(database), t.a)]
    assert not problems, f"{len(problems)} ways workspace B reached workspace A:\n  " + "\n  ".join(problems)


def judge(t: Two, attempt: Attempt, name: str) -> list[str]:
    """Send one attempt and say what is wrong with its answer."""
    assert t.app is not None
    response = attempt.send(t, name)
    t.app.settle()
    what = f"{attempt.what}:"
    if response.status_code != 200:
        return [f"{what} HTTP {response.status_code}"]
    problems = []
    typed = attempt.what if attempt.kind == "command" else ""  # a refusal may quote what B typed
    secrets = [s for s in t.a.secrets() if s not in typed]
    for shown in shown_to_b(t, name, response):
        problems += [f"{what} B was shown A's {s!r}: {shown[:200]}" for s in secrets if s in shown]
    answer = answer_text(attempt, name, response, t)
    opened = [c for c in t.fake.calls("views.open") if c.params.get("trigger_id") == name]
    if attempt.must_say_not_found:
        if answer is None:
            problems.append(f"{what} no answer (body {response.text[:120]!r})")
        elif not NOT_FOUND.search(answer):
            problems.append(f"{what} not a clear 'not found': {answer[:200]!r}")
    elif answer is None and not opened:
        problems.append(f"{what} no answer")
    for call in opened:
        try:
            metadata = json.loads((call.params.get("view") or {}).get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        if isinstance(metadata, dict) and metadata.get("ritual_id") == t.a.ritual_id:
            problems.append(f"{what} a modal opened for A's ritual")
    return problems


def with_ids(attempt: Attempt, a: Furnished) -> Attempt:
    """Fill A's prompt id into a command's text."""
    if "{prompt}" not in attempt.what:
        return attempt
    text = attempt.what.removeprefix("/tandem ").format(prompt=a.prompt_id)
    return command(text, not_found=attempt.must_say_not_found)
