"""Pulses: `/tandem pulse|role|reminders|forget-me`, answer clicks, the side question, closing."""

from __future__ import annotations

import functools
import json
import re
from logging import Logger
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond

from bot import ids
from bot.blocks.pulse import (
    build_answer_confirmation,
    build_closed_notice,
    build_forget_confirmation,
    build_forget_done,
    build_member_votes,
    build_side_question,
    decode_answer,
)
from bot.listeners.commands import CommandRouter, Invocation
from bot.listeners.rituals import acting_on
from bot.middleware import services_of
from bot.services import Services
from db import pulses as pulse_db
from db.models import Pulse, PulseQuestion, Ritual, RitualStatus, Side, Workspace
from db.people import forget_person, set_reminders, set_side
from db.rituals import RitualError, resolve_ritual
from db.workspaces import ensure_workspace
from jobs.pulses import close_and_report, open_pulse_for

ANSWER = re.compile(f"^{re.escape(ids.ACTION_PULSE_ANSWER_PREFIX)}:")
SIDE = re.compile(f"^{re.escape(ids.ACTION_PULSE_SIDE_PREFIX)}:")
ROLE_EXAMPLE = "role marketing"
OTHER_SIDE_ON_PARTNER = (
    "The first question is for marketing and IT, each rating the other. As someone from another team, "
    "your view counts on the second one. (Wrong side? `/tandem role marketing|it|other`.)"
)


def _ephemeral(respond: Respond, text: str, blocks: list | None = None) -> None:
    # A click on a channel message: the answer goes to the clicker only, the message stays.
    respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)


@functools.lru_cache(maxsize=64)
def _confirmation(
    question: PulseQuestion, score: int, changed: bool, anonymous: bool, replace: bool
) -> bytes:
    """The ephemeral "you answered 4" as sent, serialised once: there are only a few dozen of them."""
    text, blocks = build_answer_confirmation(question, score, changed=changed, anonymous=anonymous)
    message = {
        "text": text,
        "blocks": [b.to_dict() for b in blocks],
        "response_type": "ephemeral",
        "replace_original": replace,
    }
    return json.dumps(message, separators=(",", ":")).encode()


