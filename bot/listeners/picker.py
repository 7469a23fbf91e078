"""The ritual picker's submission (`/tandem report` or `/tandem export` with no ritual implied)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.blocks.picker import parse_ritual_pick
from bot.blocks.report import not_shared_text, report_refusal_text
from bot.middleware import actor_of, services_of
from bot.usecases import pickers
from bot.usecases.access import Refused
from bot.usecases.interactions import reply


def handle_ritual_pick(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    pick = parse_ritual_pick(view)
    if pick is None:
        ack(response_action="errors", errors={ids.BLOCK_RITUAL_PICK: "Pick one of your check-ins."})
        return
    ack()  # the modal closes; the report or export follows by DM
    services, actor = services_of(context), actor_of(context)
    outcome = pickers.deliver_pick(services, actor, pick)
    if isinstance(outcome, Refused):
        text = report_refusal_text(outcome.kind, detail=outcome.detail, ritual_name=outcome.ritual_name)
    elif outcome.error is not None:
        text = not_shared_text(pick.what, outcome.error)
    else:
        return
    reply(services, actor, None, text)


def register(app: App) -> None:
    app.view(ids.VIEW_RITUAL_PICK)(handle_ritual_pick)
