"""Check-in rituals: `/tandem setup|list|edit|pause|resume|skip|now|delete`, the setup modal, delete buttons.

Each handler reads what Slack sent with the parser beside its builder (bot.blocks.setup,
bot.blocks.rituals), calls one use case of bot.usecases.rituals and answers with a builder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext, Respond

from bot import ids
from bot.blocks.rituals import (
    DELETE_REFUSAL,
    SKIP_EXAMPLE,
    build_delete_confirmation,
    build_ritual_list,
    delete_confirmation_id,
    deleted_text,
    not_opened_text,
    now_text,
    parse_skip_args,
    paused_text,
    refusal_text,
    resumed_text,
    skipped_text,
    warning_text,
)
from bot.blocks.setup import parse_setup_rebuild, parse_setup_submission
from bot.listeners.commands import CommandRouter, Invocation
from bot.middleware import actor_of, services_of, submission_of
from bot.usecases import rituals
from bot.usecases.access import Refused
from bot.usecases.submissions import AlreadySaved

T = TypeVar("T")


def _refusal(refused: Refused, refusal: str | None = None) -> str:
    return refusal_text(refused.kind, detail=refused.detail, ritual_name=refused.ritual_name, refusal=refusal)


def _answer(inv: Invocation, outcome: T | Refused, render: Callable[[T], str]) -> None:
    """Acknowledge a command with its outcome (or why it was refused), for the person who typed it."""
    text = _refusal(outcome) if isinstance(outcome, Refused) else render(outcome)
    inv.ack(text=text, response_type="ephemeral")


# -- /tandem setup and edit, and the modal ------------------------------------------------------------


def handle_setup(inv: Invocation) -> None:
    inv.ack()
    rituals.open_setup(inv.services, inv.actor, inv.trigger_id)


def handle_edit(inv: Invocation) -> None:
    outcome = rituals.open_edit(inv.services, inv.actor, inv.args, inv.trigger_id)
    if isinstance(outcome, Refused) or not outcome.opened:
        _answer(inv, outcome, lambda opened: not_opened_text(opened.name))
        return
    inv.ack()


def handle_setup_cadence_change(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    rebuild = parse_setup_rebuild(body.get("view"))
    if rebuild is not None:
        rituals.rebuild_setup(services_of(context), actor_of(context), rebuild)


def handle_setup_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    actor = actor_of(context)
    submission = parse_setup_submission(view, today=services.clock.now().date())
    if submission.errors:
        ack(response_action="errors", errors=submission.errors)
        return
    outcome = rituals.save_setup(services, actor, submission.ritual_id, submission.form, submission_of(view))
    if isinstance(outcome, AlreadySaved):
        ack()  # a replay or a double click: the first submission did the work
        return
    if isinstance(outcome, rituals.SetupRejected):
        ack(response_action="errors", errors=outcome.errors)
        return
    ack()
    # A submission's answer is its acknowledgement: what follows the save comes after it.
    rituals.announce_setup(services, actor, outcome)


# -- list, pause, resume, skip, now, delete ------------------------------------------------------------


def handle_list(inv: Invocation) -> None:
    listed = rituals.list_rituals(inv.services, inv.actor)
    text, blocks = build_ritual_list(listed.rituals, scope=listed.scope)
    inv.ack(text=text, blocks=blocks, response_type="ephemeral")


def handle_pause(inv: Invocation) -> None:
    outcome = rituals.pause(inv.services, inv.actor, inv.args)
    _answer(inv, outcome, lambda done: paused_text(done.name, already=not done.changed))


def handle_resume(inv: Invocation) -> None:
    outcome = rituals.resume(inv.services, inv.actor, inv.args)
    _answer(inv, outcome, lambda done: resumed_text(done.name, done.next_local, already=not done.changed))


def handle_skip(inv: Invocation) -> None:
    request = parse_skip_args(inv.args, today=inv.services.clock.now().date())
    if request.problem is not None:
        inv.fail(request.problem, SKIP_EXAMPLE)
        return
    outcome = rituals.skip(inv.services, inv.actor, request)
    if isinstance(outcome, rituals.Problem):
        if outcome.example is not None:
            inv.fail(outcome.detail, outcome.example)
        else:
            inv.ack(text=warning_text(outcome.detail), response_type="ephemeral")
        return
    _answer(inv, outcome, lambda done: skipped_text(done.name, done.skipped_local, done.next_local))


def handle_now(inv: Invocation) -> None:
    claimed = rituals.claim_now(inv.services, inv.actor, inv.args)
    _answer(inv, claimed, lambda posting: now_text(posting.name, posting.status))
    rituals.queue_now(inv.services, claimed)  # after the answer: "Posting…" comes before the post


def handle_delete(inv: Invocation) -> None:
    outcome = rituals.ask_delete(inv.services, inv.actor, inv.args)
    if isinstance(outcome, Refused):
        inv.ack(text=_refusal(outcome), response_type="ephemeral")
        return
    text, blocks = build_delete_confirmation(outcome)
    inv.ack(text=text, blocks=blocks, response_type="ephemeral")


def handle_delete_confirm(ack: Ack, action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    ack()
    ritual_id = delete_confirmation_id(action.get("value"))
    outcome = rituals.delete(services_of(context), actor_of(context), ritual_id)
    text = _refusal(outcome, DELETE_REFUSAL) if isinstance(outcome, Refused) else deleted_text(outcome.name)
    respond(replace_original=True, text=text)


def handle_delete_cancel(ack: Ack, respond: Respond) -> None:
    ack()
    respond(delete_original=True)


# (name, usage, summary, example, handler): the order is /tandem help's (see commands.HELP_ORDER).
SUBCOMMANDS: tuple[tuple[str, str, str, str, Callable[[Invocation], None]], ...] = (
    ("setup", "setup", "set up a recurring marketing + IT check-in", "setup", handle_setup),
    ("list", "list", "this channel's check-ins (or all of yours) and when each is next", "list", handle_list),
    ("edit", "edit [ritual]", "change a check-in", rituals.EXAMPLES["edit"], handle_edit),
    ("pause", "pause [ritual]", "stop a check-in until resumed", rituals.EXAMPLES["pause"], handle_pause),
    ("resume", "resume [ritual]", "start a paused check-in again", rituals.EXAMPLES["resume"], handle_resume),
    (
        "skip",
        "skip [ritual] [YYYY-MM-DD]",
        "skip the next check-in, or the one on a date",
        SKIP_EXAMPLE,
        handle_skip,
    ),
    ("now", "now [ritual]", "post a check-in right now", rituals.EXAMPLES["now"], handle_now),
    (
        "delete",
        "delete [ritual]",
        "delete a check-in (its history is kept)",
        rituals.EXAMPLES["delete"],
        handle_delete,
    ),
)


def register(app: App, router: CommandRouter) -> None:
    for name, usage, summary, example, handler in SUBCOMMANDS:
        router.add(name, usage=usage, summary=summary, example=example, handler=handler)
    app.view(ids.VIEW_SETUP)(handle_setup_submission)
    app.action(ids.ACTION_SETUP_CADENCE)(handle_setup_cadence_change)
    app.action(ids.ACTION_RITUAL_DELETE_CONFIRM)(handle_delete_confirm)
    app.action(ids.ACTION_RITUAL_DELETE_CANCEL)(handle_delete_cancel)
