"""Shared wins: `/tandem win`, the "Celebrate as a shared win" shortcut, edit and withdraw, `/tandem wins`."""

from __future__ import annotations

import datetime as dt
import json
from logging import Logger
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session

from bot import ids
from bot.blocks.wins import (
    WinForm,
    build_celebration,
    build_moved_win,
    build_win_modal,
    build_wins_digest,
    build_withdrawn_win,
    parse_win_state,
)
from bot.listeners.commands import CommandRouter, Invocation
from bot.listeners.rituals import check_channel
from bot.middleware import services_of
from bot.slack_client import pre_ack_client
from bot.summaries import win_view
from db import wins as win_db
from db.models import Ritual, Side, Win
from db.rituals import RitualError, channel_rituals, resolve_ritual
from db.workspaces import ensure_workspace

WINS_EXAMPLE = "wins Weekly sync last-month"


def _channel_or_none(channel_id: str | None) -> str | None:
    return channel_id if channel_id and channel_id[0] in "CG" else None


def _looks_like_period(word: str) -> bool:
    """A word meant as a month ("2026-13", "last-moth") rather than as part of a ritual's name."""
    return any(c.isdigit() for c in word) or "-" in word


def _period_problem(word: str, *, today: dt.date) -> str:
    try:
        win_db.parse_period(word, today=today)
    except win_db.WinError as exc:
        return str(exc)
    return f"“{word}” is not a month."


def _zone_of(session: Session, win: Win) -> dt.tzinfo:
    """Dates of a win read in its ritual's timezone (UTC for a win outside any ritual)."""
    ritual = session.get(Ritual, win.ritual_id) if win.ritual_id else None
    return ZoneInfo(ritual.timezone) if ritual else dt.UTC


def _metadata(view: dict) -> dict:
    try:
        return json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}


