"""Shared wins: celebrate one (from `/tandem win`, a message's shortcut or the Home tab), edit it (also
into another channel), withdraw it, list a month's, and post each channel's monthly digest.

Only the person who celebrated a win may edit or withdraw it; a win is looked up within the
requesting workspace, so another workspace's win is "not found" like an unknown one.

A channel's digest for a month is due on the month's last day at 16:00 in its ritual's timezone
(`db.wins.digest_due_at`). It is claimed in `win_digests` under a unique (workspace, channel, month)
constraint before it is posted, so reruns, restarts and a second scheduler never post it twice. A
digest missed while Tandem was down is still posted within `DIGEST_GRACE` of its time, and recorded as
missed after. A month without wins posts nothing (its claim is recorded as skipped).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block
from sqlalchemy.orm import Session

from bot.blocks.wins import (
    CelebratedMessage,
    WinForm,
    WinView,
    build_celebration,
    build_moved_win,
    build_win_modal,
    build_wins_digest,
    build_withdrawn_win,
    celebration_channel,
    parse_period,
    period_label,
    period_problem,
    split_wins_args,
)
from bot.messenger import DeliveryError, PostTag
from bot.services import Services
from bot.slack_client import pre_ack_deadline
from bot.usecases.access import Actor, RefusalKind, Refused, workspace_id_of
from bot.usecases.channels import ChannelRefused, check_channel
from bot.usecases.delivery import Uncertain, post_once
from bot.usecases.interactions import open_modal
from bot.usecases.refusals import pause_after_refusal
from bot.usecases.submissions import AlreadySaved, Submission, seen_before
from db import wins as win_db
from db.models import Ritual, Side, Win, Workspace
from db.rituals import RitualError, channel_rituals, first_ritual_per_channel, resolve_ritual

log = logging.getLogger(__name__)

WINS_EXAMPLE = "wins Weekly sync last-month"
DIGEST_GRACE = dt.timedelta(days=7)


class WinRefusal(StrEnum):
    NOT_FOUND = "not_found"  # unknown, of another workspace, or a garbled id: all look the same
    WITHDRAWN = "withdrawn"
    NOT_CREATOR = "not_creator"


@dataclass(frozen=True)
class WinRefused:
    """Why a request about a win may not go on (`creator`: who celebrated it, for NOT_CREATOR)."""

    kind: WinRefusal
    creator: str = ""


@dataclass(frozen=True)
class WinSaved:
    """A win created or edited, and what its celebration must become (see `celebrate_win`)."""

    info: WinView
    # Where its celebration was posted before an edit (channel, ts), and whom the win credited then.
    old_message: tuple[str, str] | None = None
    old_credits: tuple[str, ...] = ()


@dataclass(frozen=True)
class WinWithdrawn:
    """A win was withdrawn; `not_replaced` is Slack's error when its celebration still shows it."""

    not_replaced: str | None = None


@dataclass(frozen=True)
class MonthOfWins:
    """A month's wins, of a ritual (`ritual_name`) or of the channel the command was typed in."""

    label: str
    wins: list[WinView]
    ritual_name: str | None


def win_view(win: Win, zone: dt.tzinfo) -> WinView:
    """A win as the messages show it, its dates read in `zone`."""
    return WinView(
        id=win.id,
        what=win.what,
        marketing=win_db.credited(win, Side.MARKETING),
        it=win_db.credited(win, Side.IT),
        outcome=win.outcome,
        link=win.link,
        created_by=win.created_by,
        channel_id=win.channel_id,
        created_local=win.created_at.astimezone(zone),
        withdrawn=win.withdrawn_at is not None,
        edited=win.updated_at is not None,
    )


def _own_win(
    session: Session, actor: Actor, win_id: int, workspace_id: int | None = None
) -> Win | WinRefused:
    """The win if the actor may change it: it is one of their workspace's, not withdrawn, and they
    celebrated it."""
    if workspace_id is None:
        workspace_id = workspace_id_of(session, actor.team_id)
    win = win_db.load_win(session, workspace_id, win_id)
    if win is None:
        return WinRefused(WinRefusal.NOT_FOUND)
    if win.withdrawn_at is not None:
        return WinRefused(WinRefusal.WITHDRAWN)
    if win.created_by != actor.user_id:
        return WinRefused(WinRefusal.NOT_CREATOR, creator=win.created_by)
    return win


# --------------------------------------------------------------------------- opening the modal


def open_win_modal(services: Services, actor: Actor, trigger_id: str) -> None:
    """Open the "Celebrate a win" modal, starting in the actor's channel when it is one. Never raises."""
    form = WinForm(channel_id=celebration_channel(actor.channel_id))
    open_modal(services, actor, trigger_id, build_win_modal(form, win_id=None))


