"""Check-in rituals: `/tandem setup|list|edit|pause|resume|skip|now|delete`, the setup modal, delete buttons."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from logging import Logger

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import select
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
from bot.messenger import DeliveryError
from bot.middleware import services_of
from bot.services import Services
from bot.slack_client import pre_ack_client, pre_ack_deadline
from bot.summaries import summary
from db.models import Ritual, RitualStatus, Workspace
from db.rituals import (
    RitualError,
    RitualSpec,
    cadence_of,
    can_manage,
    channel_rituals,
    check_name_free,
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

DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
# Dates written some other way: 24.12.2026, 24/12/2026, 12/24/26, 2026/12/24, 24-12-2026.
OTHER_DATE = re.compile(r"^(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./]\d{1,2}[./]\d{1,2})$")
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
SKIP_EXAMPLE = "skip Weekly sync 2026-12-24"


def _changed(services: Services, team_id: str, ritual_id: int) -> None:
    """A ritual changed: re-derive its job, and refresh the Home tabs of the people in it."""
    services.on_ritual_change(ritual_id)
    if services.homes is not None:
        with services.database.read() as session:
            ritual = load_ritual(session, ritual_id)
            people = [m.person.slack_user_id for m in ritual.members] + [ritual.created_by] if ritual else []
        services.homes.refresh(team_id, *people)


def is_admin(client: WebClient, user_id: str, *, deadline: float | None = None) -> bool | None:
    """Whether the user is a workspace admin or owner; None when Slack did not say in time.

    It is asked before an acknowledgement, so it never retries and times out by `deadline`.
    """
    try:
        user = pre_ack_client(client, deadline).users_info(user=user_id)["user"]
    except SlackApiError as exc:
        # Rate-limited or failing: Slack did not say. Anything else (user_not_found): not an admin.
        if exc.response.status_code == 429 or exc.response.status_code >= 500:
            return None
        return False
    except (SlackClientError, OSError):
        return None
    return bool(user.get("is_admin") or user.get("is_owner"))


def user_timezone(client: WebClient, user_id: str) -> str:
    try:
        return client.users_info(user=user_id)["user"].get("tz") or "UTC"
    except SlackApiError:
        return "UTC"


def workspace_id_of(session: Session, team_id: str) -> int:
    """The workspace's id without creating it (read-only units of work); 0 matches no ritual."""
    return session.scalar(select(Workspace.id).where(Workspace.team_id == team_id)) or 0


def _refusal_text(ritual_name: str, refusal: str | None, admin: bool | None) -> str:
    text = (
        refusal.format(name=ritual_name)
        if refusal
        else f"Only the creator of “{ritual_name}”, its members or a workspace admin can change it."
    )
    if admin is None:
        text += " (Slack did not say in time whether you are an admin: if you are, try again.)"
    return f":no_entry: {text}"


@contextmanager
def acting_on(
    inv: Invocation, name: str, example: str, *, refusal: str | None = None
) -> Iterator[tuple[Session, Ritual] | None]:
    """The ritual a command names, in a write unit of work, if the caller may act on it.

    Otherwise the ack says why and it yields None. Only the ritual's creator, its members or a
    workspace admin may change it (or read its reports). Whether the caller is an admin is asked of
    Slack only when they are neither creator nor member, and outside any database transaction (on
    SQLite a write transaction holds the one write lock), within the time left before the ack.
    """
    database = inv.services.database
    deadline = pre_ack_deadline()
    with database.read() as session:
        try:
            ritual = resolve_ritual(
                session,
                workspace_id_of(session, inv.team_id),
                channel_id=inv.channel_id,
                user_id=inv.user_id,
                name=name,
                example=example,
            )
            ritual_id, ritual_name = ritual.id, ritual.name
            allowed, problem = can_manage(ritual, inv.user_id, is_admin=False), None
        except RitualError as exc:
            problem = f":warning: {exc}"
    if problem is None and not allowed:
        admin = is_admin(inv.client, inv.user_id, deadline=deadline)
        if not admin:
            problem = _refusal_text(ritual_name, refusal, admin)
    if problem is not None:
        inv.ack(text=problem, response_type="ephemeral")
        yield None
        return
    with database.begin() as session:
        ritual = load_ritual(session, ritual_id)
        if ritual is not None and ritual.status is not RitualStatus.DELETED:
            yield session, ritual
            return
    inv.ack(text=f":warning: “{ritual_name}” was just deleted.", response_type="ephemeral")
    yield None


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
        pulse_window_hours=spec.pulse_window_hours,
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
        pulse_window_hours=form.pulse_window_hours,
    )


