"""Listeners, one module per Slack surface, each registering itself through `register(app, ...)`."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import (
    commands,
    comments,
    commitments,
    errors,
    help,
    home,
    insight,
    lifecycle,
    noise,
    pairing,
    picker,
    prompts,
    pulses,
    rituals,
    wins,
    workflow_steps,
    written_answers,
)


def register_listeners(app: App) -> commands.CommandRouter:
    router = commands.CommandRouter()
    errors.register(app)
    # Bolt tries listeners in registration order, at a few microseconds each: the busiest
    # (every /tandem command, every pulse click) go first.
    commands.register(app, router)
    pulses.register(app, router)
    help.register(app, router)
    rituals.register(app, router)
    prompts.register(app, router)
    wins.register(app, router)
    commitments.register(app, router)
    comments.register(app)
    home.register(app)
    insight.register(app, router)
    pairing.register(app, router)
    noise.register(app, router)
    picker.register(app)
    written_answers.register(app)
    lifecycle.register(app)
    workflow_steps.register(app)  # answered only where the manifest declares the steps (--workflow-steps)
    return router
