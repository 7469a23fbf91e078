"""Pulses: `/tandem pulse|role|reminders|forget-me`, answer clicks, the side question, closing.

Each handler parses its payload with the parser beside the payload's builder (`bot.blocks.pulse`),
acknowledges, calls one use case (`bot.usecases.pulses`) and renders its outcome.
"""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.blocks.pulse import (
    ANSWER_ACTION_PATTERN,
    ANSWER_UNREADABLE,
    CLOSE_NOT_FOUND,
    FORGET_UNREADABLE,
    REMINDERS_EXAMPLE,
    REMINDERS_PROBLEM,
    ROLE_EXAMPLE,
    ROLE_PROBLEM,
    SIDE_ACTION_PATTERN,
    START_EXAMPLE,
    START_REFUSAL,
    VOTES_ANONYMOUS,
    VOTES_EXAMPLE,
    VOTES_MEMBERS_ONLY,
    VOTES_NO_PULSE,
    AnswerClick,
    build_close_refused,
    build_closed_notice,
    build_forget_confirmation,
    build_forget_done,
    build_member_votes,
    build_pulse_already_open,
    build_pulse_starting,
    build_reminders_set,
    build_role_set,
    build_start_paused,
    dismiss_reply,
    ephemeral_reply,
    forget_confirmed,
    parse_answer_click,
    parse_close_value,
    parse_reminders,
    parse_side,
)
from bot.blocks.rituals import refusal_text
from bot.listeners.commands import CommandRouter, Invocation
from bot.middleware import actor_of, services_of
from bot.services import Services
from bot.usecases import pulses
from bot.usecases.access import Actor, Refused

VOTES_REFUSALS = {
    pulses.VotesRefusal.NOT_MEMBER: VOTES_MEMBERS_ONLY,
    pulses.VotesRefusal.NO_PULSE: VOTES_NO_PULSE,
    pulses.VotesRefusal.ANONYMOUS: VOTES_ANONYMOUS,
}


def _actor(context: BoltContext) -> Actor | None:
    """Who clicked, in which workspace; None when a (tampered) payload did not say."""
    actor = actor_of(context)
    return actor if actor.team_id and actor.user_id else None


def _reply(services: Services, body: dict, message: bytes | dict[str, object]) -> None:
    """Answer a click through its response_url (a payload that came without one gets no answer)."""
    response_url = body.get("response_url")
    if isinstance(response_url, str) and response_url:
        services.messenger.respond(response_url, message)


def _tell(services: Services, body: dict, text: str) -> None:
    # A click on a channel message: the answer goes to the clicker only, the message stays.
    _reply(services, body, ephemeral_reply(text))


# -- clicks ---------------------------------------------------------------------------------------------


def handle_answer(ack: Ack, body: dict, context: BoltContext) -> None:
    """One of the ten answer buttons (in the channel or a reminder DM). The hot path: one parse, the
    ack, one unit of work, the reply prebuilt."""
    ack()  # first: Slack's 3 seconds
    _record(parse_answer_click(body["actions"][0]), body, context)


def handle_side_choice(ack: Ack, body: dict, context: BoltContext) -> None:
    """The "marketing, IT or other?" buttons: the side is saved with the answer it was asked for, in
    one unit of work (and only for a pulse of the clicker's workspace), so there is no need to click
    again."""
    ack()
    _record(parse_answer_click(body["actions"][0], side_question=True), body, context)


def _record(click: AnswerClick | None, body: dict, context: BoltContext) -> None:
    services = services_of(context)
    actor = _actor(context)
    if click is None or actor is None:
        _tell(services, body, ANSWER_UNREADABLE)
        return
    _reply(services, body, pulses.answer(services, actor, click).message)


def handle_close(ack: Ack, body: dict, context: BoltContext) -> None:
    """The pulse message's "Close now": anyone may click; only its owner closes it."""
    ack()
    services = services_of(context)
    actor = _actor(context)
    pulse_id = parse_close_value(body["actions"][0].get("value"))
    if actor is None or pulse_id is None:
        _tell(services, body, CLOSE_NOT_FOUND)
        return
    outcome = pulses.close_early(services, actor, pulse_id)
    if outcome.status is pulses.CloseStatus.NOT_FOUND:
        _tell(services, body, CLOSE_NOT_FOUND)
    elif outcome.status is pulses.CloseStatus.ALREADY_CLOSED:
        assert outcome.closed_at_local is not None
        _tell(services, body, build_closed_notice(outcome.closed_at_local))
    elif outcome.status is pulses.CloseStatus.NOT_OWNER:
        _tell(services, body, build_close_refused(outcome.owner))
    # CLOSED: the results going into the thread say it.


