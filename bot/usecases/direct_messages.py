"""Direct messages in the recipient's working hours: the one way Tandem DMs a person.

`send_in_working_hours` sends at once when it is working time where the recipient is (their Slack
timezone, the workspace's hours: `/tandem hours`, 09:00–18:00 on weekdays by default), and
otherwise holds the DM in a durable queue (`held_dms`) until their next working start; a DM that
could only go out at or after its `deadline` is skipped. `send_held` is the scheduler's minutely
job that sends what has become due. Every DM is keyed: asking twice for the same key sends once,
across runs, processes and restarts.

Reminders, nudges, drift alerts, and the DMs later features add (pairings, written check-ins) all
go through here: a person is never pinged at 05:00 because of where the ritual's channel lives.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.messenger import DeliveryError
from bot.services import Services
from bot.slack_client import pre_ack_deadline
from bot.usecases.access import Actor, is_admin, workspace_id_of
from db import direct_messages as held_db
from db.direct_messages import HeldFile
from db.models import HeldDmStatus, Workspace
from db.people import find_person, get_or_create_person
from db.working_hours import DEFAULT, WorkingHours
from db.workspaces import ensure_workspace

log = logging.getLogger(__name__)

__all__ = [
    "DmOutcome",
    "DmStatus",
    "HeldFile",
    "HeldRef",
    "HoursOutcome",
    "HoursStatus",
    "StillWanted",
    "send_held",
    "send_in_working_hours",
    "set_hours",
    "show_hours",
]


class DmStatus(StrEnum):
    SENT = "sent"  # it was working time: sent now
    HELD = "held"  # queued until `not_before`, the recipient's next working start
    SKIPPED = "skipped"  # no working time before its deadline: never sent
    DUPLICATE = "duplicate"  # this key was asked for before: nothing new
    FAILED = "failed"  # Slack refused it


@dataclass(frozen=True)
class DmOutcome:
    status: DmStatus
    not_before: dt.datetime | None = None
    reason: str = ""
    workspace_gone: bool = False  # Slack said the workspace's token no longer works

    @property
    def delivered_or_due(self) -> bool:
        """Sent, or sure to be sent (held, or sent by an earlier request with the same key)."""
        return self.status in (DmStatus.SENT, DmStatus.HELD, DmStatus.DUPLICATE)


@dataclass(frozen=True)
class HeldRef:
    """A held DM as a still-wanted check sees it."""

    workspace_id: int
    user_id: str
    kind: str
    key: str


# A check made just before a held DM goes out: False drops it as no longer wanted (a reminder
# for a pulse the person has since answered). Keyed by the DM's kind; wired by jobs/.
StillWanted = Callable[[Services, HeldRef], bool]


def _timezone(services: Services, team_id: str, user_id: str) -> tuple[int, WorkingHours, str | None]:
    """The workspace's row id and working hours, and the recipient's timezone (asked of Slack once,
    outside any transaction, and kept on their person row)."""
    with services.database.begin() as session:
        workspace = ensure_workspace(session, team_id)
        person = find_person(session, workspace.id, user_id)
        workspace_id, hours = workspace.id, held_db.working_hours_of(workspace)
        timezone = person.timezone if person else None
    if timezone is None:
        try:
            timezone = services.messenger.user_info(team_id, user_id).timezone or None
        except DeliveryError as exc:
            # Unknown: their day is UTC's (db.working_hours.FALLBACK_ZONE) until Slack says.
            log.warning("the timezone of a DM's recipient could not be learnt: %s", exc.reason)
        if timezone:
            with services.database.begin() as session:
                get_or_create_person(session, workspace_id, user_id).timezone = timezone
    return workspace_id, hours, timezone


def send_in_working_hours(
    services: Services,
    team_id: str,
    user_id: str,
    *,
    kind: str,
    key: str,
    text: str,
    blocks: Sequence[dict[str, Any]] = (),
    file: HeldFile | None = None,
    deadline: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> DmOutcome:
    """DM `user_id` now if it is working time where they are, else hold it until it is.

    `key` names the message (say `pulse-reminder:12:U123`): a key already asked for sends nothing
    again. `deadline`: from then on the DM is useless, so one that cannot go out before it is
    skipped. `file` (a chart) goes with `text` as its comment. `now`: the caller's job time (the
    clock's by default).

    A DM Slack refuses now is forgotten (FAILED is returned): its key is free, so the caller may ask
    again later, as the overdue nudge does.
    """
    now = now or services.clock.now()
    workspace_id, hours, timezone = _timezone(services, team_id, user_id)
    when = hours.deliver_at(now, timezone, deadline=deadline)
    if when is None:
        status, not_before, reason = HeldDmStatus.SKIPPED, now, "no working hours before its deadline"
    elif when <= now:
        status, not_before, reason = HeldDmStatus.SENDING, now, None
    else:
        status, not_before, reason = HeldDmStatus.PENDING, when, None
    with services.database.begin() as session:
        held_id = held_db.hold(
            session,
            workspace_id,
            user_id,
            kind=kind,
            key=key,
            text=text,
            blocks=list(blocks),
            file=file,
            not_before=not_before,
            deadline=deadline,
            status=status,
            now=now,
            reason=reason,
        )
    if held_id is None:
        return DmOutcome(DmStatus.DUPLICATE)
    if status is HeldDmStatus.SKIPPED:
        log.info("a %s DM was skipped: no working hours before its deadline", kind)
        return DmOutcome(DmStatus.SKIPPED, reason=reason or "")
    if status is HeldDmStatus.PENDING:
        return DmOutcome(DmStatus.HELD, not_before=not_before)
    return _deliver(
        services, team_id, held_id, user_id, text=text, blocks=blocks, file=file, now=now, forget_failed=True
    )


def _deliver(
    services: Services,
    team_id: str,
    held_id: int,
    user_id: str,
    *,
    text: str,
    blocks: Sequence[dict[str, Any]],
    file: HeldFile | None,
    now: dt.datetime,
    forget_failed: bool = False,
) -> DmOutcome:
    """Send one claimed DM (no transaction open), then record how it ended (or, `forget_failed`,
    forget a refused one so that its key can be asked for again)."""
    try:
        if file is None:
            services.messenger.dm(team_id, user_id, text=text, blocks=list(blocks))
        else:
            channel = services.messenger.dm_channel(team_id, user_id)
            services.messenger.upload(
                team_id,
                channel,
                content=file.content,
                filename=file.filename,
                title=file.title,
                alt_text=file.alt_text,
                initial_comment=text,
            )
    except DeliveryError as exc:
        log.warning("a DM could not be sent: %s", exc.reason)
        with services.database.begin() as session:
            if forget_failed:
                held_db.forget(session, held_id)
            else:
                held_db.finish(session, held_id, HeldDmStatus.FAILED, now=now, reason=exc.reason[:300])
        return DmOutcome(DmStatus.FAILED, reason=exc.reason, workspace_gone=exc.workspace_gone)
    with services.database.begin() as session:
        held_db.finish(session, held_id, HeldDmStatus.SENT, now=now)
    return DmOutcome(DmStatus.SENT)


def send_held(
    services: Services, *, now: dt.datetime, still_wanted: Mapping[str, StillWanted] | None = None
) -> int:
    """The scheduler's job: send every held DM whose time has come, each once. Returns how many went.

    A DM found outside its recipient's working hours (Tandem was down, or they moved timezone) is
    held again until their next working start, or skipped when that is past its deadline.
    """
    checks = still_wanted or {}
    with services.database.begin() as session:
        stale = held_db.fail_stale_claims(session, now=now)
        due = held_db.due_ids(session, now=now)
    if stale:
        log.warning("%d held DMs were interrupted while sending and are recorded as failed", stale)
    sent = 0
    for held_id in due:
        with services.database.begin() as session:
            held = held_db.claim(session, held_id, now=now)
            if held is None:
                continue  # another sender took it
            workspace = session.get(Workspace, held.workspace_id)
            if workspace is None or not workspace.active:
                held_db.finish(
                    session, held_id, HeldDmStatus.SKIPPED, now=now, reason="workspace uninstalled"
                )
                continue
            person = find_person(session, held.workspace_id, held.user_id)
            timezone = person.timezone if person else None
            when = held_db.working_hours_of(workspace).deliver_at(now, timezone, deadline=held.deadline)
            if when is None:
                held_db.finish(
                    session,
                    held_id,
                    HeldDmStatus.SKIPPED,
                    now=now,
                    reason="no working hours before its deadline",
                )
                continue
            if when > now:
                held_db.postpone(session, held_id, not_before=when)
                continue
            team_id, user_id, kind = workspace.team_id, held.user_id, held.kind
            ref = HeldRef(held.workspace_id, held.user_id, held.kind, held.key)
            text, blocks = held.text, list(held.blocks)
            file = (
                HeldFile(
                    held.file_content,
                    held.file_name or "file",
                    held.file_title or "",
                    held.file_alt_text or "",
                )
                if held.file_content is not None
                else None
            )
        check = checks.get(kind)
        if check is not None and not check(services, ref):
            with services.database.begin() as session:
                held_db.finish(session, held_id, HeldDmStatus.SKIPPED, now=now, reason="no longer wanted")
            continue
        outcome = _deliver(services, team_id, held_id, user_id, text=text, blocks=blocks, file=file, now=now)
        sent += outcome.status is DmStatus.SENT
    return sent


# -- /tandem hours -------------------------------------------------------------------------------------


class HoursStatus(StrEnum):
    SHOWN = "shown"
    SET = "set"
    NOT_ADMIN = "not_admin"  # only a workspace admin may change them
    ADMIN_UNKNOWN = "admin_unknown"  # Slack did not say in time whether the person is an admin


@dataclass(frozen=True)
class HoursOutcome:
    status: HoursStatus
    hours: WorkingHours


def show_hours(services: Services, actor: Actor) -> HoursOutcome:
    """`/tandem hours`: the workspace's working hours, when Tandem's DMs may reach people."""
    with services.database.read() as session:
        workspace = session.get(Workspace, workspace_id_of(session, actor.team_id))
        hours = held_db.working_hours_of(workspace) if workspace else DEFAULT
    return HoursOutcome(HoursStatus.SHOWN, hours)


def set_hours(
    services: Services, actor: Actor, start: dt.time, end: dt.time, weekdays: frozenset[int]
) -> HoursOutcome:
    """`/tandem hours 09:00-18:00 mon-fri`: a workspace admin sets when DMs may go out (each
    recipient's own timezone). DMs already held keep their time; new ones follow the new hours."""
    hours = WorkingHours(start=start, end=end, weekdays=weekdays)
    admin = is_admin(services, actor, deadline=pre_ack_deadline())
    current = show_hours(services, actor).hours
    if admin is None:
        return HoursOutcome(HoursStatus.ADMIN_UNKNOWN, current)
    if not admin:
        return HoursOutcome(HoursStatus.NOT_ADMIN, current)
    with services.database.begin() as session:
        held_db.set_working_hours(ensure_workspace(session, actor.team_id), hours)
    return HoursOutcome(HoursStatus.SET, hours)
