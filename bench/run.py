"""Run the benchmark: Tandem (`tandem serve`) against two bare Bolt apps on the same server, side by side.

    python -m bench.run [--duration 10] [--rate 200] [--scenarios help,click,pulse] [--rounds 2]

The two baselines: `bare` only acks; `bare-respond` acks and then answers each block action's
response_url as Tandem must (bench/bare_app.py `--respond`).

See bench/README.md for what is measured and how to read the output. Benchmarks report; they do not
fail a build: the exit status is 0 whenever the run completed, whatever the figures, and 1 only when the
harness itself could not run (a server did not start, a request could not be built).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from bench import loadgen
from bench.scenarios import BENCH_SECRET_KEY, SCENARIOS, BenchContext, Scenario, Verdict
from tests.slack_requests import SlackRequests

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
EVENTS_PATH = "/slack/events"
HOST = "127.0.0.1"
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench"
STARTUP_TIMEOUT = 60.0
POST_ACK_TIMEOUT = 30.0
# Requests are pre-signed before each phase and cycled through; Slack timestamps stay valid 5 minutes.
POOL_SIZE = 2000
MAX_DURATION = 120.0
# Scenarios whose requests may be sent only once (`Scenario.fresh_requests`) get one request per
# expected send instead: the last measured rate of that scenario on that server, with headroom, or this
# guess before the first measurement. A phase that still runs out replays from the start and says so.
FRESH_FIRST_GUESS_RPS = 4000.0
# Generous: the last rate was measured in a 2 s warm-up or under other load, and a phase that runs
# out of fresh clicks replays old ones (a different code path) and fails the pulse check.
FRESH_HEADROOM = 3.0
FRESH_POOL_MAX = 200_000
DEFAULT_SCENARIOS = "help,click,pulse"

TARGETS = ("tandem", "bare", "bare-respond")
BASELINES = ("bare", "bare-respond")
# Throughput tandem/baseline: 0.70 of the ack-only app (the target), 0.80 of the app that
# also answers the response_url (the least any app must do for a click).
TARGET_RATIOS = {"bare": 0.70, "bare-respond": 0.80}
TARGET_RATIO = TARGET_RATIOS["bare"]
TARGET_P99_MS = 100.0


# ------------------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its descendants still alive (Linux /proc)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        # fields[1] is ppid; fields[11], fields[12] are utime, stime (stat fields 4, 14, 15).
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _clock_ticks())
    total = 0.0
    todo = [pid]
    seen: set[int] = set()
    while todo:
        current = todo.pop()
        if current in seen or current not in stats:
            continue
        seen.add(current)
        total += stats[current][1]
        todo.extend(child for child, (ppid, _) in stats.items() if ppid == current)
    return total


@dataclass
class Server:
    """A server subprocess (gunicorn master + worker) in its own process group."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu(self) -> float:
        return process_tree_cpu(self.proc.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_problems(self) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if " ERROR " in line or line.startswith("Traceback")]

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # gunicorn: graceful stop of master and worker
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