def handle_forget_confirm(ack: Ack, body: dict, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    actor = _actor(context)
    if actor is None or not forget_confirmed(body["actions"][0].get("value")):
        _tell(services, body, FORGET_UNREADABLE)
        return
    deleted = pulses.forget_me(services, actor)
    _reply(services, body, ephemeral_reply(build_forget_done(deleted), replace=True))


def handle_forget_cancel(ack: Ack, body: dict, context: BoltContext) -> None:
    # Whatever the button carries: cancelling changes nothing, so there is nothing to check.
    ack()
    _reply(services_of(context), body, dismiss_reply())


# -- commands -------------------------------------------------------------------------------------------


def handle_pulse(inv: Invocation) -> None:
    """`/tandem pulse [ritual]` starts a pulse now; `/tandem pulse votes [ritual]` shows who answered what."""
    first, _, rest = inv.args.partition(" ")
    if first.lower() == "votes":
        handle_votes(inv, rest.strip())
        return
    outcome = pulses.start_pulse(inv.services, inv.actor, inv.args, example=START_EXAMPLE)
    if isinstance(outcome, Refused):
        text = refusal_text(
            outcome.kind.value, detail=outcome.detail, ritual_name=outcome.ritual_name, refusal=START_REFUSAL
        )
    elif outcome.status is pulses.StartStatus.PAUSED:
        text = build_start_paused(outcome.ritual_name)
    elif outcome.status is pulses.StartStatus.ALREADY_OPEN:
        assert outcome.pulse_id is not None and outcome.closes_at_local is not None
        text, blocks = build_pulse_already_open(
            outcome.ritual_name,
            outcome.pulse_id,
            outcome.closes_at_local,
            owner=outcome.owner,
            is_owner=outcome.owner == inv.user_id,
        )
        inv.ack(text=text, blocks=[b.to_dict() for b in blocks], response_type="ephemeral")
        return
    else:
        text = build_pulse_starting(outcome.ritual_name)
    inv.ack(text=text, response_type="ephemeral")


def handle_votes(inv: Invocation, name: str) -> None:
    votes = pulses.member_votes(inv.services, inv.actor, name, example=VOTES_EXAMPLE)
    if isinstance(votes, Refused):
        inv.ack(text=refusal_text(votes.kind.value, detail=votes.detail), response_type="ephemeral")
    elif isinstance(votes, pulses.VotesRefusal):
        inv.ack(text=VOTES_REFUSALS[votes], response_type="ephemeral")
    else:
        text, blocks = build_member_votes(votes)
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")


def handle_role(inv: Invocation) -> None:
    side = parse_side(inv.args)
    if side is None:
        inv.fail(ROLE_PROBLEM, ROLE_EXAMPLE)
        return
    chosen = pulses.choose_side(inv.services, inv.actor, side)
    inv.ack(text=build_role_set(chosen), response_type="ephemeral")


def handle_reminders(inv: Invocation) -> None:
    enabled = parse_reminders(inv.args)
    if enabled is None:
        inv.fail(REMINDERS_PROBLEM, REMINDERS_EXAMPLE)
        return
    pulses.turn_reminders(inv.services, inv.actor, enabled)
    inv.ack(text=build_reminders_set(enabled), response_type="ephemeral")


def handle_forget_me(inv: Invocation) -> None:
    text, blocks = build_forget_confirmation()
    inv.ack(text=text, blocks=blocks, response_type="ephemeral")


def register(app: App, router: CommandRouter) -> None:
    router.add(
        "pulse",
        usage="pulse [ritual] | pulse votes [ritual]",
        summary="start a pulse now (or, for a non-anonymous one, see who answered what)",
        example=START_EXAMPLE,
        handler=handle_pulse,
    )
    router.add(
        "role",
        usage="role marketing|it|other",
        summary="say which side you are on",
        example=ROLE_EXAMPLE,
        handler=handle_role,
    )
    router.add(
        "reminders",
        usage="reminders on|off",
        summary="turn pulse reminder DMs on or off",
        example=REMINDERS_EXAMPLE,
        handler=handle_reminders,
    )
    router.add(
        "forget-me",
        usage="forget-me",
        summary="delete your side, settings and named answers",
        example="forget-me",
        handler=handle_forget_me,
    )
    app.action(ANSWER_ACTION_PATTERN)(handle_answer)
    app.action(SIDE_ACTION_PATTERN)(handle_side_choice)
    app.action(ids.ACTION_PULSE_CLOSE)(handle_close)
    app.action(ids.ACTION_FORGET_CONFIRM)(handle_forget_confirm)
    app.action(ids.ACTION_FORGET_CANCEL)(handle_forget_cancel)
