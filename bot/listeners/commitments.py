"""Commitments: `/tandem commit`, the check-in's "Add a commitment" button, done / new date / drop."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from logging import Logger
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import ids
from bot.blocks.commitments import (
    CommitForm,
    build_commit_modal,
    build_commitment_confirmation,
    build_commitment_update,
    build_drop_modal,
    build_move_modal,
    parse_commit_choice,
    parse_commit_state,
    parse_drop_state,
    parse_move_state,
)
from bot.listeners.commands import CommandRouter, Invocation
from bot.middleware import services_of
from bot.slack_client import pre_ack_client, pre_ack_deadline
from bot.summaries import commitment_view
from db import commitments as commit_db
from db.models import Commitment, Ritual
from db.rituals import RitualError, channel_rituals, resolve_ritual
from db.workspaces import ensure_workspace


def _metadata(view: dict) -> dict:
    try:
        return json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}


# All the users.info calls made before a submission's ack share this budget (Slack allows 3 s).
PRE_ACK_BUDGET = 1.5


@dataclass
class People:
    """What Slack said about some people, asked before an ack: whoever it could not tell about in
    time counts as present, in the timezone where a date is over last (lenient, never wrongly strict)."""

    found: dict[str, dict] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)  # Slack answered user_not_found

    def left_workspace(self, user_id: str) -> bool:
        return user_id in self.unknown or bool(self.found.get(user_id, {}).get("deleted"))

    def today(self, user_id: str, now: dt.datetime) -> dt.date:
        """`user_id`'s own date at `now` (their Slack timezone)."""
        try:
            zone: dt.tzinfo = ZoneInfo(self.found[user_id]["tz"])
        except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError):
            zone = commit_db.ANYWHERE_ON_EARTH
        return now.astimezone(zone).date()


def look_up_people(
    client: WebClient, user_ids: Iterable[str | None], *, budget: float = PRE_ACK_BUDGET
) -> People:
    """users.info for each person, before an ack: a short timeout, no retries, one shared budget,
    and never inside a database transaction."""
    people = People()
    deadline = pre_ack_deadline(budget)
    for user_id in dict.fromkeys(u for u in user_ids if u):
        try:
            quick = pre_ack_client(client, deadline)
            people.found[user_id] = quick.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                people.unknown.add(user_id)
        except TimeoutError:
            break  # the budget is spent: whoever is left gets the benefit of the doubt
        except (SlackClientError, OSError):
            pass  # slow or unreachable: the checks that needed it give the benefit of the doubt
    return people


