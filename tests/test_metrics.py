"""`GET /metrics`: Prometheus's text format, with every series an operator watches."""

from __future__ import annotations

import datetime as dt

import requests
from prometheus_client.parser import text_string_to_metric_families

from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.conftest import RunningApp
from tests.fake_slack import FakeSlack
from tests.world import CHANNEL, World, weekly

UTC = dt.UTC
TUESDAY_9_BERLIN = dt.datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def scrape(app: RunningApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics answers, by name and labels, parsed as Prometheus would."""
    response = requests.get(app.url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_report_requests_slack_calls_lag_outbox_and_pulses(
    running_app: RunningApp,
    scheduler: TandemScheduler,
    fake_slack: FakeSlack,
    clock: FrozenClock,
) -> None:
    world = World(running_app.services.database, clock)
    fake_slack.add_channel(CHANNEL, name="shared", is_member=True)
    fake_slack.add_user("U_M1")
    fake_slack.add_user("U_I1")
    before = scrape(running_app)

    # A few signed requests, one of them forged.
    assert running_app.slack.command("help").status_code == 200
    assert running_app.slack.command("list").status_code == 200
    assert running_app.slack.command("help", signature="v0=forged").status_code == 401
    running_app.settle()

    # A check-in due five minutes ago, posted by the scheduler when it starts (a catch-up), and an
    # open pulse.
    clock.set(TUESDAY_9_BERLIN + dt.timedelta(minutes=5))
    ritual = world.ritual(
        cadence=weekly(weekday=1, at=dt.time(9, 0), timezone="Europe/Berlin"),
        marketing=("U_M1",),
        it=("U_I1",),
        pulse_enabled=False,
        now=TUESDAY_9_BERLIN - dt.timedelta(days=1),
    )
    world.pulse(ritual)
    scheduler.start(paused=True)
    assert scheduler.ready.wait(20) and scheduler.join(20)
    fake_slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == CHANNEL)

    after = scrape(running_app)
    delta = {key: after[key] - before.get(key, 0.0) for key in after}

    assert value(delta, "tandem_requests_total", kind="command", outcome="ok") == 2
    assert value(delta, "tandem_requests_total", kind="command", outcome="rejected") == 1
    assert value(delta, "tandem_ack_latency_seconds_count", kind="command") == 3
    assert value(delta, "tandem_ack_latency_seconds_bucket", kind="command", le="3.0") == 3
    assert value(delta, "tandem_slack_calls_total", method="chat.postMessage", error="ok") >= 1
    assert value(delta, "tandem_scheduler_lag_seconds_count") == 1
    assert value(delta, "tandem_scheduler_lag_seconds_sum") == 300.0  # five minutes, on the frozen clock
    assert value(after, "tandem_outbox_depth") == 0  # everything went out
    assert value(after, "tandem_open_pulses") == 1


def test_slack_errors_are_counted_by_method_and_code(running_app: RunningApp, fake_slack: FakeSlack) -> None:
    fake_slack.fail("views.open", error="trigger_expired")
    before = scrape(running_app)
    assert running_app.slack.command("setup").status_code == 200
    running_app.settle()
    after = scrape(running_app)
    failed = value(after, "tandem_slack_calls_total", method="views.open", error="trigger_expired")
    assert (
        failed - value(before, "tandem_slack_calls_total", method="views.open", error="trigger_expired") == 1
    )
