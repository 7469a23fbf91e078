"""Global middleware: hand services to listeners, and take each Slack event once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.services import Services
from bot.usecases.access import Actor
from bot.usecases.submissions import Submission
from db.workspaces import claim_event, ensure_workspace, release_event

log = logging.getLogger(__name__)

SERVICES = "tandem"
# Set in the Bolt context when this delivery claimed its event id: only that delivery may release it.
CLAIMED_EVENT = "tandem_claimed_event"


def register(app: App, services: Services) -> None:
    known_teams: set[str] = set()  # per process: the workspace row is created once, not per request

    def prepare(body: dict, context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        # One middleware, not two: Bolt builds each middleware's arguments on every request, and
        # every pulse click passes through here.
        context[SERVICES] = services
        team_id = context.team_id
        if team_id and team_id not in known_teams:
            with services.database.begin() as session:
                ensure_workspace(
                    session, team_id, now=services.clock.now(), enterprise_id=context.enterprise_id
                )
            known_teams.add(team_id)
        # Slack retries an event it thinks we missed (X-Slack-Retry-Num). Claim the event id in the
        # database before any work, so a retry, or a copy arriving at another worker, is only acked.
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id:
            return next()
        with services.database.begin() as session:
            first = claim_event(session, event_id, team_id=body.get("team_id"), now=services.clock.now())
        if not first:
            log.info("event %s already handled; acknowledging the retry only", event_id)
            return BoltResponse(status=200, body="")
        # The listener runs after the ack, so its outcome is not known here: if it raises, the global
        # error handler gives the claim back (`release_claimed_event`) and Slack's retry is processed.
        context[CLAIMED_EVENT] = event_id
        return next()

    app.use(prepare)


def release_claimed_event(context: BoltContext) -> None:
    """Forget the event id this delivery claimed, because its listener failed: a retry may try again."""
    event_id = context.get(CLAIMED_EVENT)
    services = context.get(SERVICES)
    if not event_id or services is None:
        return
    try:
        with services.database.begin() as session:
            release_event(session, event_id)
    except Exception:
        log.exception("could not release event %s after its listener failed", event_id)
    else:
        context[CLAIMED_EVENT] = None
        log.info("event %s released after its listener failed: a retry will be processed", event_id)


def services_of(context: BoltContext) -> Services:
    """The process's services, which the middleware put into every request's context."""
    services: Services = context[SERVICES]
    return services


def actor_of(context: BoltContext) -> Actor:
    """Who a request comes from, as Bolt read it from the payload ("" where the payload says nothing)."""
    return Actor(
        team_id=context.team_id or "", user_id=context.user_id or "", channel_id=context.channel_id or ""
    )


def submission_of(view: Mapping[str, Any]) -> Submission:
    """Which submission a `view_submission` is: its view's id and hash ("" where the payload has none)."""
    view_id, view_hash = view.get("id"), view.get("hash")
    return Submission(
        view_id=view_id if isinstance(view_id, str) else "",
        view_hash=view_hash if isinstance(view_hash, str) else "",
    )


def trigger_id_of(payload: Mapping[str, Any]) -> str:
    """The trigger id of an interaction (a command, a shortcut, a click): "" when the payload has none."""
    trigger_id = payload.get("trigger_id")
    return trigger_id if isinstance(trigger_id, str) else ""
