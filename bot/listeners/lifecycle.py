"""Uninstalls and token revocations: drop the tokens, stop scheduled work, keep the history."""

from __future__ import annotations

from logging import Logger

from slack_bolt import App, BoltContext

from bot import ids
from bot.middleware import services_of
from bot.services import Services
from db.workspaces import record_uninstall


def forget_client(services: Services, team_id: str) -> None:
    """Drop the messenger's cached client for `team_id`: its token is gone, and after a reinstall
    (OAuth) a stale one would be refused and pause the workspace's rituals."""
    services.messenger.forget(team_id)


def _remove_workspace(context: BoltContext, team_id: str | None, logger: Logger) -> None:
    if not team_id:
        logger.warning("uninstall event without a team id; nothing to remove")
        return
    services = services_of(context)
    with services.database.begin() as session:
        record_uninstall(session, team_id, now=services.clock.now())
    forget_client(services, team_id)
    services.on_schedule_change(team_id)
    logger.info("workspace %s uninstalled: tokens removed, scheduled work stopped", team_id)


def register(app: App) -> None:
    def handle_app_uninstalled(body: dict, context: BoltContext, logger: Logger) -> None:
        _remove_workspace(context, body.get("team_id") or context.team_id, logger)

    def handle_tokens_revoked(event: dict, body: dict, context: BoltContext, logger: Logger) -> None:
        # Tandem only holds bot tokens; a revoked user token alone changes nothing for it.
        if event.get("tokens", {}).get("bot"):
            _remove_workspace(context, body.get("team_id") or context.team_id, logger)

    app.event(ids.EVENT_APP_UNINSTALLED)(handle_app_uninstalled)
    app.event(ids.EVENT_TOKENS_REVOKED)(handle_tokens_revoked)
