"""Where the CPU goes: one scenario through Tandem's WSGI app and through the bare apps, in this process.

    python -m bench.cpu_profile [--scenario help] [--requests 2000] [--top 25]

`bench.run` measures the servers from outside; this looks inside. It builds the WSGI apps here (Tandem
through `bot.app.create_app` and `bot.web.TandemWSGI`, as `Runtime` does; the bare one and the
bare-respond one from `bench.bare_app`) and calls them directly with the scenario's signed requests, one after another, with
no HTTP server in between. Bolt's listener executor is replaced by one that runs each listener inline,
so the whole request (middleware, listener, ack, post-ack work such as respond()) runs on this thread,
where `time.thread_time()` counts its CPU and `cProfile` sees every call. What is left out is the same
for every app: gunicorn's HTTP parsing, the thread hand-off, and Bolt's 10 ms wait-for-ack poll.

It prints CPU per request for each (`time.thread_time()`, without the profiler) and the differences,
then each app's most expensive functions by cumulative time per request under cProfile. cProfile's
clock is wall time (a CPU-time clock costs a system call per event and distorts the picture more), so a
call that waits on the fake Slack, such as respond(), shows its waiting too; the fake runs on its own
threads and its CPU is not counted. A scenario's `setup` runs on Tandem's database once the app is
built, and its `verify` after Tandem's last request (e.g. `pulse`'s ballot and tally check).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from bench.bare_app import BareRuntime
from bench.scenarios import BENCH_SECRET_KEY, SCENARIOS, BenchContext, Scenario
from tests.fake_slack import FakeSlack
from tests.slack_requests import BuiltRequest, SlackRequests

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class InlineExecutor(Executor):
    """Runs every submitted call at once on the submitting thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the future, as a real executor does
            future.set_exception(exc)
        return future


def database_url(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'tandem.db'}"


def tandem_wsgi(fake: FakeSlack, workdir: Path) -> tuple[WSGIApp, Callable[[], None]]:
    from bot.config import Mode, load_settings
    from bot.runtime import Runtime, register_single_workspace
    from db.clock import SystemClock
    from db.migrate import upgrade
    from db.session import Database

    settings = load_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.base_url,
        database_url=database_url(workdir),
        # The key `bench.run` gives `tandem serve`: the pulse scenario's check names ballots with it,
        # and without it a key file would be generated into the current directory.
        tandem_secret_key=BENCH_SECRET_KEY,
        log_level="WARNING",
    )
    database = Database(settings.database_url)
    upgrade(database.engine)
    register_single_workspace(settings, database, SystemClock())
    database.dispose()
    # The same wiring `tandem serve --no-scheduler` builds, with the listener work run inline.
    runtime = Runtime(settings, Mode.HTTP, listener_executor=InlineExecutor())
    assert runtime.wsgi is not None
    return runtime.wsgi, runtime.close


def bare_wsgi(fake: FakeSlack, *, respond: bool = False) -> tuple[WSGIApp, Callable[[], None]]:
    runtime = BareRuntime(
        SIGNING_SECRET, fake.base_url, BOT_TOKEN, executor=InlineExecutor(), respond=respond
    )
    return runtime.wsgi, runtime.close


def environ(built: BuiltRequest) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(built.body)),
        "wsgi.input": io.BytesIO(built.body),
    }
    for key, value in built.headers.items():
        if key.lower() == "content-type":
            env["CONTENT_TYPE"] = value
        else:
            env["HTTP_" + key.upper().replace("-", "_")] = value
    return env


