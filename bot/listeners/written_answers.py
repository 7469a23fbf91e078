"""Written check-ins: the "Answer" button of the question DM (and its reminder), the answer modal's
submission, and a lead's "Confirm win" in the check-in's thread.

Each handler parses its payload with the parser beside its builder (`bot.blocks.written_answers`),
acknowledges, and hands the work to `bot.usecases.written_answers`; refusals are rendered with a builder.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.blocks.commitments import modal_values
from bot.blocks.written_answers import (
    parse_answer_metadata,
    parse_answer_state,
    parse_round_value,
    refusal_text,
    win_confirmed_text,
)
from bot.middleware import actor_of, services_of, submission_of, trigger_id_of
from bot.usecases import written_answers
from bot.usecases.interactions import reply


def handle_answer_button(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext
) -> None:
    ack()
    services, actor = services_of(context), actor_of(context)
    refused = written_answers.open_answer_modal(
        services, actor, trigger_id_of(body), parse_round_value(action.get("value"))
    )
    if refused is not None:
        reply(services, actor, body.get("response_url"), refusal_text(refused))


def handle_answer_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    target = parse_answer_metadata(view.get("private_metadata"))
    if target.round_id is None:
        ack(response_action="errors", errors={ids.BLOCK_WRITTEN_ANSWER: refusal_text("not_found")})
        return
    form, errors = parse_answer_state(modal_values(view))
    if errors:
        ack(response_action="errors", errors=errors)
        return
    outcome = written_answers.save_answer(
        services_of(context), actor_of(context), target.round_id, form, submission_of(view)
    )
    if isinstance(outcome, str):
        ack(response_action="errors", errors={ids.BLOCK_WRITTEN_ANSWER: refusal_text(outcome)})
    else:
        # Saved; or AlreadySaved: a replay or a double click of the submission that saved it.
        ack()


def handle_confirm_win(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    ack()
    services, actor = services_of(context), actor_of(context)
    refused = written_answers.confirm_win(services, actor, ids.parse_row_id(action.get("value")))
    reply(
        services,
        actor,
        body.get("response_url"),
        refusal_text(refused) if refused is not None else win_confirmed_text(),
    )


def register(app: App) -> None:
    app.action(ids.ACTION_WRITTEN_ANSWER)(handle_answer_button)
    app.view(ids.VIEW_WRITTEN_ANSWER)(handle_answer_submission)
    app.action(ids.ACTION_WRITTEN_CONFIRM_WIN)(handle_confirm_win)
