"""The benchmark's scenarios: what one request of each looks like, and what Tandem does for it.

Adding a scenario is adding one `Scenario` to `SCENARIOS`:

- `build(requests)` returns one freshly signed request (a `tests.slack_requests.BuiltRequest`); it is
  called in bulk before each measured phase, so signing is never inside the measurement. `requests`
  is a `SlackRequests` whose `default_response_url` is on the fake Slack.
- `tandem_calls` says which calls Tandem makes to the fake Slack *after* acknowledging each request
  (e.g. ``{"response_url": 1}``). After every Tandem phase the harness waits for them and reports how
  many arrived, so a scenario cannot look fast by silently dropping its post-ack work.
- `respond_calls`: the same for the `bare-respond` baseline (`bench.bare_app --respond`), which answers
  every block action's response_url once and acks commands only.
- `setup(context)` (optional) runs once, after both servers are up and before the scenario's first
  request: seed Tandem's database (`context.database_url`) or the fake, e.g. a pulse to click on.
- `fresh_requests`: every request may be sent only once (a click carries an increasing `action_ts`,
  and a replayed one would take another code path). The harness then signs as many requests as the
  phase is expected to send instead of cycling through a fixed pool, and reports any replays.
- `sent(app_url, n)` (optional): after each phase, the harness says how many of the requests built
  for the server at `app_url` since the previous call were taken by the load generator (always a
  prefix, in build order). A scenario with state, such as `pulse`, uses it to know who clicked.
- `verify(context)` (optional) runs after the last phase, while Tandem is still up, and checks
  Tandem's database against what was sent; its verdict is printed and stored with the results.

The bare Bolt app acks every `/tandem` command and every block action, so any command or block-action
scenario works against it unchanged.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bot import ids
from bot.blocks.pulse import answer_action_id, encode_answer
from db.cadence import Cadence, CadenceKind
from db.migrate import upgrade
from db.models import Person, Pulse, PulseBallot, PulseQuestion, PulseTally, Side
from db.pulses import VoterKeys, close_pulse, open_pulse, voter_key
from db.rituals import RitualSpec, create_ritual
from db.session import Database
from db.workspaces import ensure_workspace
from tests.fake_slack import TEAM_ID  # what the fake's auth.test answers
from tests.slack_requests import BuiltRequest, SlackRequests

# The server key the benchmarked Tandem runs with (bench/run.py passes it as TANDEM_SECRET_KEY), so
# that the checks below can name the ballots they expect.
BENCH_SECRET_KEY = "bench-secret-key-0123456789abcdef0123"
BENCH_VOTER_KEYS = VoterKeys(BENCH_SECRET_KEY.encode())


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
class Verdict:
    """What a scenario's `verify` found: `ok`, one line for people, and the figures for the JSON."""

    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    build: Callable[[SlackRequests], BuiltRequest]
    tandem_calls: Mapping[str, int] = field(default_factory=dict)
    respond_calls: Mapping[str, int] = field(default_factory=dict)
    setup: Callable[[BenchContext], None] | None = None
    fresh_requests: bool = False
    sent: Callable[[str, int], None] | None = None
    verify: Callable[[BenchContext], Verdict] | None = None


def _help_command(requests: SlackRequests) -> BuiltRequest:
    return requests.build_command("help")


def _help_dismiss_click(requests: SlackRequests) -> BuiltRequest:
    # The "Got it" button under `/tandem help`: Tandem acks, then deletes the ephemeral message
    # through the response_url (one POST to the fake per click).
    return requests.build_block_action(ids.ACTION_HELP_DISMISS, value="dismiss")


# ------------------------------------------------------------------------------------------ pulse


@dataclass
class _Stream:
    """The clicks built for one server: those known to be sent, and those built since the last report."""

    sent: int = 0
    pending: list[tuple[int, int]] = field(default_factory=list)  # (person index, score), build order
    last_score: dict[int, int] = field(default_factory=dict)  # person index -> score of their latest click
    first_answers: int = 0
    changes: int = 0
    replayed: int = 0


