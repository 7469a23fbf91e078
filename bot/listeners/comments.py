"""Comments on pulses ("Add a comment" and its modal) and "Make this a commitment".

Each handler parses its payload with the parser beside its builder (`bot.blocks.comments`,
`bot.ids`), acknowledges, calls one use case (`bot.usecases.comments`) and renders its outcome.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.blocks.comments import (
    COMMENT_ASK_SIDE,
    COMMENT_CLOSED,
    COMMENT_NOT_SAVED,
    COMMENT_UNKNOWN,
    COMMIT_FROM_NOT_FOUND,
    COMMIT_FROM_NOT_LEAD,
    COMMIT_FROM_UNREADABLE,
    comment_modal_pulse_id,
    parse_comment_value,
)
from bot.blocks.commitments import modal_values
from bot.middleware import actor_of, services_of, trigger_id_of
from bot.usecases import comments
from bot.usecases.comments import CommentRefusal, CommitFromRefusal
from bot.usecases.interactions import reply

COMMENT_REFUSALS = {
    CommentRefusal.CLOSED: COMMENT_CLOSED,
    CommentRefusal.UNKNOWN: COMMENT_UNKNOWN,
    CommentRefusal.ASK_SIDE: COMMENT_ASK_SIDE,
    CommentRefusal.NOT_SAVED: COMMENT_NOT_SAVED,
}
COMMIT_FROM_REFUSALS = {
    CommitFromRefusal.NOT_FOUND: COMMIT_FROM_NOT_FOUND,
    CommitFromRefusal.NOT_LEAD: COMMIT_FROM_NOT_LEAD,
}


def _tell(context: BoltContext, body: dict[str, Any], text: str) -> None:
    reply(services_of(context), actor_of(context), body.get("response_url"), text)


def handle_comment_button(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext
) -> None:
    """The pulse message's "Add a comment": the modal (with the clicker's comment so far)."""
    ack()
    pulse_id = parse_comment_value(action.get("value"))
    actor = actor_of(context)
    if pulse_id is None or not actor.team_id or not actor.user_id:
        _tell(context, body, COMMENT_UNKNOWN)
        return
    refused = comments.open_comment(services_of(context), actor, trigger_id_of(body), pulse_id)
    if refused is not None:
        _tell(context, body, COMMENT_REFUSALS[refused])


def handle_comment_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    pulse_id = comment_modal_pulse_id(view.get("private_metadata"))
    if pulse_id is None:
        ack(response_action="errors", errors={ids.BLOCK_PULSE_COMMENT_TEXT: _plain(COMMENT_UNKNOWN)})
        return
    outcome = comments.save_comment(services_of(context), actor_of(context), pulse_id, modal_values(view))
    if isinstance(outcome, CommentRefusal):
        ack(
            response_action="errors", errors={ids.BLOCK_PULSE_COMMENT_TEXT: _plain(COMMENT_REFUSALS[outcome])}
        )
    elif outcome:
        ack(response_action="errors", errors=outcome)
    else:
        ack()


def _plain(text: str) -> str:
    # Modal errors are plain text: no emoji codes or backticks.
    return text.removeprefix(":warning: ").replace("`", "")


def handle_commit_from(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    """ "Make this a commitment" on results, a drift alert or a comment: leads only."""
    ack()
    source = ids.parse_commit_source(action.get("value"))
    actor = actor_of(context)
    if source is None or not actor.team_id or not actor.user_id:
        _tell(context, body, COMMIT_FROM_UNREADABLE)
        return
    refused = comments.commit_from(services_of(context), actor, trigger_id_of(body), *source)
    if refused is not None:
        _tell(context, body, COMMIT_FROM_REFUSALS[refused])


def register(app: App) -> None:
    app.action(ids.ACTION_PULSE_COMMENT)(handle_comment_button)
    app.view(ids.VIEW_PULSE_COMMENT)(handle_comment_submission)
    app.action(ids.ACTION_COMMIT_FROM)(handle_commit_from)
