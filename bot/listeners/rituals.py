"""Check-in rituals: `/tandem setup|list|edit|pause|resume|skip|now|delete`, the setup modal, delete buttons."""

from __future__ import annotations

import datetime as dt
import json
import re
from logging import Logger

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot import ids
from bot.blocks.rituals import (
    SCOPE_CHANNEL,
    SCOPE_MINE,
    build_confirmation,
    build_delete_confirmation,
    build_ritual_list,
)
from bot.blocks.setup import SetupForm, build_setup_modal, form_from_state_for_rebuild, parse_setup_state
from bot.listeners.commands import CommandRouter, Invocation
from bot.services import Services
from bot.summaries import summary
from db.models import Ritual, RitualStatus
from db.rituals import (
    RitualError,
    RitualSpec,
    cadence_of,
    can_manage,
    channel_rituals,
    create_ritual,
    delete_ritual,
    load_ritual,
    pause_ritual,
    resolve_ritual,
    resume_ritual,
    skip_occurrence,
    skipped_times,
    spec_of,
    update_ritual,
    user_rituals,
)
from db.workspaces import ensure_workspace
from jobs.checkins import prepare_now
from jobs.delivery import DeliveryError

DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")


def _changed(services: Services, team_id: str, ritual_id: int) -> None:
    """A ritual changed: re-derive its job, and refresh the Home tabs of the people in it."""
    services.on_ritual_change(ritual_id)
    if services.homes is not None:
        with services.database.begin() as session:
            ritual = load_ritual(session, ritual_id)
            people = [m.person.slack_user_id for m in ritual.members] + [ritual.created_by] if ritual else []
        services.homes.refresh(team_id, *people)


def is_admin(client: WebClient, user_id: str) -> bool:
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError:
        return False
    return bool(user.get("is_admin") or user.get("is_owner"))


def user_timezone(client: WebClient, user_id: str) -> str:
    try:
        return client.users_info(user=user_id)["user"].get("tz") or "UTC"
    except SlackApiError:
        return "UTC"


def managed_ritual(
    inv: Invocation, session: Session, name: str, example: str, *, refusal: str | None = None
) -> Ritual | None:
    """The ritual a command names, if the caller may act on it; otherwise the ack says why and None.

    Only the ritual's creator, its members or a workspace admin may change it (or read its reports).
    """
    workspace = ensure_workspace(session, inv.team_id)
    try:
        ritual = resolve_ritual(
            session, workspace.id, channel_id=inv.channel_id, user_id=inv.user_id, name=name, example=example
        )
    except RitualError as exc:
        inv.ack(text=f":warning: {exc}", response_type="ephemeral")
        return None
    if not (can_manage(ritual, inv.user_id, is_admin=False) or is_admin(inv.client, inv.user_id)):
        if refusal:
            inv.ack(text=f":no_entry: {refusal.format(name=ritual.name)}", response_type="ephemeral")
        else:
            _refuse(inv, ritual)
        return None
    return ritual


def _refuse(inv: Invocation, ritual: Ritual) -> None:
    inv.ack(
        text=f":no_entry: Only the creator of “{ritual.name}”, its members or a workspace admin can change it.",
        response_type="ephemeral",
    )


def form_for_new(channel_id: str | None, timezone: str) -> SetupForm:
    # Prefill the channel the command was typed in (not a DM), Tuesday 09:00 in the user's timezone.
    return SetupForm(
        channel_id=channel_id if channel_id and channel_id[0] in "CG" else None,
        name="Marketing + IT check-in",
        weekday=1,
        timezone=timezone,
    )


def form_from_ritual(ritual: Ritual) -> SetupForm:
    spec = spec_of(ritual)
    c = spec.cadence
    return SetupForm(
        channel_id=spec.channel_id,
        name=spec.name,
        cadence_kind=c.kind.value,
        interval_weeks=c.interval_weeks if c.interval_weeks > 1 else 2,
        week_of_month=c.week_of_month,
        weekday=c.weekday,
        time_of_day=c.time_of_day,
        timezone=c.timezone,
        marketing=spec.marketing,
        it=spec.it,
        themes=spec.themes,
        pulse_enabled=spec.pulse_enabled,
        pulse_anonymous=spec.pulse_anonymous,
    )