def celebrate_message(services: Services, actor: Actor, trigger_id: str, message: CelebratedMessage) -> None:
    """Open the modal prefilled with a message (its whole text, and a link to it). Never raises."""
    link = ""
    if message.channel_id and message.ts:
        try:
            link = services.messenger.permalink(actor.team_id, message.channel_id, message.ts)
        except DeliveryError as exc:
            log.info("no permalink for the celebrated message (%s); the win is saved without one", exc.code)
    # The whole text: a win longer than allowed gets the modal's inline error (and a notice above
    # it), never a silent cut.
    form = WinForm(what=message.text, link=link, channel_id=celebration_channel(message.channel_id))
    open_modal(services, actor, trigger_id, build_win_modal(form, win_id=None))


def open_win_editor(
    services: Services, actor: Actor, trigger_id: str, win_id: int | None
) -> WinRefused | None:
    """Open the edit modal of a win the actor celebrated; why not otherwise."""
    if win_id is None:
        return WinRefused(WinRefusal.NOT_FOUND)
    with services.database.read() as session:
        win = _own_win(session, actor, win_id)
        if isinstance(win, WinRefused):
            return win
        form = WinForm(
            what=win.what,
            marketing=win_db.credited(win, Side.MARKETING),
            it=win_db.credited(win, Side.IT),
            outcome=win.outcome or "",
            link=win.link or "",
            channel_id=win.channel_id,
        )
    open_modal(services, actor, trigger_id, build_win_modal(form, win_id=win_id))
    return None


# --------------------------------------------------------------------------- saving and celebrating


def save_win(
    services: Services, actor: Actor, form: WinForm, win_id: int | None, submission: Submission
) -> WinSaved | WinRefused | ChannelRefused | AlreadySaved:
    """Create a win (`win_id` None) or edit one the actor celebrated, from a valid form; before the ack.

    Checks, in order: that the actor may edit the win, then that Tandem can post in the form's
    channel (joining a public one), then saves. Nothing is saved when a check fails.
    """
    deadline = pre_ack_deadline()
    channel_id = form.channel_id or ""
    if win_id is not None:
        with services.database.read() as session:
            found = _own_win(session, actor, win_id)
        if isinstance(found, WinRefused):
            return found
    problem = check_channel(services, actor.team_id, channel_id, deadline=deadline)
    if problem is not None:
        return problem
    now = services.clock.now()
    with services.database.begin() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        if not workspace_id:
            return WinRefused(WinRefusal.NOT_FOUND)  # a payload naming no workspace Tandem knows
        here = channel_rituals(session, workspace_id, channel_id)
        spec = win_db.WinSpec(
            what=form.what,
            marketing=form.marketing,
            it=form.it,
            channel_id=channel_id,
            outcome=form.outcome,
            link=form.link,
            ritual_id=here[0].id if len(here) == 1 else None,
        )
        old_message: tuple[str, str] | None = None
        old_credits: tuple[str, ...] = ()
        existing: Win | None = None
        if win_id is not None:
            # Again in the unit of work that changes it: it may have been withdrawn meanwhile.
            own = _own_win(session, actor, win_id, workspace_id)
            if isinstance(own, WinRefused):
                return own
            existing = own
        # Last, after every refusal: a refused submission is not recorded, so its correction counts.
        if seen_before(session, workspace_id, submission, now=now):
            return AlreadySaved()
        if existing is None:
            win = win_db.create_win(session, workspace_id, spec, created_by=actor.user_id, now=now)
        else:
            if existing.message_ts:
                old_message = (existing.channel_id, existing.message_ts)
            old_credits = tuple(c.user_id for c in existing.credits)
            win = win_db.update_win(session, existing, spec, now=now)
            if old_message and win.channel_id != old_message[0]:
                win.message_ts = None  # the old message stays in the old channel; one is posted there
        info = win_view(win, win_db.win_zone(session, win))
    return WinSaved(info, old_message, old_credits)


def _update(
    services: Services, team_id: str, channel_id: str, ts: str, text: str, blocks: list[Block]
) -> str | None:
    """Replace a message Tandem posted; Slack's error code when it would not (pausing a gone channel's rituals)."""
    try:
        services.messenger.update(team_id, channel_id, ts, text=text, blocks=[b.to_dict() for b in blocks])
    except DeliveryError as exc:
        pause_after_refusal(services, team_id, channel_id, exc)
        return exc.code or exc.reason
    return None


