"""Uninstalls and token revocations: drop the tokens, stop scheduled work, keep the history."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import App, BoltContext

from bot import ids
from bot.middleware import services_of
from bot.usecases import workspaces


def _remove(body: dict[str, Any], context: BoltContext, logger: Logger) -> None:
    team_id = body.get("team_id") or context.team_id
    if not isinstance(team_id, str) or not team_id:
        logger.warning("uninstall event without a team id; nothing to remove")
        return
    workspaces.uninstall(services_of(context), team_id)
    logger.info("workspace %s uninstalled: tokens removed, scheduled work stopped", team_id)


def handle_app_uninstalled(body: dict[str, Any], context: BoltContext, logger: Logger) -> None:
    _remove(body, context, logger)


def handle_tokens_revoked(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, logger: Logger
) -> None:
    # Tandem only holds bot tokens; a revoked user token alone changes nothing for it.
    tokens = event.get("tokens")
    if isinstance(tokens, dict) and tokens.get("bot"):
        _remove(body, context, logger)


def register(app: App) -> None:
    app.event(ids.EVENT_APP_UNINSTALLED)(handle_app_uninstalled)
    app.event(ids.EVENT_TOKENS_REVOKED)(handle_tokens_revoked)
