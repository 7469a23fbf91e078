"""Prometheus metrics: what `GET /metrics` serves (prometheus-client, Prometheus text format).

Counters and histograms live in one registry per process (`REGISTRY`). The gauges that read state
(outbox depth, open pulses) are computed when scraped, by a collector each `Runtime` builds for its
own outbox and database. With several gunicorn workers each worker answers with its own counts:
scrape every worker, or run one worker per container, and let Prometheus add them up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "tandem_requests",
    "Requests from Slack by kind (command, action, view_submission, shortcut, event, function, ...) "
    "and outcome (ok, error, rejected)",
    ["kind", "outcome"],
    registry=REGISTRY,
)
ACK_LATENCY = Histogram(
    "tandem_ack_latency_seconds",
    "Seconds from Bolt's dispatch of a request to its acknowledgement (Slack allows 3)",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
    registry=REGISTRY,
)
SLACK_CALLS = Counter(
    "tandem_slack_calls",
    "Web API calls by method and error (ok, Slack's error code, or the exception when Slack did not answer)",
    ["method", "error"],
    registry=REGISTRY,
)
SCHEDULER_LAG = Histogram(
    "tandem_scheduler_lag_seconds",
    "Seconds from a check-in's scheduled time to its post in the channel",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 7200),
    registry=REGISTRY,
)


def request_kind(body: dict[str, Any]) -> str:
    """What Slack sent, as one label: a bounded set, never an id from the payload."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event") or {}
        return "function" if isinstance(event, dict) and event.get("type") == "function_executed" else "event"
    if kind == "block_actions":
        return "action"
    if kind in ("view_submission", "view_closed", "block_suggestion", "url_verification"):
        return str(kind)
    if kind in ("shortcut", "message_action"):
        return "shortcut"
    return "other"


def observed_dispatch(dispatch: Callable[[BoltRequest], BoltResponse], req: BoltRequest) -> BoltResponse:
    """Run Bolt's `dispatch`, counting the request by kind and outcome and timing it until acknowledged.

    Both roads in (the WSGI adapter and Socket Mode) go through `App.dispatch`, which returns as soon
    as the listener acknowledged (the rest runs after it, process_before_response=False): its
    duration is the ack latency, signature check and authorization included.
    """
    started = time.perf_counter()
    kind = request_kind(req.body)
    outcome = "error"
    try:
        resp = dispatch(req)
        outcome = "ok" if resp.status < 400 else "rejected" if resp.status < 500 else "error"
        return resp
    finally:
        ACK_LATENCY.labels(kind).observe(time.perf_counter() - started)
        REQUESTS.labels(kind, outcome).inc()


def count_malformed_request() -> None:
    """A request refused before Bolt could dispatch it (a body Bolt could not read)."""
    REQUESTS.labels("malformed", "rejected").inc()


class MeasuredWebClient(WebClient):
    """slack_sdk's client, counting each Web API call by method and error."""

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            SLACK_CALLS.labels(api_method, str(exc.response.get("error") or "unknown")).inc()
            raise
        except Exception as exc:
            SLACK_CALLS.labels(api_method, type(exc).__name__).inc()
            raise
        SLACK_CALLS.labels(api_method, "ok").inc()
        return response


class StateCollector(Collector):
    """Gauges read at scrape time from one process's outbox and database."""

    def __init__(self, outbox_depth: Callable[[], int], open_pulses: Callable[[], int]) -> None:
        self.outbox_depth = outbox_depth
        self.open_pulses = open_pulses

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "tandem_outbox_depth", "Check-ins and pulses queued to be posted", value=self.outbox_depth()
        )
        yield GaugeMetricFamily(
            "tandem_open_pulses", "Pulses open now in installed workspaces", value=self.open_pulses()
        )


def state_registry(outbox_depth: Callable[[], int], open_pulses: Callable[[], int]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(outbox_depth, open_pulses))
    return registry


def exposition(*registries: CollectorRegistry) -> bytes:
    """The Prometheus text format of the process-wide metrics and of `registries`."""
    return b"".join(generate_latest(r) for r in (REGISTRY, *registries))