def register(app: App, router: CommandRouter) -> None:
    def open_commit_modal(client: WebClient, trigger_id: str, ritual_id: int | None) -> None:
        client.views_open(trigger_id=trigger_id, view=build_commit_modal(CommitForm(), ritual_id=ritual_id))

    def handle_commit(inv: Invocation) -> None:
        services = inv.services
        ritual_id = None
        with services.database.begin() as session:
            workspace = ensure_workspace(session, inv.team_id)
            if inv.args or len(channel_rituals(session, workspace.id, inv.channel_id)) == 1:
                try:
                    ritual_id = resolve_ritual(
                        session,
                        workspace.id,
                        channel_id=inv.channel_id,
                        user_id=inv.user_id,
                        name=inv.args,
                        example="commit Weekly sync",
                    ).id
                except RitualError as exc:
                    inv.ack(text=f":warning: {exc}", response_type="ephemeral")
                    return
        inv.ack()
        open_commit_modal(inv.client, inv.command["trigger_id"], ritual_id)

    def handle_add_button(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        value = body["actions"][0].get("value") or ""
        open_commit_modal(client, body["trigger_id"], int(value) if value.isdigit() else None)

    def handle_commit_submission(
        ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext, logger: Logger
    ) -> None:
        services = services_of(context)
        user_id = body["user"]["id"]
        team_id = context.team_id or body["team"]["id"]
        now = services.clock.now()
        values = view["state"]["values"]
        draft, _ = parse_commit_state(values, today=dt.date.min)  # who the owners are
        people = look_up_people(client, (user_id, draft.marketing_owner, draft.it_owner))
        # "In the past" means before the submitter's own today, not UTC's.
        form, errors = parse_commit_state(values, today=people.today(user_id, now))
        for block, owner in (
            (ids.BLOCK_COMMIT_MARKETING, form.marketing_owner),
            (ids.BLOCK_COMMIT_IT, form.it_owner),
        ):
            if owner and block not in errors and people.left_workspace(owner):
                errors[block] = "This person has left the workspace; pick someone who can still do it."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ritual_id = _metadata(view).get("ritual_id")
        with services.database.begin() as session:
            workspace = ensure_workspace(session, team_id)
            ritual = session.get(Ritual, ritual_id) if ritual_id else None
            spec = commit_db.CommitmentSpec(
                what=form.what,
                marketing_owner=form.marketing_owner or "",
                it_owner=form.it_owner or "",
                due=form.due,  # type: ignore[arg-type]
                ritual_id=ritual.id if ritual else None,
                channel_id=ritual.channel_id if ritual else None,
            )
            try:
                commitment = commit_db.create_commitment(
                    session, workspace.id, spec, created_by=user_id, now=now
                )
            except commit_db.CommitmentError as exc:
                ack(response_action="errors", errors={ids.BLOCK_COMMIT_IT: str(exc)})
                return
            zones = commit_db.ritual_zones(session, [commitment.ritual_id])
            info = commitment_view(commitment, today=commit_db.local_today(commitment, zones, now))
            channel_id = commitment.channel_id
        ack()
        text, blocks = build_commitment_confirmation(info)
        targets = [channel_id] if channel_id else [info.marketing_owner, info.it_owner]
        for target in targets:
            try:
                client.chat_postMessage(channel=target, text=text, blocks=blocks)
            except SlackApiError:
                logger.warning(
                    "the confirmation of commitment %s could not be posted", info.id, exc_info=True
                )
        if services.homes is not None:
            services.homes.refresh(team_id, user_id, info.marketing_owner, info.it_owner)

    def _changeable(
        body: dict, context: BoltContext, respond: Respond, commitment_id: int
    ) -> Commitment | None:
        services = services_of(context)
        with services.database.begin() as session:
            commitment = session.get(Commitment, commitment_id)
            if commitment is None:
                return None
            if not commit_db.can_change(session, commitment, body["user"]["id"]):
                respond(
                    text=":no_entry: Only its owners, whoever added it, or the ritual's lead can change this commitment.",
                    response_type="ephemeral",
                    replace_original=False,
                )
                return None
            if commitment.status.value != "open":
                respond(
                    text=f"This commitment is already {commitment.status.value}.",
                    response_type="ephemeral",
                    replace_original=False,
                )
                return None
            return commitment

    def announce(
        context: BoltContext, client: WebClient, commitment_id: int, by: str, logger: Logger
    ) -> None:
        services = services_of(context)
        with services.database.read() as session:
            commitment = session.get(Commitment, commitment_id)
            assert commitment is not None
            zones = commit_db.ritual_zones(session, [commitment.ritual_id])
            today = commit_db.local_today(commitment, zones, services.clock.now())
            info = commitment_view(commitment, today=today)
            channel_id = commitment.channel_id
        if channel_id:
            try:
                client.chat_postMessage(channel=channel_id, text=build_commitment_update(info, by=by))
            except SlackApiError:
                logger.warning(
                    "the update of commitment %s could not be posted", commitment_id, exc_info=True
                )
        if services.homes is not None:
            services.homes.refresh(context.team_id or "", by, info.marketing_owner, info.it_owner)

    def handle_choice(
        ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext, logger: Logger
    ) -> None:
        ack()
        action = body["actions"][0]
        raw = (action.get("selected_option") or {}).get("value") or action.get("value") or ""
        try:
            choice, commitment_id = (
                parse_commit_choice(raw)
                if ":" in raw
                else (
                    {
                        ids.ACTION_COMMIT_DONE: "done",
                        ids.ACTION_COMMIT_MOVE: "move",
                        ids.ACTION_COMMIT_DROP: "drop",
                    }[action["action_id"]],
                    int(raw),
                )
            )
        except (ValueError, KeyError):
            return
        commitment = _changeable(body, context, respond, commitment_id)
        if commitment is None:
            return
        user_id = body["user"]["id"]
        services = services_of(context)
        if choice == "done":
            with services.database.begin() as session:
                fresh = session.get(Commitment, commitment_id)
                assert fresh is not None
                commit_db.mark_done(fresh, by=user_id, now=services.clock.now())
            announce(context, client, commitment_id, user_id, logger)
        elif choice == "move":
            client.views_open(
                trigger_id=body["trigger_id"],
                view=build_move_modal(commitment.id, commitment.what, commitment.due_date),
            )
        elif choice == "drop":
            client.views_open(
                trigger_id=body["trigger_id"], view=build_drop_modal(commitment.id, commitment.what)
            )

    def handle_move_submission(
        ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext, logger: Logger
    ) -> None:
        services = services_of(context)
        now = services.clock.now()
        user_id = body["user"]["id"]
        today = look_up_people(client, [user_id]).today(user_id, now)
        due, errors = parse_move_state(view["state"]["values"], today=today)
        if errors or due is None:
            ack(response_action="errors", errors=errors)
            return
        commitment_id = int(_metadata(view).get("commitment_id", 0))
        with services.database.begin() as session:
            commitment = session.get(Commitment, commitment_id)
            if commitment is None or not commit_db.can_change(session, commitment, body["user"]["id"]):
                ack(
                    response_action="errors",
                    errors={ids.BLOCK_COMMIT_MOVE_DUE: "You can't change this commitment."},
                )
                return
            try:
                commit_db.move_due(commitment, due, today=today)
            except commit_db.CommitmentError as exc:
                ack(response_action="errors", errors={ids.BLOCK_COMMIT_MOVE_DUE: str(exc)})
                return
        ack()
        announce(context, client, commitment_id, body["user"]["id"], logger)

    def handle_drop_submission(
        ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext, logger: Logger
    ) -> None:
        services = services_of(context)
        reason, errors = parse_drop_state(view["state"]["values"])
        if errors:
            ack(response_action="errors", errors=errors)
            return
        commitment_id = int(_metadata(view).get("commitment_id", 0))
        with services.database.begin() as session:
            commitment = session.get(Commitment, commitment_id)
            if commitment is None or not commit_db.can_change(session, commitment, body["user"]["id"]):
                ack(
                    response_action="errors",
                    errors={ids.BLOCK_COMMIT_DROP_REASON: "You can't change this commitment."},
                )
                return
            try:
                commit_db.drop(commitment, reason, by=body["user"]["id"], now=services.clock.now())
            except commit_db.CommitmentError as exc:
                ack(response_action="errors", errors={ids.BLOCK_COMMIT_DROP_REASON: str(exc)})
                return
        ack()
        announce(context, client, commitment_id, body["user"]["id"], logger)

    router.add(
        "commit",
        usage="commit [ritual]",
        summary="add a commitment with an owner on each side",
        example="commit Weekly sync",
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