def celebrate_win(services: Services, actor: Actor, saved: WinSaved) -> None:
    """After the ack: post the celebration (or update it in place), point a moved win's old message to
    the new one, and refresh the Home tabs of everyone credited before or after."""
    info, team_id = saved.info, actor.team_id
    text, blocks = build_celebration(info)
    old = saved.old_message
    moved = old is not None and old[0] != info.channel_id
    if old is not None and not moved:
        failed = _update(services, team_id, old[0], old[1], text, blocks)
    else:
        try:
            ts = services.messenger.post(
                team_id,
                info.channel_id,
                text=text,
                blocks=[b.to_dict() for b in blocks],
                tag=PostTag(WIN_EVENT, str(info.id)),
            )
        except DeliveryError as exc:
            pause_after_refusal(services, team_id, info.channel_id, exc)
            failed = exc.code or exc.reason
        else:
            failed = None
            with services.database.begin() as session:
                posted = session.get(Win, info.id)
                if posted is not None:
                    posted.message_ts, posted.channel_id = ts, info.channel_id
    if failed is not None:
        log.warning("the celebration of win %s could not be posted: %s", info.id, failed)
    elif moved and old is not None:
        # Only once the new celebration is up: the old one now points to it (else it stays as it was
        # rather than point nowhere).
        note, note_blocks = build_moved_win(info)
        if (error := _update(services, team_id, old[0], old[1], note, note_blocks)) is not None:
            log.warning("the old celebration of win %s still shows it: %s", info.id, error)
    # People taken off the win see it leave their Home tab too.
    services.homes.refresh(team_id, actor.user_id, *saved.old_credits, *info.marketing, *info.it)


def withdraw_win(services: Services, actor: Actor, win_id: int | None) -> WinWithdrawn | WinRefused:
    """Withdraw a win the actor celebrated: it leaves digests and Home tabs, its celebration is replaced."""
    if win_id is None:
        return WinRefused(WinRefusal.NOT_FOUND)
    with services.database.begin() as session:
        win = _own_win(session, actor, win_id)
        if isinstance(win, WinRefused):
            return win
        win_db.withdraw_win(win, now=services.clock.now())
        info = win_view(win, win_db.win_zone(session, win))
        channel_id, ts = win.channel_id, win.message_ts
    not_replaced = None
    if ts:
        text, blocks = build_withdrawn_win(info)
        not_replaced = _update(services, actor.team_id, channel_id, ts, text, blocks)
        if not_replaced is not None:
            log.warning(
                "the celebration of withdrawn win %s could not be replaced: %s", info.id, not_replaced
            )
    services.homes.refresh(actor.team_id, *info.marketing, *info.it)
    return WinWithdrawn(not_replaced)


# --------------------------------------------------------------------------- a month of wins


def wins_of_month(services: Services, actor: Actor, args: str) -> MonthOfWins | Refused:
    """`/tandem wins [ritual] [period]`: the month's wins of the ritual named (or the channel's only
    one), else of the channel the command was typed in."""
    now = services.clock.now()
    wanted = split_wins_args(args, today=now.date())
    with services.database.read() as session:
        workspace_id = workspace_id_of(session, actor.team_id)

        def ritual_named(name: str) -> Ritual:
            return resolve_ritual(
                session,
                workspace_id,
                channel_id=actor.channel_id,
                user_id=actor.user_id,
                name=name,
                example=WINS_EXAMPLE,
            )

        ritual = None
        if wanted.name or channel_rituals(session, workspace_id, actor.channel_id):
            try:
                ritual = ritual_named(wanted.name)
            except RitualError as exc:
                detail = str(exc)
                if wanted.mistyped_period is not None:
                    word, rest = wanted.mistyped_period
                    try:
                        ritual_named(rest)
                    except RitualError:
                        pass
                    else:
                        # "wins Weekly sync 2026-13": the rest names a ritual, so the last word was
                        # meant as the month: say what is wrong with it.
                        detail = period_problem(word)
                return Refused(RefusalKind.AMBIGUOUS, detail=detail)
        zone = ZoneInfo(ritual.timezone) if ritual else (now.tzinfo or dt.UTC)
        # The month as the ritual's calendar sees it ("last-month" on the 1st, at midnight).
        period = parse_period(wanted.period, today=now.astimezone(zone).date())
        if period is None:
            return Refused(RefusalKind.AMBIGUOUS, detail=period_problem(wanted.period))
        start, end = win_db.month_bounds(*period, zone)
        wins = win_db.wins_between(
            session,
            workspace_id,
            start=start,
            end=end,
            channel_id=ritual.channel_id if ritual else actor.channel_id,
            ritual_id=ritual.id if ritual else None,
        )
        views = [win_view(w, zone) for w in wins]
        return MonthOfWins(period_label(*period), views, ritual.name if ritual else None)