class FakeProcess:
    """`bench.fake_server`: FakeSlack in its own process, asked for call counts over a pipe."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_server"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self.url = self._read(timeout=STARTUP_TIMEOUT)["url"]

    def _read(self, timeout: float = 10.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError("the fake Slack did not answer in time")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake Slack exited")
        return dict(json.loads(line))

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        return self._read()

    def counts(self) -> Counter[str]:
        return Counter({k: int(v) for k, v in self.ask("counts").items()})

    def clear(self) -> None:
        self.ask("clear")

    def cpu(self) -> float:
        return process_tree_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def _start_server(name: str, argv: list[str], env: dict[str, str], workdir: Path, port: int) -> Server:
    log_path = workdir / f"{name}.log"
    log: IO[bytes] = log_path.open("wb")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()  # the child has its own descriptor
    return Server(name, proc, port, log_path)


def _wait_until(server: Server, probe: Any, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            if probe():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: no {what} within {STARTUP_TIMEOUT:.0f} s:\n{server.log_tail()}")


def _healthz(url: str) -> bool:
    with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
        return response.status == 200


def _port_open(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=1):
        return True


def _tandem_argv() -> list[str]:
    # The console script next to this interpreter, or the same entry point through -m.
    script = Path(sys.executable).with_name("tandem")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    return [*base, "serve", "--no-scheduler", "--host", HOST]


def _base_env(workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TANDEM_")) and k not in ("DATABASE_URL", "PORT", "LOG_LEVEL")
    }
    # The checkout under test, whatever `pip install -e` pointed at.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ------------------------------------------------------------------------------------------ measuring


@dataclass
class Target:
    name: str  # "tandem", "bare" or "bare-respond"
    server: Server


@dataclass
class Phase:
    scenario: str
    target: str
    mode: str  # "throughput" (closed loop) or "rate" (open loop)
    round: int
    stats: loadgen.PhaseStats
    server_cpu: float
    fake_cpu: float
    generator_cpu: float
    post_ack_expected: dict[str, int] = field(default_factory=dict)
    post_ack_arrived: dict[str, int] = field(default_factory=dict)
    pool: int = 0  # requests built for the phase
    # Seconds from the phase's last response until the fake had all the expected post-ack calls
    # (None when none are expected): work still queued when the measurement stopped.
    post_ack_s: float | None = None
    fake_calls: dict[str, int] = field(default_factory=dict)  # everything the fake recorded in the phase

    @property
    def replayed(self) -> int:
        """Requests sent a second time because the phase used up its list (expected for cycled pools)."""
        return max(0, self.stats.taken - self.pool)

    def to_json(self) -> dict[str, Any]:
        s = self.stats
        return {
            "scenario": self.scenario,
            "target": self.target,
            "mode": self.mode,
            "round": self.round,
            "client": s.client,
            "scheduled": s.scheduled,
            "responses": s.responses,
            "ok": s.ok,
            "errors": dict(s.errors),
            "elapsed_s": round(s.elapsed, 4),
            "rps": round(s.rps, 2),
            **_latency_summary(s.latencies),
            "send_lag_p99_ms": _ms(loadgen.percentile(s.send_lags, 99)),
            "send_lag_max_ms": _ms(max(s.send_lags, default=float("nan"))),
            "server_cpu_ms_per_request": _per_request_ms(self.server_cpu, s.responses),
            "fake_cpu_ms_per_request": _per_request_ms(self.fake_cpu, s.responses),
            "generator_cpu_ms_per_request": _per_request_ms(self.generator_cpu, s.responses),
            "server_cpu_s": round(self.server_cpu, 3),
            "post_ack_expected": self.post_ack_expected,
            "post_ack_arrived": self.post_ack_arrived,
            "post_ack_s": None if self.post_ack_s is None else round(self.post_ack_s, 2),
            "requests_built": self.pool,
            "requests_taken": s.taken,
            "fake_calls": self.fake_calls,
        }


def _ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 3)


def _per_request_ms(cpu_seconds: float, requests: int) -> float | None:
    return round(cpu_seconds * 1000 / requests, 3) if requests else None


def _latency_summary(latencies: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50_ms": _ms(loadgen.percentile(latencies, 50)),
        "p90_ms": _ms(loadgen.percentile(latencies, 90)),
        "p99_ms": _ms(loadgen.percentile(latencies, 99)),
        "max_ms": _ms(max(latencies, default=float("nan"))),
    }


class Bench:
    def __init__(self, args: argparse.Namespace, fake: FakeProcess, targets: list[Target]) -> None:
        self.args = args
        self.fake = fake
        self.targets = targets
        self.phases: list[Phase] = []
        self.rps_seen: dict[tuple[str, str], float] = {}  # (scenario, target) -> last throughput rps

    def pool_size(self, scenario: Scenario, target: Target, mode: str, duration: float) -> int:
        """How many requests to sign for a phase: a cycled pool, or one per expected send (fresh)."""
        if mode == "rate":
            total = max(1, round(self.args.rate * duration))
            return min(total, FRESH_POOL_MAX) if scenario.fresh_requests else min(POOL_SIZE * 2, total)
        if not scenario.fresh_requests:
            return POOL_SIZE
        rps = self.rps_seen.get((scenario.name, target.name), FRESH_FIRST_GUESS_RPS)
        return min(FRESH_POOL_MAX, max(POOL_SIZE, math.ceil(rps * FRESH_HEADROOM * duration) + 200))

    def build(self, scenario: Scenario, target: Target, count: int) -> list[loadgen.Request]:
        """`count` freshly signed requests (timestamp now), as bytes ready to write to `target`."""
        requests = SlackRequests(
            target.server.url, SIGNING_SECRET, default_response_url=self.fake.url + "/response/bench"
        )
        try:
            out = []
            for _ in range(count):
                built = scenario.build(requests)
                out.append(
                    loadgen.Request.make(built.body, built.headers, HOST, target.server.port, EVENTS_PATH)
                )
            return out
        finally:
            requests.close()

    def check_ready(self, scenario: Scenario, target: Target) -> None:
        """One request must answer 200 before anything is measured (the worker may still be booting)."""
        request = self.build(scenario, target, 1)[0]
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: str = ""
        while time.monotonic() < deadline:
            try:
                conn = loadgen.RawConn(HOST, target.server.port, EVENTS_PATH)
                try:
                    status = conn.roundtrip(request)
                finally:
                    conn.close()
            except (OSError, loadgen.ProtocolError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if status == 200:
                    if scenario.sent is not None:
                        scenario.sent(target.server.url, 1)
                    return
                last = f"HTTP {status}"
            time.sleep(0.2)
        raise RuntimeError(
            f"{target.name} never answered {scenario.name} with 200 ({last}):\n{target.server.log_tail()}"
        )

    def run_phase(self, scenario: Scenario, target: Target, mode: str, round_: int, *, record: bool) -> Phase:
        args = self.args
        duration = args.duration if record else args.warmup
        count = self.pool_size(scenario, target, mode, duration)
        requests = self.build(scenario, target, count)
        self.fake.clear()
        server0, fake0, gen0 = target.server.cpu(), self.fake.cpu(), time.process_time()
        if mode == "throughput":
            stats = loadgen.closed_loop(
                args.client,
                HOST,
                target.server.port,
                EVENTS_PATH,
                requests,
                concurrency=args.concurrency,
                duration=duration,
            )
        else:
            stats = loadgen.open_loop(
                args.client,
                HOST,
                target.server.port,
                EVENTS_PATH,
                requests,
                rate=args.rate,
                duration=duration,
                max_inflight=args.max_inflight,
            )
        gen1 = time.process_time()
        if scenario.sent is not None:
            scenario.sent(target.server.url, stats.taken)
        if mode == "throughput":
            self.rps_seen[(scenario.name, target.name)] = stats.rps
        calls = {"tandem": scenario.tandem_calls, "bare-respond": scenario.respond_calls}.get(target.name, {})
        expected = {m: n * stats.ok for m, n in calls.items()}
        arrived, fake_calls, post_ack_s = self.wait_post_ack(expected)
        server1, fake1 = target.server.cpu(), self.fake.cpu()
        phase = Phase(
            scenario.name,
            target.name,
            mode,
            round_,
            stats,
            server1 - server0,
            fake1 - fake0,
            gen1 - gen0,
            expected,
            arrived,
            pool=len(requests),
            post_ack_s=post_ack_s if expected else None,
            fake_calls=fake_calls,
        )
        if record:
            self.phases.append(phase)
            self.print_phase(phase)
        return phase

    def wait_post_ack(self, expected: dict[str, int]) -> tuple[dict[str, int], dict[str, int], float]:
        """Wait (bounded) until Tandem's post-ack calls for the phase reached the fake.

        Returns the expected methods' counts, every method's count the fake recorded in the phase, and
        how long the wait took (0.1 s resolution).
        """
        start = time.monotonic()
        deadline = start + POST_ACK_TIMEOUT
        while True:
            counts = self.fake.counts()
            arrived = {m: counts.get(m, 0) for m in expected}
            if all(arrived[m] >= n for m, n in expected.items()) or time.monotonic() > deadline:
                everything = {m: n for m, n in counts.items() if not m.startswith("_")}
                return arrived, everything, time.monotonic() - start
            time.sleep(0.1)

    def print_phase(self, phase: Phase) -> None:
        row = phase.to_json()
        label = "throughput" if phase.mode == "throughput" else f"{self.args.rate:g} rps"
        errors = phase.stats.error_count
        lag = ""
        if phase.mode == "rate":
            lag = f"  send lag p99 {_fmt(row['send_lag_p99_ms'], 0)} ms"
        post = ""
        if phase.post_ack_expected:
            post = "  post-ack " + ", ".join(
                f"{m} {phase.post_ack_arrived.get(m, 0)}/{n}" for m, n in phase.post_ack_expected.items()
            )
            if phase.post_ack_s is not None and phase.post_ack_s >= 0.5:
                post += f" (done {phase.post_ack_s:.1f} s after the last ack)"
        if SCENARIOS[phase.scenario].fresh_requests and phase.replayed:
            post += f"  REPLAYED {phase.replayed} (needed more than the {phase.pool} fresh requests built)"
        print(
            f"  round {phase.round + 1} {phase.scenario:<6} {phase.target:<12} {label:<10} "
            f"{row['rps']:>8.1f} rps  p50 {_fmt(row['p50_ms'])} ms  p99 {_fmt(row['p99_ms'])} ms  "
            f"errors {errors}{lag}{post}",
            flush=True,
        )

    def run(self) -> None:
        args = self.args
        for name in args.scenarios:
            scenario = SCENARIOS[name]
            print(f"\nscenario {scenario.name}: {scenario.summary}", flush=True)
            for target in self.targets:
                self.check_ready(scenario, target)
            if args.warmup > 0:
                for target in self.targets:
                    self.run_phase(scenario, target, "throughput", -1, record=False)
            for round_ in range(args.rounds):
                for mode in ("throughput", "rate"):
                    for target in self.targets:
                        self.run_phase(scenario, target, mode, round_, record=True)


def _fmt(value: float | None, width: int = 7, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


# ------------------------------------------------------------------------------------------ reporting


def aggregate(phases: list[Phase]) -> dict[str, Any]:
    """Pool every round of one (scenario, target, mode): total ok / total time, percentiles of all."""
    latencies = [x for p in phases for x in p.stats.latencies]
    ok = sum(p.stats.ok for p in phases)
    responses = sum(p.stats.responses for p in phases)
    elapsed = sum(p.stats.elapsed for p in phases)
    errors: Counter[str] = Counter()
    for p in phases:
        errors.update(p.stats.errors)
    expected: Counter[str] = Counter()
    arrived: Counter[str] = Counter()
    for p in phases:
        expected.update(p.post_ack_expected)
        arrived.update(p.post_ack_arrived)
    post_ack = [p.post_ack_s for p in phases if p.post_ack_s is not None]
    return {
        "rounds": len(phases),
        "responses": responses,
        "ok": ok,
        "errors": dict(errors),
        "error_count": sum(errors.values()),
        "rps": round(ok / elapsed, 2) if elapsed else 0.0,
        "rps_by_round": [round(p.stats.rps, 2) for p in phases],
        **_latency_summary(latencies),
        "server_cpu_ms_per_request": _per_request_ms(sum(p.server_cpu for p in phases), responses),
        "fake_cpu_ms_per_request": _per_request_ms(sum(p.fake_cpu for p in phases), responses),
        "generator_cpu_ms_per_request": _per_request_ms(sum(p.generator_cpu for p in phases), responses),
        "send_lag_p99_ms": _ms(loadgen.percentile([x for p in phases for x in p.stats.send_lags], 99)),
        "post_ack_expected": dict(expected),
        "post_ack_arrived": dict(arrived),
        "post_ack_s_max": round(max(post_ack), 2) if post_ack else None,
        # Throughput counting the time post-ack work was still draining after the last ack.
        "rps_with_post_ack": round(ok / (elapsed + sum(post_ack)), 2) if post_ack and elapsed else None,
    }


def summarize(args: argparse.Namespace, phases: list[Phase], targets: list[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in args.scenarios:
        per: dict[str, Any] = {}
        for target in targets:
            for mode in ("throughput", "rate"):
                chosen = [p for p in phases if p.scenario == name and p.target == target and p.mode == mode]
                if chosen:
                    per.setdefault(target, {})[mode] = aggregate(chosen)
        tandem = per.get("tandem", {})
        result: dict[str, Any] = {"targets": per, "ratios": {}}
        for baseline in BASELINES:
            ratio = _throughput_ratio(tandem.get("throughput"), per.get(baseline, {}).get("throughput"))
            if ratio is not None:
                ratio["target"] = TARGET_RATIOS[baseline]
                ratio["target_met"] = (
                    ratio["median"] >= TARGET_RATIOS[baseline] and tandem["throughput"]["error_count"] == 0
                )
                result["ratios"][baseline] = ratio
        if "bare" in result["ratios"]:  # the keys earlier results had
            result["throughput_ratio"] = result["ratios"]["bare"]["pooled"]
            result["throughput_ratio_by_round"] = result["ratios"]["bare"]["by_round"]
            result["ratio_target_met"] = result["ratios"]["bare"]["target_met"]
        if "rate" in tandem:
            rate = tandem["rate"]
            post_ok = all(
                rate["post_ack_arrived"].get(m, 0) >= n for m, n in rate["post_ack_expected"].items()
            )
            result["tandem_p99_at_rate_ms"] = rate["p99_ms"]
            result["p99_target_met"] = (
                rate["p99_ms"] is not None
                and rate["p99_ms"] <= TARGET_P99_MS
                and rate["error_count"] == 0
                and post_ok
            )
        summary[name] = result
    return summary


def _throughput_ratio(
    tandem: dict[str, Any] | None, baseline: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Tandem's throughput over a baseline's: pooled, per round (the two ran side by side in each
    round), and the median of the rounds, which one disturbed round cannot move much."""
    if not tandem or not baseline or not baseline["rps"]:
        return None
    by_round = [
        round(t / b, 3) if b else None
        for t, b in zip(tandem["rps_by_round"], baseline["rps_by_round"], strict=False)
    ]
    rounds = [r for r in by_round if r is not None]
    pooled = tandem["rps"] / baseline["rps"]
    return {
        "pooled": round(pooled, 3),
        "by_round": by_round,
        "median": round(statistics.median(rounds), 3) if rounds else round(pooled, 3),
    }


