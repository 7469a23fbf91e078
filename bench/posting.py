"""The poster alone: 10,000 posts into 10,000 channels of 1,000 workspaces, due at the same instant.

    python -m bench.posting [--posts 10000] [--workspaces 1000] [--latency 0.1] [--threads N]

It runs Tandem's `jobs.poster.ChannelPoster` (per-channel pacing, per-workspace gates, its threads)
and `bot.messenger.SlackMessenger` (slack_sdk's WebClient, one per workspace, each with its own
token as under OAuth) against `tests.fake_slack.FakeSlack` answering every call after `--latency`
seconds, in a process of its own (so the fake competes with the poster for a core, not for its GIL).
Each send posts a check-in-sized message with its PostTag metadata, tells the poster when Slack
answered, and on a 429 asks to be run again after Retry-After, as `bot.usecases.checkins.deliver`
does; nothing else (no database: `bench.scheduling burst` measures the whole path).

Two runs: `plain`, then `limited`, where one workspace's token is answered 429 (Retry-After
`--retry-after` s) to every post that arrives within `--retry-after` s of the due instant. For each:
posts/s (posts over the time from the due instant to the last post's arrival at the fake), the last
post's arrival, whether every channel holds exactly one message, the CPU seconds of the poster's and
the fake's processes, and the load average before and after (other work on the machine changes every
figure here); for `limited`, when the others' last post and the limited workspace's 429s and posts
arrived. The fake's arrival times are `time.monotonic()`,
which on Linux is one clock for every process, so they compare with the poster's own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from slack_sdk import WebClient

from bot.config import Mode, Settings
from bot.messenger import DeliveryError, PostTag, SlackMessenger
from bot.slack_client import KeepAliveWebClient
from jobs.poster import PER_CHANNEL_INTERVAL, POSTER_THREADS, WORKSPACE_POSTS_PER_MINUTE, ChannelPoster
from tests.fake_slack import FakeSlack


def serve_fake(latency: float) -> None:
    """`python -m bench.posting fake LATENCY`: the fake Web API in a process of its own, driven by
    one command a line on stdin, one JSON answer a line on stdout."""
    with FakeSlack() as fake:
        fake.auto_channels = True
        fake.latency = latency
        print(json.dumps({"url": fake.base_url}), flush=True)
        for line in sys.stdin:
            command, *args = line.split()
            if command == "limit":  # TOKEN SECONDS: that token's posts answered 429 for SECONDS from now
                token, seconds = args[0], int(args[1])
                fake.fail("chat.postMessage", status=429, retry_after=seconds, times=None, token=token)
                threading.Timer(seconds, fake.clear_failures).start()
                answer: Any = {}
            elif command == "posts":  # every chat.postMessage received: [channel, token, arrival]
                answer = [[c.params["channel"], c.token, c.at] for c in fake.calls("chat.postMessage")]
            elif command == "stored":  # messages the channels hold, by channel
                answer = Counter(channel for channel, _ in list(fake.messages))
            elif command == "cpu":
                times = os.times()
                answer = times.user + times.system
            elif command == "clear":
                fake.clear()
                fake.messages.clear()
                answer = {}
            else:
                break
            print(json.dumps(answer), flush=True)


class RemoteFake:
    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.posting", "fake", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.base_url = json.loads(self.ask_raw())["url"]

    def ask_raw(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.ask_raw())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Tokens:
    """The installation store's side of OAuth: each workspace's own bot token."""

    def find_bot(self, *, enterprise_id: str | None, team_id: str | None, **_: Any) -> SimpleNamespace:
        return SimpleNamespace(bot_token=f"xoxb-{team_id}")


# About what a check-in weighs: a header, the prompt, why it was chosen, an agenda, people.
BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Marketing × IT weekly check-in"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*This week's prompt*\n" + "Which KPI do we own together? " * 6},
    },
    {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Chosen because " + "the last pulse showed a gap. " * 4}],
    },
    {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Agenda*\n• last pulse\n• wins since last time\n• open commitments",
        },
    },
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "<@U01MARKETING> <@U02MARKETING> · <@U03IT> <@U04IT>"},
    },
]


@dataclass
class Run:
    name: str
    posts: int
    seconds_to_last: float
    posts_per_second: float
    refused: int
    stored_ok: bool
    poster_cpu: float
    fake_cpu: float
    load_before: str
    load_after: str
    extra: dict[str, Any]


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(
    fake: RemoteFake,
    name: str,
    *,
    posts: int,
    workspaces: int,
    threads: int,
    limited: int | None,
    retry_after: int,
) -> Run:
    fake.ask("clear")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_client_id="bench",
        slack_client_secret="bench",  # type: ignore[arg-type]
        slack_signing_secret="bench",  # type: ignore[arg-type]
        slack_api_url=fake.base_url,
    )
    messenger = SlackMessenger(settings, Mode.OAUTH, installation_store=Tokens())  # type: ignore[arg-type]
    poster = ChannelPoster(
        threads=threads,
        interval=PER_CHANNEL_INTERVAL,
        workspace_per_minute=WORKSPACE_POSTS_PER_MINUTE or None,
    )
    limited_team = f"T{0:04d}"

    def send(team: str, channel: str, number: int) -> None:
        try:
            messenger.post(
                team,
                channel,
                text="Marketing × IT weekly check-in",
                blocks=BLOCKS,
                tag=PostTag("tandem_checkin", str(number)),
                wait_if_limited=False,
            )
        except DeliveryError as exc:
            if exc.retry_after is not None:
                poster.rate_limited(exc.retry_after)
                return
            print(f"  post {number} failed: {exc.reason}", file=sys.stderr)
        poster.answered()

    load_before = loadavg()
    fake_cpu0, cpu0 = fake.ask("cpu"), cpu_seconds()
    due = time.monotonic()
    if limited:
        fake.ask(f"limit xoxb-{limited_team} {retry_after}")
    for number in range(posts):
        w = number % workspaces
        team, channel = f"T{w:04d}", f"C{w:04d}{number // workspaces:03d}"
        poster.submit(channel, lambda t=team, c=channel, n=number: send(t, c, n), workspace=team)
    assert poster.join(600), "the poster did not finish within 10 minutes"
    poster.stop(0)
    poster_cpu, fake_cpu = cpu_seconds() - cpu0, fake.ask("cpu") - fake_cpu0
    load_after = loadavg()

    calls = fake.ask("posts")
    stored = fake.ask("stored")
    refused = len(calls) - posts
    last = max(at for _, _, at in calls)
    extra: dict[str, Any] = {"submitted in": round(time.monotonic() - due, 2)}
    if limited:
        token = f"xoxb-{limited_team}"
        mine = sorted(at for _, t, at in calls if t == token)
        others = [at for _, t, at in calls if t != token]
        refused_at = mine[:refused]
        extra = {
            "others' last post after": f"{max(others) - due:.2f} s",
            f"limited workspace ({token}, 429 with Retry-After {retry_after} s to every post for {retry_after} s)": "",
            "  its calls answered 429": f"{refused}, at {', '.join(f'{at - due:.2f}' for at in refused_at)} s",
            "  its posts": f"{len(mine) - refused}, from {mine[refused] - due:.2f} s to {mine[-1] - due:.2f} s",
        }
    ok = len(stored) == posts and set(stored.values()) == {1}
    return Run(
        name,
        posts,
        last - due,
        posts / (last - due),
        refused,
        ok,
        poster_cpu,
        fake_cpu,
        load_before,
        load_after,
        extra,
    )


def report(result: Run) -> None:
    print(
        f"{result.name:8} {result.posts} posts: last after {result.seconds_to_last:6.2f} s, "
        f"{result.posts_per_second:6.1f} posts/s; 429s {result.refused}; each channel holds exactly one: "
        f"{'yes' if result.stored_ok else 'NO'}; CPU poster {result.poster_cpu:.1f} s "
        f"({result.poster_cpu / result.posts * 1000:.2f} ms/post), fake {result.fake_cpu:.1f} s "
        f"({result.fake_cpu / result.posts * 1000:.2f} ms/post); "
        f"load average {result.load_before} -> {result.load_after}"
    )
    for key, value in result.extra.items():
        print(f"{'':9}{key}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", nargs="?", default="both", choices=["both", "plain", "limited", "fake"])
    parser.add_argument("latency_arg", nargs="?", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, default=1_000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the fake takes per call")
    parser.add_argument("--threads", type=int, default=POSTER_THREADS)
    parser.add_argument("--retry-after", type=int, default=5)
    parser.add_argument(
        "--new-connections",
        action="store_true",
        help="send as slack_sdk does by itself, a new connection per call (what the keep-alive pool saves)",
    )
    args = parser.parse_args()
    if args.which == "fake":
        serve_fake(args.latency_arg)
        return
    if args.new_connections:
        KeepAliveWebClient._perform_urllib_http_request_internal = (  # type: ignore[method-assign]
            WebClient._perform_urllib_http_request_internal
        )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {loadavg()}; {args.posts} posts into as many channels of "
        f"{args.workspaces} workspaces; fake latency {args.latency * 1000:.0f} ms; {args.threads} poster threads; "
        f"workspace limit {WORKSPACE_POSTS_PER_MINUTE:.0f}/min; "
        f"{'a new connection per call' if args.new_connections else 'kept-alive connections'}"
    )
    fake = RemoteFake(args.latency)
    try:
        if args.which in ("both", "plain"):
            report(
                run(
                    fake,
                    "plain",
                    posts=args.posts,
                    workspaces=args.workspaces,
                    threads=args.threads,
                    limited=None,
                    retry_after=args.retry_after,
                )
            )
        if args.which in ("both", "limited"):
            report(
                run(
                    fake,
                    "limited",
                    posts=args.posts,
                    workspaces=args.workspaces,
                    threads=args.threads,
                    limited=True,
                    retry_after=args.retry_after,
                )
            )
    finally:
        fake.close()


if __name__ == "__main__":
    main()