class PulseClicks:
    """Clicks on one open anonymous pulse by `people` people, half marketing and half IT.

    Click *n* sent to a server is by person ``n % people`` with score ``(person + n // people) % 5 + 1``:
    people take turns, and each person's next click has another score than their last, so after
    everyone's first answer every click changes an answer (the path that rewrites a ballot and moves
    two tallies). Every click has its own `action_ts`, increasing in build order, and its own trigger
    id. The sequence continues after the last click actually sent (see `sent`), so the people who
    clicked on Tandem, and each one's latest score, are known exactly and can be checked afterwards.
    """

    CHANNEL = "C_SHARED"  # tests.slack_requests' default channel
    MESSAGE_TS = "1700000000.000100"  # the pulse message, so the debounced chat.update refresh runs

    def __init__(self, people: int = 2000) -> None:
        self.people = people
        self.pulse_id: int | None = None
        self.tandem_url = ""
        self._streams: dict[str, _Stream] = {}
        self._last_us = 0

    @staticmethod
    def user_id(index: int) -> str:
        return f"UBENCH{index:05d}"

    @staticmethod
    def side_of(index: int) -> Side:
        return Side.MARKETING if index % 2 == 0 else Side.IT

    def setup(self, context: BenchContext) -> None:
        """Seed Tandem's database: the workspace, a ritual in a channel, the people with sides, a pulse."""
        self.tandem_url = context.tandem_url
        database = Database(context.database_url)
        try:
            upgrade(database.engine)  # a no-op once `tandem serve` has migrated at start
            now = dt.datetime.now(dt.UTC)
            with database.begin() as session:
                workspace = ensure_workspace(session, TEAM_ID)
                session.execute(
                    insert(Person),
                    [
                        {
                            "workspace_id": workspace.id,
                            "slack_user_id": self.user_id(i),
                            "side": self.side_of(i),
                            "created_at": now,
                            "updated_at": now,
                        }
                        for i in range(self.people)
                    ],
                )
                spec = RitualSpec(
                    channel_id=self.CHANNEL,
                    name="Bench pulse",
                    cadence=Cadence(
                        kind=CadenceKind.weekly, weekday=1, time_of_day=dt.time(9), timezone="Europe/Berlin"
                    ),
                    marketing=tuple(self.user_id(i) for i in range(0, 8, 2)),
                    it=tuple(self.user_id(i) for i in range(1, 8, 2)),
                    pulse_anonymous=True,
                )
                ritual = create_ritual(session, workspace, spec, created_by=self.user_id(0), now=now)
                pulse = open_pulse(
                    session,
                    ritual,
                    keys=BENCH_VOTER_KEYS,
                    owner=self.user_id(0),
                    now=now,
                    closes_at=now + dt.timedelta(hours=12),
                )
                pulse.message_ts = pulse.thread_ts = self.MESSAGE_TS
                self.pulse_id = pulse.id
        finally:
            database.dispose()

    def _action_ts(self) -> str:
        # Microseconds since the epoch, strictly increasing: each click is later than the one before.
        us = max(time.time_ns() // 1000, self._last_us + 1)
        self._last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def build(self, requests: SlackRequests) -> BuiltRequest:
        if self.pulse_id is None:
            raise RuntimeError("the pulse scenario was not set up (no pulse to click on)")
        stream = self._streams.setdefault(requests.app_url, _Stream())
        n = stream.sent + len(stream.pending)
        person, lap = n % self.people, n // self.people
        score = (person + lap) % 5 + 1
        stream.pending.append((person, score))
        question = PulseQuestion.PARTNER
        return requests.build_block_action(
            answer_action_id(question, score),
            value=encode_answer(self.pulse_id, question, score),
            block_id=ids.BLOCK_PULSE_PARTNER,
            user_id=self.user_id(person),
            channel_id=self.CHANNEL,
            message_ts=self.MESSAGE_TS,
            action_extra={"action_ts": self._action_ts()},
        )

    def sent(self, app_url: str, taken: int) -> None:
        """The first `taken` clicks built for `app_url` since the last call went out; the rest never will."""
        stream = self._streams.setdefault(app_url, _Stream())
        for person, score in stream.pending[:taken]:
            if person in stream.last_score:
                stream.changes += 1
            else:
                stream.first_answers += 1
            stream.last_score[person] = score
        stream.sent += min(taken, len(stream.pending))
        stream.replayed += max(0, taken - len(stream.pending))
        stream.pending.clear()  # unsent clicks are built again, with new action_ts, for the next phase

    def verify(self, context: BenchContext) -> Verdict:
        """Tandem's database against the clicks sent to it: one ballot per person, then close the pulse:
        tallies that add up to the ballots, and no ballot left."""
        stream = self._streams.get(context.tandem_url, _Stream())
        database = Database(context.database_url)
        try:
            with database.begin() as session:
                pulse = session.get(Pulse, self.pulse_id)
                if pulse is None:
                    return Verdict(False, f"pulse {self.pulse_id} is missing from Tandem's database")
                ballots = {
                    voter: (side, score)
                    for voter, side, score in session.execute(
                        select(PulseBallot.voter, PulseBallot.side, PulseBallot.score).where(
                            PulseBallot.pulse_id == pulse.id, PulseBallot.question == PulseQuestion.PARTNER
                        )
                    )
                }
                other_ballots = session.scalar(
                    select(func.count()).where(
                        PulseBallot.pulse_id == pulse.id, PulseBallot.question != PulseQuestion.PARTNER
                    )
                )
                # The test knows the salt, so it can tell whose ballot is whose; Tandem never does this.
                expected = {
                    voter_key(BENCH_VOTER_KEYS, pulse, self.user_id(person)): (self.side_of(person), score)
                    for person, score in stream.last_score.items()
                }
            # Then close the pulse as Tandem does: the ballots must become tallies that add up.
            with database.begin() as session:
                pulse = session.get(Pulse, self.pulse_id)
                assert pulse is not None
                close_pulse(session, pulse, now=pulse.closes_at)
                left_over = session.scalar(select(func.count()).where(PulseBallot.pulse_id == pulse.id))
                tallies = {
                    (side, score): count
                    for side, score, count in session.execute(
                        select(PulseTally.side, PulseTally.score, PulseTally.count).where(
                            PulseTally.pulse_id == pulse.id, PulseTally.question == PulseQuestion.PARTNER
                        )
                    )
                }
        finally:
            database.dispose()
        users = len(stream.last_score)
        tally_sum = sum(tallies.values())
        ballot_counts = Counter(ballots.values())
        by_cell_ok = all(tallies.get(cell, 0) == n for cell, n in ballot_counts.items()) and all(
            n == ballot_counts.get(cell, 0) for cell, n in tallies.items()
        )
        latest_ok = sum(1 for voter, answer in expected.items() if ballots.get(voter) == answer)
        problems = []
        if len(ballots) != users:
            problems.append(f"ballots {len(ballots)} != distinct users {users}")
        if tally_sum != len(ballots):
            problems.append(f"tallies sum to {tally_sum}, not to the {len(ballots)} ballots")
        if not by_cell_ok:
            problems.append("tallies by (side, score) differ from the ballots")
        if any(n < 0 for n in tallies.values()):
            problems.append("a tally is negative")
        if latest_ok != users:
            problems.append(f"only {latest_ok} of {users} people's ballots hold their latest click")
        if other_ballots:
            problems.append(f"{other_ballots} ballots for a question nobody clicked")
        if left_over:
            problems.append(f"{left_over} ballots were left after the pulse closed")
        if stream.replayed:
            problems.append(f"{stream.replayed} clicks were replays of earlier requests (pool too small)")
        clicks = stream.first_answers + stream.changes
        summary = (
            f"{clicks} clicks taken for Tandem ({stream.first_answers} first answers, {stream.changes} changes) "
            f"from {users} distinct users; ballots {len(ballots)}, tallies after close sum {tally_sum}, "
            f"ballots holding the user's latest click {latest_ok}/{users}"
        )
        details = {
            "clicks": clicks,
            "first_answers": stream.first_answers,
            "changes": stream.changes,
            "replayed": stream.replayed,
            "distinct_users": users,
            "ballots": len(ballots),
            "tally_sum": tally_sum,
            "tallies_match_ballots_by_cell": by_cell_ok,
            "ballots_with_latest_click": latest_ok,
            "problems": problems,
        }
        verdict = "OK" if not problems else "MISMATCH: " + "; ".join(problems)
        return Verdict(not problems, f"{summary}: {verdict}", details)


PULSE = PulseClicks()

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
            respond_calls={"response_url": 1},
        ),
        Scenario(
            "pulse",
            f"signed click on an open anonymous pulse by one of {PULSE.people} people (Tandem acks, "
            "records the answer in SQLite, then replies to the response_url with an ephemeral confirmation)",
            PULSE.build,
            tandem_calls={"response_url": 1},
            respond_calls={"response_url": 1},
            setup=PULSE.setup,
            fresh_requests=True,
            sent=PULSE.sent,
            verify=PULSE.verify,
        ),
    )
}