# --------------------------------------------------------------------------- the monthly digest


@dataclass(frozen=True)
class _DueDigest:
    digest_id: int
    team_id: str
    channel_id: str
    period: tuple[int, int]
    ritual_name: str
    wins: list[WinView]


# A channel whose oldest ritual is younger than this when a month ends gets no digest for that month.
NEW_RITUAL = dt.timedelta(days=7)


def _claim_due_digests(services: Services, now: dt.datetime) -> list[_DueDigest]:
    """Claim every channel's digest that is due; a month without wins is recorded as skipped."""
    due: list[_DueDigest] = []
    with services.database.begin() as session:
        channels: dict[tuple[int, str], tuple[str, dt.datetime, str]] = {}
        # Active rituals only: the channel of a paused ritual (with no active one beside it) gets
        # no digest. Pausing asks Tandem to stay quiet there, or Slack refused the channel and a
        # digest would fail the same way. Nothing is lost: `/tandem wins` shows any month, and the
        # first check-in after resuming lists the wins since the last one.
        # One row per channel, its first ritual picked by the database: with 100,000 rituals, loading
        # each as an ORM object here took the scheduler process from ~95 MB to ~290 MB (bench/README.md).
        for first in first_ritual_per_channel(session):
            channels[(first.workspace_id, first.channel_id)] = (first.timezone, first.created_at, first.name)
        for (workspace_id, channel_id), (tz, since, ritual_name) in channels.items():
            zone = ZoneInfo(tz)
            for year, month in win_db.digest_periods_owed(now, zone):
                due_at = win_db.digest_due_at(year, month, zone)
                if since > due_at - NEW_RITUAL:
                    # The ritual did not exist yet, or was less than a week old, when this digest
                    # fell due: a ritual made on the 30th gets no "this month" digest the same day.
                    continue
                late = now - due_at > DIGEST_GRACE
                digest_id = win_db.claim_digest(
                    session, workspace_id, channel_id, f"{year:04d}-{month:02d}", now=now, missed=late
                )
                if digest_id is None or late:
                    continue
                start, end = win_db.month_bounds(year, month, zone)
                wins = win_db.wins_between(session, workspace_id, start=start, end=end, channel_id=channel_id)
                if not wins:
                    # Nothing to celebrate is nothing to post: an empty digest is noise (and the
                    # claim stays, so the month is not looked at again).
                    win_db.finish_digest(session, digest_id, ts=None, reason="no wins that month", empty=True)
                    continue
                team = session.get(Workspace, workspace_id)
                views = [win_view(w, zone) for w in wins]
                due.append(
                    _DueDigest(
                        digest_id, team.team_id if team else "", channel_id, (year, month), ritual_name, views
                    )
                )
    return due


# The Slack metadata event types of the wins' posts (bot.messenger.PostTag), with their row's id.
DIGEST_EVENT = "tandem_wins_digest"
WIN_EVENT = "tandem_win"


def post_due_digests(services: Services, *, now: dt.datetime) -> int:
    """Claim every channel's monthly digest that is due and queue it into its channel, under the same
    one-message-a-second pacing as check-ins; returns how many were queued.

    A channel Slack refuses (removed, archived, token revoked) pauses its rituals, as a check-in would.
    """
    due = _claim_due_digests(services, now)
    for digest in due:
        services.checkins.send(
            digest.channel_id, partial(_post_digest, services, digest), team_id=digest.team_id
        )
    return len(due)


def _post_digest(services: Services, digest: _DueDigest) -> None:
    text, blocks = build_wins_digest(
        period_label(*digest.period), digest.wins, ritual_name=digest.ritual_name
    )
    error: DeliveryError | None = None
    outcome: str | Uncertain | None = None
    try:
        outcome = post_once(
            services.messenger,
            digest.team_id,
            digest.channel_id,
            text=text,
            blocks=[b.to_dict() for b in blocks],
            tag=PostTag(DIGEST_EVENT, str(digest.digest_id)),
        )
    except DeliveryError as exc:
        error = exc
        log.warning("a wins digest of %s could not be posted: %s", digest.channel_id, exc.reason)
    with services.database.begin() as session:
        if isinstance(outcome, Uncertain):
            win_db.finish_digest(session, digest.digest_id, ts=None, reason=outcome.reason, uncertain=True)
        else:
            win_db.finish_digest(
                session, digest.digest_id, ts=outcome, reason=error.reason if error else None
            )
    if error is not None:
        pause_after_refusal(services, digest.team_id, digest.channel_id, error)