def spec_from_form(form: SetupForm, *, today: dt.date, anchor: dt.date | None = None) -> RitualSpec:
    return RitualSpec(
        channel_id=form.channel_id or "",
        name=form.name,
        cadence=form.to_cadence(anchor=anchor or today),
        marketing=form.marketing,
        it=form.it,
        themes=form.themes,
        pulse_enabled=form.pulse_enabled,
        pulse_anonymous=form.pulse_anonymous,
    )


def check_channel(client: WebClient, channel_id: str) -> str | None:
    """None if Tandem can post in the channel (joining a public one itself), else what to tell the user."""
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        if exc.response.get("error") == "channel_not_found":
            return "Tandem can't see this channel. If it is private, invite @Tandem to it first (/invite @Tandem)."
        return f"Slack could not check this channel ({exc.response.get('error')}). Try again."
    if channel.get("is_archived"):
        return "This channel is archived. Pick a channel people still use."
    if channel.get("is_member"):
        return None
    if channel.get("is_private"):
        return "Tandem is not in this private channel. Invite it first with /invite @Tandem, then save again."
    try:
        client.conversations_join(channel=channel_id)
    except SlackApiError as exc:
        return f"Tandem could not join this channel ({exc.response.get('error')}). Invite it with /invite @Tandem."
    return None