def register(app: App, router: CommandRouter) -> None:
    def record(
        services: Services,
        respond: Respond,
        response_url: str | None,
        *,
        team_id: str,
        user_id: str,
        value: str,
        action_ts: str,
        logger: Logger,
        choose_side: Side | None = None,
    ) -> None:
        """Store one answer and tell the person; everything here runs after the click was acknowledged."""
        try:
            pulse_id, question, score = decode_answer(value)
        except ValueError:
            logger.warning("a pulse answer with a malformed value was rejected")
            _ephemeral(
                respond, ":warning: That answer could not be read, so nothing was stored. Please click again."
            )
            return
        # Decide inside the transaction, tell the person after it: a POST to Slack must never run
        # while the transaction (on SQLite, the write lock every other click waits for) is open.
        try:
            with services.database.connect() as conn:
                outcome = pulse_db.record_answer(
                    conn,
                    pulse_id,
                    team_id=team_id,
                    user_id=user_id,
                    question=question,
                    score=score,
                    action_ts=action_ts,
                    now=services.clock.now(),
                    choose_side=choose_side,
                )
        except pulse_db.PulseError as exc:
            _ephemeral(respond, f":warning: {exc}")
            return
        # The side question's own message is replaced by the answer it was asked for.
        replace = choose_side is not None
        status = outcome.status
        if status is pulse_db.AnswerStatus.UNKNOWN:
            # Unknown, or a pulse of another workspace: never counted.
            _ephemeral(respond, ":warning: This pulse is not one of this workspace's, so nothing was stored.")
        elif status is pulse_db.AnswerStatus.CLOSED:
            assert outcome.closed_at is not None
            _ephemeral(respond, build_closed_notice(outcome.closed_at.astimezone(ZoneInfo(outcome.timezone))))
        elif status is pulse_db.AnswerStatus.ASK_SIDE:
            _ephemeral(respond, *build_side_question(pulse_id, question, score))
        elif status is pulse_db.AnswerStatus.NOT_YOUR_QUESTION:
            _ephemeral(respond, OTHER_SIDE_ON_PARTNER)
        else:
            changed = status is pulse_db.AnswerStatus.CHANGED
            if response_url:
                message = _confirmation(question, outcome.score, changed, outcome.anonymous, replace)
                services.messenger.respond(response_url, message)
            else:
                text, blocks = build_answer_confirmation(
                    question, outcome.score, changed=changed, anonymous=outcome.anonymous
                )
                respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=replace)
            if services.counts is not None and status is not pulse_db.AnswerStatus.UNCHANGED:
                services.counts.mark(pulse_id)

    def handle_answer(ack: Ack, body: dict, respond: Respond, context: BoltContext, logger: Logger) -> None:
        ack()  # first: Slack's 3 seconds
        action = body["actions"][0]
        record(
            services_of(context),
            respond,
            body.get("response_url"),
            team_id=context.team_id or body["team"]["id"],
            user_id=body["user"]["id"],
            value=action.get("value", ""),
            action_ts=action.get("action_ts") or "0",
            logger=logger,
        )

    def handle_side_choice(
        ack: Ack, body: dict, respond: Respond, context: BoltContext, logger: Logger
    ) -> None:
        ack()
        action = body["actions"][0]
        try:
            chosen = Side(action["action_id"].split(":", 1)[1])
        except (IndexError, ValueError):
            logger.warning("a side choice with an unknown side was ignored")
            return
        # The side is saved with the answer they clicked before being asked, in one unit of work
        # (and only for a pulse of their own workspace): no need to click again.
        record(
            services_of(context),
            respond,
            body.get("response_url"),
            team_id=context.team_id or body["team"]["id"],
            user_id=body["user"]["id"],
            value=action.get("value", ""),
            action_ts=action.get("action_ts") or "0",
            logger=logger,
            choose_side=chosen,
        )

    def handle_close(ack: Ack, body: dict, respond: Respond, context: BoltContext) -> None:
        ack()
        services = services_of(context)
        user_id = body["user"]["id"]
        try:
            pulse_id = int(body["actions"][0].get("value", ""))
        except ValueError:
            return
        refusal = None
        with services.database.begin() as session:
            pulse = session.get(Pulse, pulse_id)
            ritual = session.get(Ritual, pulse.ritual_id) if pulse else None
            workspace = session.get(Workspace, ritual.workspace_id) if ritual else None
            if (
                pulse is None
                or ritual is None
                or workspace is None
                or workspace.team_id != (context.team_id or "")
            ):
                return
            if pulse.closed_at is not None:
                refusal = build_closed_notice(pulse.closed_at.astimezone(ZoneInfo(ritual.timezone)))
            elif user_id != pulse.owner:
                refusal = f":no_entry: Only <@{pulse.owner}>, who owns this pulse, can close it early."
        # Told after the transaction: no POST to Slack while the database is held.
        if refusal is not None:
            _ephemeral(respond, refusal)
            return
        if services.messenger is not None:
            homes = services.homes
            close_and_report(
                services.database,
                services.messenger,
                pulse_id,
                now=services.clock.now(),
                settings=services.pulse_settings,
                on_closed=(lambda team_id, users: homes.refresh(team_id, *users)) if homes else None,
            )

    # -- commands --------------------------------------------------------------------------------

    def handle_pulse(inv: Invocation) -> None:
        services = inv.services
        if inv.args.lower().startswith("votes"):
            handle_votes(inv, inv.args[5:].strip())
            return
        with acting_on(
            inv,
            inv.args,
            "pulse Weekly sync",
            refusal="Only the creator of “{name}”, its members or an admin can start a pulse.",
        ) as found:
            if found is None:
                return
            _, ritual = found
            if ritual.status is not RitualStatus.ACTIVE:
                inv.ack(text=f"“{ritual.name}” is paused. Resume it first.", response_type="ephemeral")
                return
            ritual_id, name = ritual.id, ritual.name
        inv.ack(text=f":bar_chart: Starting a pulse for “{name}”.", response_type="ephemeral")
        if services.messenger is None or services.checkins is None:
            return
        now = services.clock.now()
        open_pulse_for(
            services.database,
            services.messenger,
            services.checkins.send,
            ritual_id=ritual_id,
            owner=inv.user_id,
            now=now,
            settings=services.pulse_settings,
            close_earlier=lambda pulse_id: close_and_report(
                services.database,
                services.messenger,
                pulse_id,
                now=now,
                settings=services.pulse_settings,  # type: ignore[arg-type]
            ),
        )

    def handle_votes(inv: Invocation, name: str) -> None:
        services = inv.services
        with services.database.begin() as session:
            workspace = ensure_workspace(session, inv.team_id)
            try:
                ritual = resolve_ritual(
                    session,
                    workspace.id,
                    channel_id=inv.channel_id,
                    user_id=inv.user_id,
                    name=name,
                    example="pulse votes Weekly sync",
                )
            except RitualError as exc:
                inv.ack(text=f":warning: {exc}", response_type="ephemeral")
                return
            # Members only: that is who may see who answered what in a pulse that is not anonymous.
            if not any(m.person.slack_user_id == inv.user_id for m in ritual.members):
                inv.ack(
                    text=":no_entry: Only the ritual's members can see who answered what.",
                    response_type="ephemeral",
                )
                return
            latest = (
                session.query(Pulse)
                .filter(Pulse.ritual_id == ritual.id)
                .order_by(Pulse.opened_at.desc())
                .first()
            )
            if latest is None or latest.anonymous:
                inv.ack(
                    text="The latest pulse of this ritual is anonymous: nobody can see who answered what."
                    if latest
                    else "This ritual has had no pulse yet.",
                    response_type="ephemeral",
                )
                return
            votes = pulse_db.votes_for_members(session, latest)
        text, blocks = build_member_votes(votes)
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")

    def handle_role(inv: Invocation) -> None:
        try:
            side = Side(inv.args.strip().lower())
        except ValueError:
            inv.fail("Say which side you are on: marketing, it or other.", ROLE_EXAMPLE)
            return
        with inv.services.database.begin() as session:
            workspace = ensure_workspace(session, inv.team_id)
            set_side(session, workspace.id, inv.user_id, side)
        inv.ack(
            text=f":white_check_mark: You're on the {side.label} side. Your pulse answers count for {side.label}.",
            response_type="ephemeral",
        )

    def handle_reminders(inv: Invocation) -> None:
        choice = inv.args.strip().lower()
        if choice not in ("on", "off"):
            inv.fail("Say `on` or `off`.", "reminders off")
            return
        with inv.services.database.begin() as session:
            workspace = ensure_workspace(session, inv.team_id)
            set_reminders(session, workspace.id, inv.user_id, choice == "on")
        inv.ack(
            text=":bell: Pulse reminders are on."
            if choice == "on"
            else ":no_bell: No more pulse reminders for you.",
            response_type="ephemeral",
        )

    def handle_forget_me(inv: Invocation) -> None:
        text, blocks = build_forget_confirmation()
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")

    def handle_forget_confirm(ack: Ack, body: dict, respond: Respond, context: BoltContext) -> None:
        ack()
        services = services_of(context)
        with services.database.begin() as session:
            workspace = ensure_workspace(session, context.team_id or body["team"]["id"])
            deleted = forget_person(session, workspace.id, body["user"]["id"])
        respond(text=build_forget_done(deleted), response_type="ephemeral", replace_original=True)

    def handle_forget_cancel(ack: Ack, respond: Respond) -> None:
        ack()
        respond(delete_original=True)

    router.add(
        "pulse",
        usage="pulse [ritual] | pulse votes [ritual]",
        summary="start a pulse now (or, for a non-anonymous one, see who answered what)",
        example="pulse Weekly sync",
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
        example="reminders off",
        handler=handle_reminders,
    )
    router.add(
        "forget-me",
        usage="forget-me",
        summary="delete your side, settings and named answers",
        example="forget-me",
        handler=handle_forget_me,
    )
    app.action(ANSWER)(handle_answer)
    app.action(SIDE)(handle_side_choice)
    app.action(ids.ACTION_PULSE_CLOSE)(handle_close)
    app.action(ids.ACTION_FORGET_CONFIRM)(handle_forget_confirm)
    app.action(ids.ACTION_FORGET_CANCEL)(handle_forget_cancel)
