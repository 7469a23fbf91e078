"""The wins ledger and commitment nudges: monthly digests, exactly once per channel, and overdue DMs.

A channel's digest for a month is due on the month's last day at 16:00 in the ritual's timezone.
It is claimed in `win_digests` under a unique (workspace, channel, month) constraint before it is
posted, so reruns, restarts and a second scheduler never post it twice. A digest missed while
Tandem was down is still posted within `DIGEST_GRACE` of its time, and recorded as missed after.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from bot.blocks.commitments import build_nudge_dm
from bot.blocks.wins import WinView, build_wins_digest
from bot.messenger import DeliveryError, Messenger
from bot.summaries import commitment_view, win_view
from db import wins as win_db
from db.commitments import claim_overdue_nudges, local_today, release_nudge, ritual_zones
from db.models import Workspace
from db.rituals import schedulable_rituals
from db.session import Database

log = logging.getLogger(__name__)

DIGEST_HOUR = 16
DIGEST_GRACE = dt.timedelta(days=7)


def digest_due_at(year: int, month: int, zone: dt.tzinfo) -> dt.datetime:
    _, next_month = win_db.month_bounds(year, month, zone)
    last_day = (next_month - dt.timedelta(days=1)).date()
    return dt.datetime.combine(last_day, dt.time(DIGEST_HOUR), tzinfo=zone)


def _periods_owed(now: dt.datetime, zone: dt.tzinfo) -> list[tuple[int, int]]:
    local = now.astimezone(zone)
    this = (local.year, local.month)
    previous = (local.year - (local.month == 1), (local.month - 2) % 12 + 1)
    return [p for p in (previous, this) if now >= digest_due_at(*p, zone)]


def post_due_digests(database: Database, messenger: Messenger, *, now: dt.datetime) -> int:
    """Claim and post every channel's digest that is due; returns how many were posted."""
    work: list[tuple[int, str, str, str, str, list[WinView]]] = []
    with database.begin() as session:
        channels: dict[tuple[int, str], tuple[str, dt.datetime, str]] = {}
        # Active rituals only: the channel of a paused ritual (with no active one beside it) gets
        # no digest. Pausing asks Tandem to stay quiet there, or Slack refused the channel and a
        # digest would fail the same way. Nothing is lost: `/tandem wins` shows any month, and the
        # first check-in after resuming lists the wins since the last one.
        for ritual in schedulable_rituals(session):
            key = (ritual.workspace_id, ritual.channel_id)
            if key not in channels or ritual.created_at < channels[key][1]:
                channels[key] = (ritual.timezone, ritual.created_at, ritual.name)
        for (workspace_id, channel_id), (tz, since, ritual_name) in channels.items():
            zone = ZoneInfo(tz)
            for year, month in _periods_owed(now, zone):
                due_at = digest_due_at(year, month, zone)
                if since >= due_at:
                    continue  # the ritual did not exist yet when this digest fell due
                period = f"{year:04d}-{month:02d}"
                late = now - due_at > DIGEST_GRACE
                digest_id = win_db.claim_digest(
                    session, workspace_id, channel_id, period, now=now, missed=late
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
                work.append(
                    (digest_id, team.team_id if team else "", channel_id, period, ritual_name,
                     [win_view(w, zone) for w in wins])
                )  # fmt: skip
    posted = 0
    for digest_id, team_id, channel_id, period, ritual_name, wins in work:
        text, blocks = build_wins_digest(win_db.period_label(period), wins, ritual_name=ritual_name)
        ts, reason = None, None
        try:
            ts = messenger.post(team_id, channel_id, text=text, blocks=[b.to_dict() for b in blocks])
            posted += 1
        except DeliveryError as exc:
            reason = exc.reason
            log.warning("the %s wins digest of %s could not be posted: %s", period, channel_id, exc.reason)
        with database.begin() as session:
            win_db.finish_digest(session, digest_id, ts=ts, reason=reason)
    return posted


def nudge_overdue(database: Database, messenger: Messenger, *, now: dt.datetime) -> int:
    """One DM to both owners of each commitment that slipped past its due date (in its ritual's
    timezone). A nudge that reached neither owner is given back and tried again on the next run."""
    with database.begin() as session:
        claimed = claim_overdue_nudges(session, now=now)
        zones = ritual_zones(session, (c.ritual_id for c in claimed))
        due = [
            (
                session.get(Workspace, c.workspace_id),
                c.channel_id or "",
                commitment_view(c, today=local_today(c, zones, now)),
            )
            for c in claimed
        ]
    sent = 0
    for workspace, channel_id, view in due:
        text, blocks = build_nudge_dm(view, channel_id)
        delivered, retry = 0, False
        for owner in (view.marketing_owner, view.it_owner):
            try:
                messenger.dm(
                    workspace.team_id if workspace else "",
                    owner,
                    text=text,
                    blocks=[b.to_dict() for b in blocks],
                )
                delivered += 1
            except DeliveryError as exc:
                # A workspace that uninstalled Tandem will not take it later either.
                retry = retry or not exc.workspace_gone
                log.warning("an overdue nudge could not be sent: %s", exc.reason)
        sent += delivered
        if not delivered and retry:
            # Neither owner got it (Slack down, rate limits): release the claim so the next run
            # (ten minutes on) tries again. When one owner got it, the claim stays: retrying would
            # nudge that owner twice.
            with database.begin() as session:
                release_nudge(session, view.id, claimed_at=now)
    return sent
