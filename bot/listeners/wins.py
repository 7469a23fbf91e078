"""Shared wins: `/tandem win`, the "Celebrate a shared win" shortcut, edit and withdraw, `/tandem wins`.

Each handler parses its payload with the parser beside its builder (`bot.blocks.wins`), acknowledges,
and hands the work to `bot.usecases.wins`; what comes back is rendered with a builder.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.blocks.channels import channel_problem_text
from bot.blocks.commitments import modal_values
from bot.blocks.rituals import refusal_text
from bot.blocks.wins import (
    build_wins_digest,
    parse_celebrated_message,
    parse_win_state,
    win_button_id,
    win_modal_error,
    win_modal_id,
    win_modal_tampered,
    win_refusal_text,
    withdrawn_but_shown_text,
)
from bot.listeners.commands import CommandRouter, Invocation
from bot.middleware import actor_of, services_of, submission_of, trigger_id_of
from bot.usecases import wins
from bot.usecases.access import Refused
from bot.usecases.channels import ChannelRefused
from bot.usecases.interactions import reply
from bot.usecases.submissions import AlreadySaved


def handle_win(inv: Invocation) -> None:
    inv.ack()
    wins.open_win_modal(inv.services, actor_of(inv.context), trigger_id_of(inv.command))


def handle_wins(inv: Invocation) -> None:
    outcome = wins.wins_of_month(inv.services, actor_of(inv.context), inv.args)
    if isinstance(outcome, Refused):
        inv.ack(text=refusal_text(outcome.kind, detail=outcome.detail), response_type="ephemeral")
        return
    text, blocks = build_wins_digest(outcome.label, outcome.wins, ritual_name=outcome.ritual_name)
    inv.ack(text=text, blocks=blocks, response_type="ephemeral")


def handle_celebrate_shortcut(ack: Ack, shortcut: dict[str, Any], context: BoltContext) -> None:
    ack()
    message = parse_celebrated_message(shortcut)
    wins.celebrate_message(services_of(context), actor_of(context), trigger_id_of(shortcut), message)


def handle_win_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    metadata = view.get("private_metadata")
    if win_modal_tampered(metadata):
        ack(response_action="errors", errors={ids.BLOCK_WIN_WHAT: win_modal_error("tampered")})
        return
    form, errors = parse_win_state(modal_values(view))
    if errors:
        ack(response_action="errors", errors=errors)
        return
    services, actor = services_of(context), actor_of(context)
    outcome = wins.save_win(services, actor, form, win_modal_id(metadata), submission_of(view))
    if isinstance(outcome, AlreadySaved):
        ack()  # a replay or a double click: the first submission did the work
    elif isinstance(outcome, wins.WinRefused):
        ack(response_action="errors", errors={ids.BLOCK_WIN_WHAT: win_modal_error(outcome.kind)})
    elif isinstance(outcome, ChannelRefused):
        problem = channel_problem_text(outcome.problem, outcome.code)
        ack(response_action="errors", errors={ids.BLOCK_WIN_CHANNEL: problem})
    else:
        ack()
        wins.celebrate_win(services, actor, outcome)


def handle_win_edit(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    ack()
    services, actor = services_of(context), actor_of(context)
    refused = wins.open_win_editor(services, actor, trigger_id_of(body), win_button_id(action.get("value")))
    if refused is not None:
        reply(
            services, actor, body.get("response_url"), win_refusal_text(refused.kind, creator=refused.creator)
        )


def handle_win_withdraw(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    ack()
    services, actor = services_of(context), actor_of(context)
    outcome = wins.withdraw_win(services, actor, win_button_id(action.get("value")))
    if isinstance(outcome, wins.WinRefused):
        reply(
            services, actor, body.get("response_url"), win_refusal_text(outcome.kind, creator=outcome.creator)
        )
    elif outcome.not_replaced is not None:
        reply(services, actor, body.get("response_url"), withdrawn_but_shown_text(outcome.not_replaced))


def register(app: App, router: CommandRouter) -> None:
    router.add(
        "win",
        usage="win",
        summary="celebrate a win that marketing and IT made together",
        example="win",
        handler=handle_win,
    )
    router.add(
        "wins",
        usage="wins [ritual] [period]",
        summary="the shared wins of a month",
        example=wins.WINS_EXAMPLE,
        handler=handle_wins,
    )
    app.shortcut(ids.SHORTCUT_CELEBRATE)(handle_celebrate_shortcut)
    app.view(ids.VIEW_WIN)(handle_win_submission)
    app.action(ids.ACTION_WIN_EDIT)(handle_win_edit)
    app.action(ids.ACTION_WIN_WITHDRAW)(handle_win_withdraw)