def check_channel(client: WebClient, channel_id: str, *, deadline: float | None = None) -> str | None:
    """None if Tandem can post in the channel (joining a public one itself), else what to tell the user.

    Asked before a modal submission is acknowledged: no retries, and it times out by `deadline`.
    Call it last, after every other check passed, so Tandem joins only for a submission it saves.
    """
    try:
        quick = pre_ack_client(client, deadline)
        channel = quick.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        if exc.response.get("error") == "channel_not_found":
            return "Tandem can't see this channel. If it is private, invite @Tandem to it first (/invite @Tandem)."
        return f"Slack could not check this channel ({exc.response.get('error')}). Try again."
    except (SlackClientError, OSError):
        return "Slack did not answer in time while Tandem checked this channel. Try again."
    if channel.get("is_archived"):
        return "This channel is archived. Pick a channel people still use."
    if channel.get("is_member"):
        return None
    if channel.get("is_private"):
        return "Tandem is not in this private channel. Invite it first with /invite @Tandem, then save again."
    try:
        pre_ack_client(client, deadline).conversations_join(channel=channel_id)
    except SlackApiError as exc:
        return f"Tandem could not join this channel ({exc.response.get('error')}). Invite it with /invite @Tandem."
    except (SlackClientError, OSError):
        return "Slack did not answer in time while Tandem joined this channel. Try again."
    return None