def register(app: App, router: CommandRouter) -> None:
    # -- /tandem setup and edit: the modal ---------------------------------------------------------

    def handle_setup(inv: Invocation) -> None:
        inv.ack()
        form = form_for_new(inv.channel_id, user_timezone(inv.client, inv.user_id))
        inv.client.views_open(
            trigger_id=inv.command["trigger_id"], view=build_setup_modal(form, ritual_id=None)
        )

    def handle_edit(inv: Invocation) -> None:
        services = inv.services
        with services.database.begin() as session:
            ritual = managed_ritual(inv, session, inv.args, "edit Weekly sync")
            if ritual is None:
                return
            form = form_from_ritual(ritual)
            ritual_id = ritual.id
        inv.ack()
        inv.client.views_open(
            trigger_id=inv.command["trigger_id"], view=build_setup_modal(form, ritual_id=ritual_id)
        )

    def handle_setup_cadence_change(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        view = body["view"]
        form = form_from_state_for_rebuild(view["state"]["values"])
        ritual_id = json.loads(view.get("private_metadata") or "{}").get("ritual_id")
        client.views_update(
            view_id=view["id"], hash=view.get("hash"), view=build_setup_modal(form, ritual_id=ritual_id)
        )

    def handle_setup_submission(
        ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext, logger: Logger
    ) -> None:
        services = Services.of(context)
        user_id = body["user"]["id"]
        team_id = context.team_id or body["team"]["id"]
        now = services.clock.now()
        ritual_id = json.loads(view.get("private_metadata") or "{}").get("ritual_id")
        form, errors = parse_setup_state(view["state"]["values"], today=now.date())
        if not errors and form.channel_id:
            problem = check_channel(client, form.channel_id)
            if problem:
                errors[ids.BLOCK_SETUP_CHANNEL] = problem
        if errors:
            ack(response_action="errors", errors=errors)
            return
        with services.database.begin() as session:
            workspace = ensure_workspace(session, team_id)
            try:
                if ritual_id is None:
                    ritual = create_ritual(
                        session,
                        workspace,
                        spec_from_form(form, today=now.date()),
                        created_by=user_id,
                        now=now,
                    )
                else:
                    ritual = load_ritual(session, ritual_id)
                    if ritual is None or ritual.status is RitualStatus.DELETED:
                        ack(
                            response_action="errors",
                            errors={ids.BLOCK_SETUP_NAME: "This check-in was deleted."},
                        )
                        return
                    if not (can_manage(ritual, user_id, is_admin=False) or is_admin(client, user_id)):
                        ack(
                            response_action="errors",
                            errors={
                                ids.BLOCK_SETUP_NAME: "Only its creator, members or an admin can change it."
                            },
                        )
                        return
                    anchor = ritual.anchor_date if ritual.cadence_kind == form.cadence_kind else None
                    update_ritual(
                        session, ritual, spec_from_form(form, today=now.date(), anchor=anchor), now=now
                    )
            except RitualError as exc:
                ack(response_action="errors", errors={ids.BLOCK_SETUP_NAME: str(exc)})
                return
            info = summary(ritual, now, skipped_times(session, ritual.id, now))
        ack()
        _changed(services, team_id, info.id)
        text, blocks = build_confirmation(info, created=ritual_id is None)
        try:
            client.chat_postMessage(channel=info.channel_id, text=text, blocks=blocks)
        except SlackApiError:
            logger.warning("could not post the confirmation of ritual %s", info.id, exc_info=True)

    # -- list ---------------------------------------------------------------------------------------

    def handle_list(inv: Invocation) -> None:
        services = inv.services
        now = services.clock.now()
        with services.database.begin() as session:
            workspace = ensure_workspace(session, inv.team_id)
            here = channel_rituals(session, workspace.id, inv.channel_id)
            scope = SCOPE_CHANNEL
            rituals = here
            if not here:
                rituals, scope = user_rituals(session, workspace.id, inv.user_id), SCOPE_MINE
            summaries = [summary(r, now, skipped_times(session, r.id, now)) for r in rituals]
        text, blocks = build_ritual_list(summaries, scope=scope)
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")

    # -- pause, resume, skip, now, delete ------------------------------------------------------------

    def handle_pause(inv: Invocation) -> None:
        services = inv.services
        with services.database.begin() as session:
            ritual = managed_ritual(inv, session, inv.args, "pause Weekly sync")
            if ritual is None:
                return
            if ritual.status is RitualStatus.PAUSED:
                inv.ack(text=f"“{ritual.name}” is already paused.", response_type="ephemeral")
                return
            pause_ritual(ritual, reason=f"paused by <@{inv.user_id}>")
            ritual_id, name = ritual.id, ritual.name
        _changed(services, inv.team_id, ritual_id)
        inv.ack(
            text=f":double_vertical_bar: “{name}” is paused. Resume it with `/tandem resume {name}`.",
            response_type="ephemeral",
        )

    def handle_resume(inv: Invocation) -> None:
        services = inv.services
        now = services.clock.now()
        with services.database.begin() as session:
            ritual = managed_ritual(inv, session, inv.args, "resume Weekly sync")
            if ritual is None:
                return
            if ritual.status is RitualStatus.ACTIVE:
                inv.ack(text=f"“{ritual.name}” is not paused.", response_type="ephemeral")
                return
            resume_ritual(ritual, now=now)
            info = summary(ritual, now, skipped_times(session, ritual.id, now))
        _changed(services, inv.team_id, info.id)
        when = f"{info.next_local:%A %d %B %Y, %H:%M %Z}" if info.next_local else "not scheduled"
        inv.ack(
            text=f":arrow_forward: “{info.name}” is back on. Next check-in: {when}.",
            response_type="ephemeral",
        )

    def handle_skip(inv: Invocation) -> None:
        services = inv.services
        now = services.clock.now()
        name, on = inv.args, None
        head, _, last = inv.args.rpartition(" ")
        candidate = last if last else inv.args
        if DATE.match(candidate) or re.match(r"^\d{4}-", candidate):
            try:
                on = dt.date.fromisoformat("-".join(p.zfill(2) for p in candidate.split("-")))
            except ValueError:
                inv.fail(
                    f"“{candidate}” is not a date. Write it as YYYY-MM-DD.", "skip Weekly sync 2026-12-24"
                )
                return
            name = head.strip()
        with services.database.begin() as session:
            ritual = managed_ritual(inv, session, name, "skip Weekly sync 2026-12-24")
            if ritual is None:
                return
            try:
                skipped = skip_occurrence(session, ritual, on=on, now=now)
            except RitualError as exc:
                inv.ack(text=f":warning: {exc}", response_type="ephemeral")
                return
            zone = cadence_of(ritual).zone
            info = summary(ritual, now, skipped_times(session, ritual.id, now))
        after = f" The next one is {info.next_local:%A %d %B, %H:%M %Z}." if info.next_local else ""
        inv.ack(
            text=f":fast_forward: Skipping “{info.name}” on {skipped.astimezone(zone):%A %d %B %Y}.{after}",
            response_type="ephemeral",
        )

    def handle_now(inv: Invocation) -> None:
        services = inv.services
        now = services.clock.now()
        with services.database.begin() as session:
            ritual = managed_ritual(inv, session, inv.args, "now Weekly sync")
            if ritual is None:
                return
            if ritual.status is not RitualStatus.ACTIVE:
                inv.ack(text=f"“{ritual.name}” is paused. Resume it first.", response_type="ephemeral")
                return
            try:
                prepared = prepare_now(
                    session,
                    ritual,
                    now=now,
                    team_id=inv.team_id,
                    min_answers=services.pulse_settings.min_answers,
                )
            except DeliveryError as exc:
                inv.ack(text=f":warning: {exc.reason}", response_type="ephemeral")
                return
        inv.ack(text=f":rocket: Posting “{prepared.ritual_name}” now.", response_type="ephemeral")
        if services.checkins is not None:
            services.checkins.submit(prepared)

    def handle_delete(inv: Invocation) -> None:
        services = inv.services
        now = services.clock.now()
        with services.database.begin() as session:
            ritual = managed_ritual(inv, session, inv.args, "delete Weekly sync")
            if ritual is None:
                return
            info = summary(ritual, now)
        text, blocks = build_delete_confirmation(info)
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")

    def handle_delete_confirm(
        ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        services = Services.of(context)
        user_id = body["user"]["id"]
        ritual_id = int(body["actions"][0]["value"])
        with services.database.begin() as session:
            ritual = load_ritual(session, ritual_id)
            if ritual is None or ritual.status is RitualStatus.DELETED:
                respond(replace_original=True, text="This check-in was already deleted.")
                return
            if not (can_manage(ritual, user_id, is_admin=False) or is_admin(client, user_id)):
                respond(replace_original=True, text="Only its creator, members or an admin can delete it.")
                return
            delete_ritual(ritual)
            name = ritual.name
        _changed(services, context.team_id or "", ritual_id)
        respond(
            replace_original=True,
            text=f":wastebasket: “{name}” is deleted. Its past check-ins are kept for reports.",
        )

    def handle_delete_cancel(ack: Ack, respond: Respond) -> None:
        ack()
        respond(delete_original=True)

    router.add(
        "setup",
        usage="setup",
        summary="set up a recurring marketing + IT check-in",
        example="setup",
        handler=handle_setup,
    )
    router.add(
        "list",
        usage="list",
        summary="this channel's check-ins (or all of yours) and when each is next",
        example="list",
        handler=handle_list,
    )
    router.add(
        "edit",
        usage="edit [ritual]",
        summary="change a check-in",
        example="edit Weekly sync",
        handler=handle_edit,
    )
    router.add(
        "pause",
        usage="pause [ritual]",
        summary="stop a check-in until resumed",
        example="pause Weekly sync",
        handler=handle_pause,
    )
    router.add(
        "resume",
        usage="resume [ritual]",
        summary="start a paused check-in again",
        example="resume Weekly sync",
        handler=handle_resume,
    )
    router.add(
        "skip",
        usage="skip [ritual] [YYYY-MM-DD]",
        summary="skip the next check-in, or the one on a date",
        example="skip Weekly sync 2026-12-24",
        handler=handle_skip,
    )
    router.add(
        "now",
        usage="now [ritual]",
        summary="post a check-in right now",
        example="now Weekly sync",
        handler=handle_now,
    )
    router.add(
        "delete",
        usage="delete [ritual]",
        summary="delete a check-in (its history is kept)",
        example="delete Weekly sync",
        handler=handle_delete,
    )
    app.view(ids.VIEW_SETUP)(handle_setup_submission)
    app.action(ids.ACTION_SETUP_CADENCE)(handle_setup_cadence_change)
    app.action(ids.ACTION_RITUAL_DELETE_CONFIRM)(handle_delete_confirm)
    app.action(ids.ACTION_RITUAL_DELETE_CANCEL)(handle_delete_cancel)