def print_report(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    rate_label = f"{args.rate:g} rps"
    header = (
        f"{'scenario':<9} {'target':<12} {'phase':<11} {'requests':>8} {'errors':>6} {'rps':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'srv CPU ms/req':>14} {'gen CPU ms/req':>14}"
    )
    print("\n" + header)
    print("-" * len(header))
    for name, result in summary.items():
        for target, modes in result["targets"].items():
            for mode, agg in modes.items():
                label = "throughput" if mode == "throughput" else rate_label
                print(
                    f"{name:<9} {target:<12} {label:<11} {agg['responses']:>8} {agg['error_count']:>6} "
                    f"{agg['rps']:>8.1f} {_fmt(agg['p50_ms'])} {_fmt(agg['p99_ms'])} {_fmt(agg['max_ms'])} "
                    f"{_fmt(agg['server_cpu_ms_per_request'], 14, 2)} {_fmt(agg['generator_cpu_ms_per_request'], 14, 3)}"
                )
    print()
    for name, result in summary.items():
        parts = []
        for baseline, ratio in result["ratios"].items():
            verdict = "met" if ratio["target_met"] else "MISSED"
            rounds = ", ".join(f"{r:.2f}" for r in ratio["by_round"] if r is not None)
            parts.append(
                f"throughput tandem/{baseline} = {ratio['median']:.2f} median of rounds ({rounds}; "
                f"pooled {ratio['pooled']:.2f}; target >= {ratio['target']:.2f}: {verdict})"
            )
        tandem_tp = result["targets"].get("tandem", {}).get("throughput", {})
        if (tandem_tp.get("post_ack_s_max") or 0) >= 0.5:
            parts.append(
                f"tandem's post-ack work lagged up to {tandem_tp['post_ack_s_max']:.1f} s behind its acks "
                f"({tandem_tp['rps_with_post_ack']:.1f} rps counting that time)"
            )
        if "tandem_p99_at_rate_ms" in result:
            verdict = "met" if result["p99_target_met"] else "MISSED"
            parts.append(
                f"tandem p99 at {rate_label} = {_fmt(result['tandem_p99_at_rate_ms'], 0)} ms "
                f"(target <= {TARGET_P99_MS:g} ms: {verdict})"
            )
        print(f"{name}: " + "; ".join(parts))


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("tandem", "slack_bolt", "slack_sdk", "gunicorn", "SQLAlchemy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()),
        "versions": versions,
    }


# ------------------------------------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per measured phase (default 10)"
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="requests/s of the fixed-rate phase (default 200)"
    )
    parser.add_argument(
        "--scenarios",
        default=DEFAULT_SCENARIOS,
        help=f"comma-separated, from: {', '.join(SCENARIOS)} (default {DEFAULT_SCENARIOS})",
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target (default 2)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="clients in the throughput phase (default 16)"
    )
    parser.add_argument(
        "--max-inflight",
        type=int,
        default=64,
        help="most outstanding requests in the fixed-rate phase (default 64)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds of unrecorded load per target before each scenario (default 2)",
    )
    parser.add_argument(
        "--client",
        choices=loadgen.CLIENTS,
        default="threads-raw",
        help="load generator (default threads-raw; see README)",
    )
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help=f"which servers to measure, from {', '.join(TARGETS)} (default all three)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="gunicorn request threads of both servers (default 8, as `tandem serve`)",
    )
    parser.add_argument(
        "--bare-acks",
        choices=("bolt", "prompt"),
        default="bolt",
        help="how the bare apps wait for acks: Bolt's 10 ms poll (default, as any Bolt app) or "
        "Tandem's prompt runner (to compare the code alone)",
    )
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/<timestamp>.json")
    return parser


