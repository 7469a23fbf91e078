"""Commitments: `/tandem commit`, the check-in's "Add a commitment" button, done / new date / drop.

Each handler parses its payload with the parser beside its builder (`bot.blocks.commitments`),
acknowledges, and hands the work to `bot.usecases.commitments`; what comes back is rendered with a
builder.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.blocks.commitments import (
    changed_commitment_id,
    commit_action_choice,
    commit_add_ritual_id,
    commit_modal_error,
    commit_modal_metadata,
    commit_modal_source,
    commitment_refusal_text,
    metadata_tampered,
    modal_values,
    parse_drop_state,
    source_tampered,
)
from bot.blocks.rituals import refusal_text
from bot.listeners.commands import CommandRouter, Invocation
from bot.middleware import actor_of, services_of, submission_of, trigger_id_of
from bot.services import Services
from bot.usecases import commitments
from bot.usecases.access import Actor, Refused
from bot.usecases.commitments import CommitmentChanged, CommitmentRefusal, CommitmentRefused, ModalErrors
from bot.usecases.interactions import reply
from bot.usecases.submissions import AlreadySaved


def handle_commit(inv: Invocation) -> None:
    services, actor = inv.services, actor_of(inv.context)
    ritual_id = commitments.ritual_for_command(services, actor, inv.args)
    if isinstance(ritual_id, Refused):
        inv.ack(text=refusal_text(ritual_id.kind, detail=ritual_id.detail), response_type="ephemeral")
        return
    inv.ack()
    commitments.open_commit_modal(services, actor, trigger_id_of(inv.command), ritual_id)


def _refuse(context: BoltContext, body: dict[str, Any], refused: CommitmentRefused) -> None:
    text = commitment_refusal_text(refused.kind, status=refused.status)
    reply(services_of(context), actor_of(context), body.get("response_url"), text)


def handle_add_button(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    ack()
    ritual_id = commit_add_ritual_id(action.get("value"))
    refused = commitments.add_to_checkin(
        services_of(context), actor_of(context), trigger_id_of(body), ritual_id
    )
    if refused is not None:
        _refuse(context, body, refused)


def handle_commit_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    metadata = view.get("private_metadata")
    if metadata_tampered(metadata, "ritual_id", "commitment_id"):
        ack(response_action="errors", errors={ids.BLOCK_COMMIT_WHAT: commit_modal_error("tampered")})
        return
    if source_tampered(metadata):
        ack(response_action="errors", errors={ids.BLOCK_COMMIT_WHAT: commit_modal_error("tampered")})
        return
    ritual_id, _ = commit_modal_metadata(metadata)
    services, actor = services_of(context), actor_of(context)
    outcome = commitments.save_commitment(
        services, actor, modal_values(view), ritual_id, submission_of(view), commit_modal_source(metadata)
    )
    if isinstance(outcome, AlreadySaved):
        ack()  # a replay or a double click: the first submission did the work
    elif isinstance(outcome, ModalErrors):
        ack(response_action="errors", errors=outcome.errors)
    elif isinstance(outcome, CommitmentRefused):
        ack(response_action="errors", errors={ids.BLOCK_COMMIT_WHAT: commit_modal_error(outcome.kind)})
    else:
        ack()
        commitments.confirm_commitment(services, actor, outcome)


def handle_choice(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    """The overflow menu of a commitment (check-in, Home, confirmation) and the nudge DM's buttons."""
    ack()
    choice = commit_action_choice(action)
    if choice is None:
        _refuse(context, body, CommitmentRefused(CommitmentRefusal.NOT_FOUND))
        return
    refused = commitments.choose(services_of(context), actor_of(context), trigger_id_of(body), *choice)
    if refused is not None:
        _refuse(context, body, refused)


def _finish_change(
    ack: Ack,
    services: Services,
    actor: Actor,
    outcome: CommitmentChanged | CommitmentRefused | ModalErrors,
    block_id: str,
) -> None:
    """Acknowledge a move or drop submission with its errors, or acknowledge it and announce the change."""
    if isinstance(outcome, ModalErrors):
        ack(response_action="errors", errors=outcome.errors)
    elif isinstance(outcome, CommitmentRefused):
        error = commit_modal_error(outcome.kind, status=outcome.status)
        ack(response_action="errors", errors={block_id: error})
    else:
        ack()
        commitments.announce_change(services, actor, outcome)


def handle_move_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    commitment_id = changed_commitment_id(view.get("private_metadata"))
    if commitment_id is None:
        ack(response_action="errors", errors={ids.BLOCK_COMMIT_MOVE_DUE: commit_modal_error("not_found")})
        return
    services, actor = services_of(context), actor_of(context)
    outcome = commitments.move_commitment(services, actor, commitment_id, modal_values(view))
    _finish_change(ack, services, actor, outcome, ids.BLOCK_COMMIT_MOVE_DUE)


def handle_drop_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    commitment_id = changed_commitment_id(view.get("private_metadata"))
    if commitment_id is None:
        ack(response_action="errors", errors={ids.BLOCK_COMMIT_DROP_REASON: commit_modal_error("not_found")})
        return
    reason, errors = parse_drop_state(modal_values(view))
    if errors:
        ack(response_action="errors", errors=errors)
        return
    services, actor = services_of(context), actor_of(context)
    outcome = commitments.drop_commitment(services, actor, commitment_id, reason)
    _finish_change(ack, services, actor, outcome, ids.BLOCK_COMMIT_DROP_REASON)


def register(app: App, router: CommandRouter) -> None:
    router.add(
        "commit",
        usage="commit [ritual]",
        summary="add a commitment with an owner on each side",
        example=commitments.COMMIT_EXAMPLE,
        handler=handle_commit,
    )
    app.action(ids.ACTION_COMMIT_ADD)(handle_add_button)
    # The overflow menu (check-in, Home, confirmation) and the nudge DM's buttons share one handler.
    for action_id in (
        ids.ACTION_COMMIT_MENU,
        ids.ACTION_COMMIT_DONE,
        ids.ACTION_COMMIT_MOVE,
        ids.ACTION_COMMIT_DROP,
    ):
        app.action(action_id)(handle_choice)
    app.view(ids.VIEW_COMMIT)(handle_commit_submission)
    app.view(ids.VIEW_COMMIT_MOVE)(handle_move_submission)
    app.view(ids.VIEW_COMMIT_DROP)(handle_drop_submission)