def looks_like_other_date(text: str) -> str | None:
    """The end of `text` if it is a date written other than YYYY-MM-DD (24.12.2026, 24 Dec, Dec 24)."""
    words = text.split()
    if words and OTHER_DATE.match(words[-1]):
        return words[-1]

    def month(word: str) -> bool:
        return word.lower().rstrip(".,")[:4] in MONTHS or word.lower().rstrip(".,")[:3] in MONTHS

    def day(word: str) -> bool:
        return word.rstrip(".,").removesuffix("th").removesuffix("st").removesuffix("nd").isdigit()

    for size in (3, 2):  # "24 December 2026", "December 24, 2026", "24 Dec", "Dec 24"
        tail = words[-size:]
        if len(words) < size:
            continue
        if size == 3 and not tail[2].isdigit():
            continue
        pair = tail[:2]
        if (month(pair[0]) and day(pair[1])) or (day(pair[0]) and month(pair[1])):
            return " ".join(tail)
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
        with acting_on(inv, inv.args, "edit Weekly sync") as found:
            if found is None:
                return
            _, ritual = found
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
        services = services_of(context)
        deadline = pre_ack_deadline()
        user_id = body["user"]["id"]
        team_id = context.team_id or body["team"]["id"]
        now = services.clock.now()
        ritual_id = json.loads(view.get("private_metadata") or "{}").get("ritual_id")
        form, errors = parse_setup_state(view["state"]["values"], today=now.date())
        if errors:
            ack(response_action="errors", errors=errors)
            return
        # Everything the database can tell first, reading only; then Slack (outside any
        # transaction), the channel last: Tandem joins a channel only for a submission it saves.
        needs_admin = False
        with services.database.read() as session:
            anchor = None
            if ritual_id is not None:
                existing = load_ritual(session, ritual_id)
                if existing is None or existing.status is RitualStatus.DELETED:
                    errors[ids.BLOCK_SETUP_NAME] = "This check-in was deleted."
                else:
                    needs_admin = not can_manage(existing, user_id, is_admin=False)
                    if existing.cadence_kind == form.cadence_kind:
                        anchor = existing.anchor_date
            spec = spec_from_form(form, today=now.date(), anchor=anchor)
            if not errors:
                try:
                    check_name_free(session, workspace_id_of(session, team_id), spec, ritual_id)
                except RitualError as exc:
                    errors[ids.BLOCK_SETUP_NAME] = str(exc)
        if not errors and needs_admin:
            admin = is_admin(client, user_id, deadline=deadline)
            if not admin:
                errors[ids.BLOCK_SETUP_NAME] = "Only its creator, members or an admin can change it." + (
                    " (Slack did not say in time whether you are an admin: try again.)"
                    if admin is None
                    else ""
                )
        if not errors and form.channel_id:
            problem = check_channel(client, form.channel_id, deadline=deadline)
            if problem:
                errors[ids.BLOCK_SETUP_CHANNEL] = problem
        if errors:
            ack(response_action="errors", errors=errors)
            return
        with services.database.begin() as session:
            workspace = ensure_workspace(session, team_id)
            try:
                if ritual_id is None:
                    ritual = create_ritual(session, workspace, spec, created_by=user_id, now=now)
                else:
                    ritual = load_ritual(session, ritual_id)
                    if ritual is None or ritual.status is RitualStatus.DELETED:
                        raise RitualError("This check-in was deleted.")
                    update_ritual(session, ritual, spec, now=now)
            except RitualError as exc:  # changed by someone else since the checks above
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
        with services.database.read() as session:
            workspace_id = workspace_id_of(session, inv.team_id)
            here = channel_rituals(session, workspace_id, inv.channel_id)
            scope = SCOPE_CHANNEL
            rituals = here
            if not here:
                rituals, scope = user_rituals(session, workspace_id, inv.user_id), SCOPE_MINE
            summaries = [summary(r, now, skipped_times(session, r.id, now)) for r in rituals]
        text, blocks = build_ritual_list(summaries, scope=scope)
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")

    # -- pause, resume, skip, now, delete ------------------------------------------------------------

    def handle_pause(inv: Invocation) -> None:
        services = inv.services
        with acting_on(inv, inv.args, "pause Weekly sync") as found:
            if found is None:
                return
            _, ritual = found
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
        with acting_on(inv, inv.args, "resume Weekly sync") as found:
            if found is None:
                return
            session, ritual = found
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

    def _is_ritual_name(inv: Invocation, name: str) -> bool:
        with inv.services.database.read() as session:
            try:
                resolve_ritual(
                    session,
                    workspace_id_of(session, inv.team_id),
                    channel_id=inv.channel_id,
                    user_id=inv.user_id,
                    name=name,
                    example=SKIP_EXAMPLE,
                )
            except RitualError:
                return False
        return True

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
                inv.fail(f"“{candidate}” is not a date. Write it as YYYY-MM-DD.", SKIP_EXAMPLE)
                return
            name = head.strip()
        else:
            other = looks_like_other_date(inv.args)
            # "Weekly 24.12.2026" is a date in another format, unless a ritual really has that name.
            if other and not _is_ritual_name(inv, inv.args):
                inv.fail(
                    f"“{other}” looks like a date: write dates as YYYY-MM-DD (24 December 2026 is 2026-12-24).",
                    SKIP_EXAMPLE,
                )
                return
        with acting_on(inv, name, SKIP_EXAMPLE) as found:
            if found is None:
                return
            session, ritual = found
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
        with acting_on(inv, inv.args, "now Weekly sync") as found:
            if found is None:
                return
            session, ritual = found
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
        now = inv.services.clock.now()
        with acting_on(inv, inv.args, "delete Weekly sync") as found:
            if found is None:
                return
            _, ritual = found
            info = summary(ritual, now)
        text, blocks = build_delete_confirmation(info)
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")

    def handle_delete_confirm(
        ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        services = services_of(context)
        user_id = body["user"]["id"]
        ritual_id = int(body["actions"][0]["value"])
        with services.database.read() as session:
            ritual = load_ritual(session, ritual_id)
            gone = ritual is None or ritual.status is RitualStatus.DELETED
            allowed = not gone and can_manage(ritual, user_id, is_admin=False)  # type: ignore[arg-type]
        if gone:
            respond(replace_original=True, text="This check-in was already deleted.")
            return
        if not allowed and not is_admin(client, user_id):
            respond(replace_original=True, text="Only its creator, members or an admin can delete it.")
            return
        with services.database.begin() as session:
            ritual = load_ritual(session, ritual_id)
            name = ritual.name if ritual is not None and ritual.status is not RitualStatus.DELETED else None
            if ritual is not None and name is not None:
                delete_ritual(ritual)
        if name is None:
            respond(replace_original=True, text="This check-in was already deleted.")
            return
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