def drive(app: WSGIApp, requests: Sequence[BuiltRequest], profile: cProfile.Profile | None) -> float:
    """Send every request through `app`; return CPU seconds of this thread per request."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    environs = [environ(r) for r in requests]
    cpu0 = time.thread_time()
    if profile is not None:
        profile.enable()
    for env in environs:
        for _ in app(env, start_response):
            pass
    if profile is not None:
        profile.disable()
    cpu = time.thread_time() - cpu0
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        raise RuntimeError(f"{len(bad)} of {len(statuses)} requests failed, e.g. {bad[0]}")
    return cpu / len(requests)


def top_functions(profile: cProfile.Profile, requests: int, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    rows = []
    # `Stats.stats` holds pstats' raw table (with the call counts we need); typeshed does not declare it.
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
        rows.append((cumtime, tottime, calls, f"{name} ({where}:{line})"))
    rows.sort(reverse=True)
    lines = [f"{'cum us/req':>10} {'self us/req':>11} {'calls/req':>9}  function"]
    for cumtime, tottime, calls, label in rows[:top]:
        lines.append(
            f"{cumtime * 1e6 / requests:>10.1f} {tottime * 1e6 / requests:>11.1f} {calls / requests:>9.1f}  {label}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="help")
    parser.add_argument("--requests", type=int, default=2000, help="requests per app (default 2000)")
    parser.add_argument("--top", type=int, default=25, help="functions to list per app (default 25)")
    args = parser.parse_args(argv)
    if not 10 <= args.requests <= 50_000:
        parser.error("--requests must be in 10..50000")
    scenario: Scenario = SCENARIOS[args.scenario]

    verdict = None
    with FakeSlack() as fake, tempfile.TemporaryDirectory(prefix="tandem-profile-") as tmp:
        # Nothing is sent over HTTP; the two URLs only tell a stateful scenario's two streams apart.
        signers = {
            name: SlackRequests(
                f"http://{name}.invalid", SIGNING_SECRET, default_response_url=fake.response_url("bench")
            )
            for name in ("tandem", "bare", "bare-respond")
        }
        context = BenchContext(
            fake_url=fake.url,
            tandem_url=signers["tandem"].app_url,
            bare_url=signers["bare"].app_url,
            database_url=database_url(Path(tmp)),
            signing_secret=SIGNING_SECRET,
            workdir=Path(tmp),
        )

        def batch(name: str, count: int) -> list[BuiltRequest]:
            built = [scenario.build(signers[name]) for _ in range(count)]
            if scenario.sent is not None:
                scenario.sent(signers[name].app_url, count)  # every one of them is driven through
            return built

        results: dict[str, tuple[float, float, str]] = {}
        for name, make in (
            ("tandem", lambda: tandem_wsgi(fake, Path(tmp))),
            ("bare", lambda: bare_wsgi(fake)),
            ("bare-respond", lambda: bare_wsgi(fake, respond=True)),
        ):
            app, close = make()
            try:
                if name == "tandem" and scenario.setup is not None:
                    scenario.setup(context)
                drive(app, batch(name, 200), None)  # warm up
                plain = drive(app, batch(name, args.requests), None)
                profile = cProfile.Profile()
                profiled = drive(app, batch(name, args.requests), profile)
                results[name] = (plain, profiled, top_functions(profile, args.requests, args.top))
                if name == "tandem" and scenario.verify is not None:
                    verdict = scenario.verify(context)
            finally:
                close()
        for signer in signers.values():
            signer.close()

    print(f"scenario {scenario.name}: {scenario.summary}; {args.requests} requests per app, in-process\n")
    for name, (plain, profiled, _) in results.items():
        print(f"{name:<12} CPU per request: {plain * 1e6:7.0f} us  (under cProfile: {profiled * 1e6:.0f} us)")
    for baseline in ("bare", "bare-respond"):
        if "tandem" in results and baseline in results:
            extra = results["tandem"][0] - results[baseline][0]
            print(f"{'tandem - ' + baseline + ':':<30} {extra * 1e6:7.0f} us per request")
    if verdict is not None:
        print(f"check on Tandem's database: {verdict.message}")
    for name, (_, _, table) in results.items():
        print(f"\n{name}: top functions by cumulative CPU per request (cProfile)\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
