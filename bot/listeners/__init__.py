"""Listeners, one module per Slack surface, each registering itself through `register(app, ...)`."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import commands, errors, help, lifecycle, prompts, rituals


def register_listeners(app: App) -> commands.CommandRouter:
    router = commands.CommandRouter()
    errors.register(app)
    help.register(app, router)
    rituals.register(app, router)
    prompts.register(app, router)
    lifecycle.register(app)
    commands.register(app, router)
    return router
