"""The App Home tab: published when opened, and its buttons for the common actions."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.middleware import services_of
from bot.usecases import home
from bot.usecases.access import Actor


def _opener(body: dict[str, Any], context: BoltContext) -> tuple[Actor, str] | None:
    """Who clicked, and the trigger a modal opens with; None when the payload has no usable trigger
    (Slack always sends one, so there is nobody to tell: nothing opens)."""
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id or not context.user_id:
        return None
    return Actor(context.team_id or "", context.user_id), trigger_id  # a Home tab has no channel


def handle_home_opened(event: dict[str, Any], context: BoltContext) -> None:
    user_id = event.get("user")
    if event.get("tab") != "home" or not isinstance(user_id, str) or not user_id:
        return
    home.open_home(services_of(context), Actor(context.team_id or "", user_id))


# The three buttons open modals that belong to other features; their use cases are imported where
# they are called, so this module loads even where a feature's use-case module is not there yet.


def handle_new_ritual(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    opener = _opener(body, context)
    if opener is not None:
        from bot.usecases import rituals

        rituals.open_setup(services_of(context), *opener)


def handle_new_win(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    opener = _opener(body, context)
    if opener is not None:
        from bot.usecases import wins

        wins.open_win_modal(services_of(context), *opener)


def handle_new_commit(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    opener = _opener(body, context)
    if opener is not None:
        from bot.usecases import commitments

        commitments.open_commit_modal(services_of(context), *opener)


def register(app: App) -> None:
    app.event(ids.EVENT_APP_HOME_OPENED)(handle_home_opened)
    app.action(ids.ACTION_HOME_NEW_RITUAL)(handle_new_ritual)
    app.action(ids.ACTION_HOME_NEW_WIN)(handle_new_win)
    app.action(ids.ACTION_HOME_NEW_COMMIT)(handle_new_commit)