def _validate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown or not args.scenarios:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not args.targets or any(t not in TARGETS for t in args.targets):
        parser.error(f"--targets takes one or more of {', '.join(TARGETS)}")
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(
            f"--duration must be in (0, {MAX_DURATION:g}] (request signatures expire after 5 minutes)"
        )
    if not 0 < args.rate <= 5000:
        parser.error("--rate must be in (0, 5000]")
    if not 1 <= args.rounds <= 10 or not 1 <= args.concurrency <= 256 or not 1 <= args.max_inflight <= 1024:
        parser.error("--rounds 1..10, --concurrency 1..256, --max-inflight 1..1024")
    if not 1 <= args.threads <= 256:
        parser.error("--threads must be in 1..256")
    if not 0 <= args.warmup <= 30:
        parser.error("--warmup must be in [0, 30]")


@contextlib.contextmanager
def servers(
    workdir: Path, wanted: list[str], threads: int, bare_acks: str = "bolt"
) -> Iterator[tuple[FakeProcess, list[Target], str]]:
    env = _base_env(workdir)
    started: list[Server] = []
    fake = FakeProcess(env, workdir)
    try:
        database_url = f"sqlite:///{workdir / 'tandem.db'}"
        app_env = {
            **env,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "TANDEM_SECRET_KEY": BENCH_SECRET_KEY,
            "SLACK_API_URL": fake.url + "/api/",
            "LOG_LEVEL": "WARNING",
        }
        targets: list[Target] = []
        if "tandem" in wanted:
            port = free_port()
            tandem = _start_server(
                "tandem",
                [*_tandem_argv(), "--port", str(port), "--threads", str(threads)],
                {**app_env, "DATABASE_URL": database_url, "PORT": str(port)},
                workdir,
                port,
            )
            started.append(tandem)
            targets.append(Target("tandem", tandem))
        for name in ("bare", "bare-respond"):
            if name not in wanted:
                continue
            port = free_port()
            bare_argv = [
                sys.executable,
                "-m",
                "bench.bare_app",
                "--port",
                str(port),
                "--threads",
                str(threads),
                *(["--respond"] if name == "bare-respond" else []),
                *(["--prompt-acks"] if bare_acks == "prompt" else []),
            ]
            bare = _start_server(name, bare_argv, app_env, workdir, port)
            started.append(bare)
            targets.append(Target(name, bare))
        for target in targets:
            if target.name == "tandem":
                _wait_until(target.server, lambda url=target.server.url: _healthz(url), "/healthz")
            else:
                _wait_until(target.server, lambda port=target.server.port: _port_open(port), "open port")
        yield fake, targets, database_url
    finally:
        for server in started:
            server.stop()
        fake.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _validate(args, parser)
    machine = machine_info()
    started_at = dt.datetime.now(dt.UTC)
    print(
        f"machine: {machine['nproc']} CPUs ({machine['cpus_usable']} usable), {machine['cpu_model'] or 'unknown CPU'}, "
        f"{machine['python']}, load average {machine['loadavg_at_start'][0]:.2f}"
    )
    print(
        f"config: scenarios {','.join(args.scenarios)}; {args.rounds} rounds x ({args.duration:g} s throughput with "
        f"{args.concurrency} clients + {args.duration:g} s at {args.rate:g} rps) per target; client {args.client}; "
        f"servers: gunicorn gthread, 1 worker, {args.threads} threads; bare apps' acks: {args.bare_acks}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="tandem-bench-"))
    problems: dict[str, list[str]] = {}
    checks: dict[str, Verdict] = {}
    try:
        with servers(workdir, args.targets, args.threads, args.bare_acks) as (fake, targets, database_url):
            by_name = {t.name: t for t in targets}
            context = BenchContext(
                fake_url=fake.url,
                tandem_url=by_name["tandem"].server.url if "tandem" in by_name else "",
                bare_url=by_name["bare"].server.url if "bare" in by_name else "",
                database_url=database_url,
                signing_secret=SIGNING_SECRET,
                workdir=workdir,
            )
            for name in args.scenarios:
                setup = SCENARIOS[name].setup
                if setup is not None:
                    setup(context)
            bench = Bench(args, fake, targets)
            bench.run()
            for name in args.scenarios:
                verify = SCENARIOS[name].verify
                if verify is not None and "tandem" in by_name:
                    try:
                        checks[name] = verify(context)
                    except Exception as exc:  # a broken check is reported, not a lost run
                        checks[name] = Verdict(False, f"the check itself failed: {type(exc).__name__}: {exc}")
            fake_errors = fake.counts().get("_errors", 0)
            for target in targets:
                problems[target.name] = target.server.log_problems()
    except RuntimeError as exc:
        print(f"\nbenchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    summary = summarize(args, bench.phases, [t.name for t in targets])
    print_report(args, summary)
    for name, lines in problems.items():
        if lines:
            print(f"\nWARNING: {name} logged {len(lines)} error line(s), e.g.: {lines[0]}")
    if fake_errors:
        print(f"\nWARNING: the fake Slack recorded {fake_errors} internal error(s)")
    for name, verdict in checks.items():
        print(f"\n{name} check on Tandem's database: {verdict.message}")

    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS_DIR / f"{stamp}.json"
        document = {
            "started_at": started_at.isoformat(),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(),
            "machine": machine,
            "config": {k: v for k, v in vars(args).items() if k != "no_json"},
            "targets": {"ratio": TARGET_RATIO, "ratios": TARGET_RATIOS, "p99_ms": TARGET_P99_MS},
            "summary": summary,
            "phases": [p.to_json() for p in bench.phases],
            "log_problems": {k: v[:20] for k, v in problems.items()},
            "checks": {name: {"ok": v.ok, "message": v.message, **v.details} for name, v in checks.items()},
            "fake_errors": fake_errors,
        }
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