def register(app: App, router: CommandRouter) -> None:
    def open_win_modal(client: WebClient, trigger_id: str, form: WinForm, win_id: int | None = None) -> None:
        client.views_open(trigger_id=trigger_id, view=build_win_modal(form, win_id=win_id))

    def handle_win(inv: Invocation) -> None:
        inv.ack()
        open_win_modal(
            inv.client, inv.command["trigger_id"], WinForm(channel_id=_channel_or_none(inv.channel_id))
        )

    def handle_celebrate_shortcut(ack: Ack, shortcut: dict, client: WebClient, logger: Logger) -> None:
        ack()
        message = shortcut.get("message", {})
        channel_id = (shortcut.get("channel") or {}).get("id")
        link = ""
        if channel_id and message.get("ts"):
            try:
                link = client.chat_getPermalink(channel=channel_id, message_ts=message["ts"])["permalink"]
            except SlackApiError:
                logger.info("no permalink for the celebrated message; the win is saved without one")
        # The whole text: a win longer than allowed gets the modal's inline error (and a notice
        # above it), never a silent cut.
        form = WinForm(what=message.get("text") or "", link=link, channel_id=_channel_or_none(channel_id))
        open_win_modal(client, shortcut["trigger_id"], form)

    def handle_win_submission(
        ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext, logger: Logger
    ) -> None:
        services = services_of(context)
        user_id = body["user"]["id"]
        team_id = context.team_id or body["team"]["id"]
        form, errors = parse_win_state(view["state"]["values"])
        if not errors and form.channel_id:
            # Before the ack, so one short try: a slow Slack or a 429 must not eat the 3 seconds.
            try:
                problem = check_channel(pre_ack_client(client), form.channel_id)
            except (SlackClientError, OSError):
                problem = "Slack did not answer in time to check this channel. Try again."
            if problem:
                errors[ids.BLOCK_WIN_CHANNEL] = problem
        if errors:
            ack(response_action="errors", errors=errors)
            return
        win_id = _metadata(view).get("win_id")
        now = services.clock.now()
        # Where the celebration was posted and whom it credited, before an edit changes them.
        old_channel: str | None = None
        old_ts: str | None = None
        old_credits: tuple[str, ...] = ()
        with services.database.begin() as session:
            workspace = ensure_workspace(session, team_id)
            here = channel_rituals(session, workspace.id, form.channel_id or "")
            spec = win_db.WinSpec(
                what=form.what,
                marketing=form.marketing,
                it=form.it,
                channel_id=form.channel_id or "",
                outcome=form.outcome,
                link=form.link,
                ritual_id=here[0].id if len(here) == 1 else None,
            )
            if win_id is None:
                win = win_db.create_win(session, workspace.id, spec, created_by=user_id, now=now)
            else:
                existing = win_db.load_win(session, int(win_id))
                if existing is None or existing.created_by != user_id:
                    ack(
                        response_action="errors",
                        errors={ids.BLOCK_WIN_WHAT: "Only the person who celebrated this win can edit it."},
                    )
                    return
                old_channel, old_ts = existing.channel_id, existing.message_ts
                old_credits = tuple(c.user_id for c in existing.credits)
                try:
                    win = win_db.update_win(session, existing, spec, now=now)
                except win_db.WinError as exc:
                    ack(response_action="errors", errors={ids.BLOCK_WIN_WHAT: str(exc)})
                    return
                if win.channel_id != old_channel:
                    win.message_ts = None  # the old message stays in the old channel; one is posted below
            info = win_view(win, _zone_of(session, win))
            win_key = win.id
        ack()
        text, blocks = build_celebration(info)
        moved = old_ts is not None and info.channel_id != old_channel
        try:
            if old_ts and not moved:
                client.chat_update(channel=old_channel, ts=old_ts, text=text, blocks=blocks)
            else:
                ts = client.chat_postMessage(channel=info.channel_id, text=text, blocks=blocks)["ts"]
                with services.database.begin() as session:
                    posted = session.get(Win, win_key)
                    if posted is not None:
                        posted.message_ts, posted.channel_id = ts, info.channel_id
        except SlackApiError:
            logger.warning("the celebration of win %s could not be posted", win_key, exc_info=True)
            moved = False  # the old celebration stays as it was rather than point nowhere
        if moved:
            # Only once the new celebration is up: the old one now points to it.
            note, note_blocks = build_moved_win(info)
            try:
                client.chat_update(channel=old_channel, ts=old_ts, text=note, blocks=note_blocks)
            except SlackApiError:
                logger.warning("the old celebration of win %s still shows it", win_key, exc_info=True)
        if services.homes is not None:
            # People taken off the win see it leave their Home tab too.
            services.homes.refresh(team_id, user_id, *old_credits, *info.marketing, *info.it)

    def _own_win(body: dict, context: BoltContext, respond: Respond) -> Win | None:
        services = services_of(context)
        try:
            win_id = int(body["actions"][0].get("value", ""))
        except ValueError:
            return None
        with services.database.read() as session:
            win = win_db.load_win(session, win_id)
            if win is not None:
                session.expunge(win)  # read() rolls back, which would expire it
        if win is None or win.withdrawn_at is not None:
            respond(text="This win was withdrawn.", response_type="ephemeral", replace_original=False)
            return None
        if win.created_by != body["user"]["id"]:
            respond(
                text=f":no_entry: Only <@{win.created_by}>, who celebrated this win, can change it.",
                response_type="ephemeral",
                replace_original=False,
            )
            return None
        return win

    def handle_win_edit(
        ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        win = _own_win(body, context, respond)
        if win is None:
            return
        form = WinForm(
            what=win.what,
            marketing=win_db.credited(win, Side.MARKETING),
            it=win_db.credited(win, Side.IT),
            outcome=win.outcome or "",
            link=win.link or "",
            channel_id=win.channel_id,
        )
        open_win_modal(client, body["trigger_id"], form, win_id=win.id)

    def handle_win_withdraw(
        ack: Ack, body: dict, respond: Respond, client: WebClient, context: BoltContext, logger: Logger
    ) -> None:
        ack()
        win = _own_win(body, context, respond)
        if win is None:
            return
        services = services_of(context)
        with services.database.begin() as session:
            fresh = win_db.load_win(session, win.id)
            assert fresh is not None
            win_db.withdraw_win(fresh, now=services.clock.now())
            info = win_view(fresh, _zone_of(session, fresh))
            channel_id, ts = fresh.channel_id, fresh.message_ts
        text, blocks = build_withdrawn_win(info)
        if ts:
            try:
                client.chat_update(channel=channel_id, ts=ts, text=text, blocks=blocks)
            except SlackApiError as exc:
                logger.warning(
                    "the celebration of withdrawn win %s could not be replaced", info.id, exc_info=True
                )
                respond(
                    text=":leftwards_arrow_with_hook: Your win is withdrawn: it has left the digest and Home tabs. "
                    f"Slack would not replace the celebration message ({exc.response.get('error')}), "
                    "so delete that message yourself if you want it gone.",
                    response_type="ephemeral",
                    replace_original=False,
                )
        if services.homes is not None:
            services.homes.refresh(context.team_id or "", *info.marketing, *info.it)

    def handle_wins(inv: Invocation) -> None:
        services = inv.services
        now = services.clock.now()
        words = inv.args.split()
        period_text = ""
        # The period comes last ("last-month", "2026-11", "november 2026"); the rest names the ritual.
        for take in (2, 1):
            if len(words) >= take:
                try:
                    win_db.parse_period(" ".join(words[-take:]), today=now.date())
                except win_db.WinError:
                    continue
                period_text, words = " ".join(words[-take:]), words[:-take]
                break
        name = " ".join(words)
        with services.database.begin() as session:
            workspace = ensure_workspace(session, inv.team_id)

            def ritual_named(name: str) -> Ritual:
                return resolve_ritual(
                    session,
                    workspace.id,
                    channel_id=inv.channel_id,
                    user_id=inv.user_id,
                    name=name,
                    example=WINS_EXAMPLE,
                )

            ritual = None
            if name or channel_rituals(session, workspace.id, inv.channel_id):
                try:
                    ritual = ritual_named(name)
                except RitualError as exc:
                    message = str(exc)
                    if not period_text and words and _looks_like_period(words[-1]):
                        try:
                            ritual_named(" ".join(words[:-1]))
                        except RitualError:
                            pass
                        else:
                            # "wins Weekly sync 2026-13": the rest names a ritual, so the last
                            # word was meant as the month: say what is wrong with it.
                            message = _period_problem(words[-1], today=now.date())
                    inv.ack(text=f":warning: {message}", response_type="ephemeral")
                    return
            zone = ZoneInfo(ritual.timezone) if ritual else (now.tzinfo or dt.UTC)
            year, month = win_db.parse_period(period_text, today=now.astimezone(zone).date())
            start, end = win_db.month_bounds(year, month, zone)
            wins = win_db.wins_between(
                session,
                workspace.id,
                start=start,
                end=end,
                channel_id=ritual.channel_id if ritual else inv.channel_id,
                ritual_id=ritual.id if ritual else None,
            )
            views = [win_view(w, zone) for w in wins]
        text, blocks = build_wins_digest(
            win_db.period_label(f"{year:04d}-{month:02d}"), views, ritual_name=ritual.name if ritual else None
        )
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")

    router.add(
        "win",
        usage="win",
        summary="celebrate a win that marketing and IT made together",
        example="win",
        handler=handle_win,
    )
    router.add(
        "wins",
        usage="wins [ritual] [period]",
        summary="the shared wins of a month",
        example=WINS_EXAMPLE,
        handler=handle_wins,
    )
    app.shortcut(ids.SHORTCUT_CELEBRATE)(handle_celebrate_shortcut)
    app.view(ids.VIEW_WIN)(handle_win_submission)
    app.action(ids.ACTION_WIN_EDIT)(handle_win_edit)
    app.action(ids.ACTION_WIN_WITHDRAW)(handle_win_withdraw)
