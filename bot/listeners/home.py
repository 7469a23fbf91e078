"""The App Home tab: published when opened, and its buttons for the common actions."""

from __future__ import annotations

from logging import Logger

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import ids
from bot.blocks.commitments import CommitForm, build_commit_modal
from bot.blocks.setup import build_setup_modal
from bot.blocks.wins import WinForm, build_win_modal
from bot.listeners.rituals import form_for_new, user_timezone
from bot.middleware import services_of
from db.people import get_or_create_person
from db.workspaces import ensure_workspace


def register(app: App) -> None:
    def handle_home_opened(event: dict, client: WebClient, context: BoltContext, logger: Logger) -> None:
        if event.get("tab") != "home":
            return
        services = services_of(context)
        team_id = context.team_id or ""
        user_id = event["user"]
        with services.database.begin() as session:
            workspace = ensure_workspace(session, team_id)
            person = get_or_create_person(session, workspace.id, user_id)
            needs_timezone = person.timezone is None
        if needs_timezone:
            # Next check-ins are shown in the person's own timezone; learn it once.
            timezone = user_timezone(client, user_id)
            with services.database.begin() as session:
                workspace = ensure_workspace(session, team_id)
                get_or_create_person(session, workspace.id, user_id).timezone = timezone
        if services.homes is not None:
            services.homes.publish(team_id, user_id)

    def handle_new_ritual(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user_id = body["user"]["id"]
        form = form_for_new(None, user_timezone(client, user_id))
        client.views_open(trigger_id=body["trigger_id"], view=build_setup_modal(form, ritual_id=None))

    def handle_new_win(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=build_win_modal(WinForm(), win_id=None))

    def handle_new_commit(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        client.views_open(
            trigger_id=body["trigger_id"], view=build_commit_modal(CommitForm(), ritual_id=None)
        )

    app.event(ids.EVENT_APP_HOME_OPENED)(handle_home_opened)
    app.action(ids.ACTION_HOME_NEW_RITUAL)(handle_new_ritual)
    app.action(ids.ACTION_HOME_NEW_WIN)(handle_new_win)
    app.action(ids.ACTION_HOME_NEW_COMMIT)(handle_new_commit)
