"""Cross-team one-to-ones: "We met" and "Skip this round" on an introduction or its nudge, and
`/tandem pairing on|off`.

Each handler parses its payload with the parser beside its builder (`bot.blocks.pairing`),
acknowledges, and hands the work to `bot.usecases.pairing`; what comes back is rendered with a builder.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.blocks.pairing import answer_text, pairing_button_id, pairing_setting_text, parse_pairing_args
from bot.listeners.commands import CommandRouter, Invocation
from bot.middleware import actor_of, services_of
from bot.usecases import pairing
from bot.usecases.interactions import reply

PAIRING_EXAMPLE = "pairing off"


def _answer(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, met: bool) -> None:
    ack()
    services, actor = services_of(context), actor_of(context)
    container = body.get("container") or {}
    clicked_in = container.get("channel_id") if isinstance(container, dict) else None
    outcome = pairing.answer_pairing(
        services,
        actor,
        pairing_button_id(action.get("value")),
        met=met,
        clicked_in=clicked_in if isinstance(clicked_in, str) else "",
    )
    if outcome.kind in ("not_found", "not_member") or outcome.confirm:
        reply(services, actor, body.get("response_url"), answer_text(outcome.kind))


def handle_met(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    _answer(ack, body, action, context, met=True)


def handle_skip(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    _answer(ack, body, action, context, met=False)


def handle_pairing(inv: Invocation) -> None:
    enabled = parse_pairing_args(inv.args)
    if enabled is None:
        inv.fail("Say whether you want to be paired: on or off.", PAIRING_EXAMPLE)
        return
    pairing.set_taking_part(inv.services, inv.actor, enabled)
    inv.ack(text=pairing_setting_text(enabled), response_type="ephemeral")


def register(app: App, router: CommandRouter) -> None:
    router.add(
        "pairing",
        usage="pairing on|off",
        summary="take part in cross-team one-to-ones, or stop",
        example=PAIRING_EXAMPLE,
        handler=handle_pairing,
    )
    app.action(ids.ACTION_PAIRING_MET)(handle_met)
    app.action(ids.ACTION_PAIRING_SKIP)(handle_skip)
