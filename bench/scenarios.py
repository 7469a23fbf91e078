"""The benchmark's scenarios: what one request of each looks like, and what Tandem does for it.

Adding a scenario is adding one `Scenario` to `SCENARIOS`:

- `build(requests)` returns one freshly signed request (a `tests.slack_requests.BuiltRequest`); it is
  called in bulk before each measured phase, so signing is never inside the measurement. `requests`
  is a `SlackRequests` whose `default_response_url` is on the fake Slack.
- `tandem_calls` says which calls Tandem makes to the fake Slack *after* acknowledging each request
  (e.g. ``{"response_url": 1}``). After every Tandem phase the harness waits for them and reports how
  many arrived, so a scenario cannot look fast by silently dropping its post-ack work.
- `setup(context)` (optional) runs once, after both servers are up and before the scenario's first
  request: seed Tandem's database (`context.database_url`) or the fake, e.g. a pulse to click on.

The bare Bolt app acks every `/tandem` command and every block action, so any command or block-action
scenario works against it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot import ids
from tests.slack_requests import BuiltRequest, SlackRequests


@dataclass(frozen=True)
class BenchContext:
    """What a scenario's `setup` may need to know about the running benchmark."""

    fake_url: str
    tandem_url: str
    bare_url: str
    database_url: str
    signing_secret: str
    workdir: Path


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    build: Callable[[SlackRequests], BuiltRequest]
    tandem_calls: Mapping[str, int] = field(default_factory=dict)
    setup: Callable[[BenchContext], None] | None = None


def _help_command(requests: SlackRequests) -> BuiltRequest:
    return requests.build_command("help")


def _help_dismiss_click(requests: SlackRequests) -> BuiltRequest:
    # The "Got it" button under `/tandem help`: Tandem acks, then deletes the ephemeral message
    # through the response_url (one POST to the fake per click).
    return requests.build_block_action(ids.ACTION_HELP_DISMISS, value="dismiss")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "help",
            "signed `/tandem help` slash command (Tandem acks with the help blocks)",
            _help_command,
        ),
        Scenario(
            "click",
            'signed block action "help_dismiss" (Tandem acks, then respond(delete_original) to the fake)',
            _help_dismiss_click,
            tandem_calls={"response_url": 1},
        ),
    )
}
