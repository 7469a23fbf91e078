"""Commitments: add one (from `/tandem commit`, a check-in's "Add a commitment" button or the Home
tab), mark it done, give it a new due date or drop it, and nudge the owners of overdue ones.

Its owners, whoever added it, or a lead of its ritual may change a commitment. A commitment, and the
check-in a new one is added to, are looked up within the requesting workspace, so another
workspace's are "not found" like unknown ones. Dates are read in the submitter's own calendar (their
Slack timezone), asked of Slack before the submission is acknowledged, within a shared budget.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from bot import ids
from bot.blocks.commitments import (
    CHOICE_DONE,
    CHOICE_MOVE,
    CommitForm,
    CommitmentView,
    build_commit_modal,
    build_commitment_confirmation,
    build_commitment_update_message,
    build_drop_modal,
    build_move_modal,
    build_nudge_dm,
    owner_left_error,
    parse_commit_state,
    parse_move_state,
)
from bot.messenger import DeliveryError, UserInfo
from bot.services import Services
from bot.slack_client import pre_ack_deadline
from bot.usecases.access import Actor, RefusalKind, Refused, load_scoped_ritual, workspace_id_of
from bot.usecases.direct_messages import send_in_working_hours
from bot.usecases.interactions import open_modal
from bot.usecases.refusals import pause_after_refusal
from bot.usecases.submissions import AlreadySaved, Submission, seen_before
from db import commitments as commit_db
from db.models import Commitment, CommitmentStatus, Workspace
from db.pulses import load_pulse
from db.rituals import RitualError, channel_rituals, resolve_ritual, ritual_leads

log = logging.getLogger(__name__)

COMMIT_EXAMPLE = "commit Weekly sync"
# All the users.info calls made before a submission's ack share this budget (Slack allows 3 s).
PRE_ACK_BUDGET = 1.5


class CommitmentRefusal(StrEnum):
    NOT_FOUND = "not_found"  # unknown, of another workspace, or a garbled id: all look the same
    NOT_ALLOWED = "not_allowed"  # neither an owner, whoever added it, nor a lead of its ritual
    CLOSED = "closed"  # done or dropped already
    RITUAL_NOT_FOUND = "ritual_not_found"  # the check-in a new commitment was to be added to
    # "Make this a commitment": its pulse (or comment) is unknown or another workspace's, or not the
    # ritual's; or the submitter is not one of the ritual's leads.
    SOURCE_NOT_FOUND = "source_not_found"
    SOURCE_NOT_LEAD = "source_not_lead"


@dataclass(frozen=True)
class CommitmentRefused:
    """Why a request about a commitment may not go on (`status`: "done"/"dropped", for CLOSED)."""

    kind: CommitmentRefusal
    status: str = ""


@dataclass(frozen=True)
class ModalErrors:
    """A submission to show again with these errors (plain text, by block id)."""

    errors: dict[str, str]


@dataclass(frozen=True)
class CommitmentSaved:
    """A new commitment, to confirm where it was made (see `confirm_commitment`)."""

    info: CommitmentView
    channel_id: str | None  # its ritual's channel; None outside any ritual (the owners get a DM)


@dataclass(frozen=True)
class CommitmentChanged:
    """A commitment marked done, moved or dropped, to announce (see `announce_change`)."""

    commitment_id: int


def commitment_view(c: Commitment, *, today: dt.date) -> CommitmentView:
    """A commitment as the messages show it; overdue when open and due before `today`."""
    return CommitmentView(
        id=c.id,
        what=c.what,
        marketing_owner=c.marketing_owner,
        it_owner=c.it_owner,
        due=c.due_date,
        status=c.status.value,
        overdue=c.status is CommitmentStatus.OPEN and c.due_date < today,
        created_by=c.created_by,
        reason=c.reason,
    )


# --------------------------------------------------------------------------- people, asked of Slack


@dataclass
class People:
    """What Slack said about some people, asked before an ack: whoever it could not tell about in
    time counts as present, in the timezone where a date is over last (lenient, never wrongly strict)."""

    found: dict[str, UserInfo] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)  # Slack answered user_not_found

    def left_workspace(self, user_id: str) -> bool:
        return user_id in self.unknown or (user_id in self.found and self.found[user_id].deleted)

    def today(self, user_id: str, now: dt.datetime) -> dt.date:
        """`user_id`'s own date at `now` (their Slack timezone)."""
        try:
            zone: dt.tzinfo = ZoneInfo(self.found[user_id].timezone)
        except (KeyError, ValueError, ZoneInfoNotFoundError):
            zone = commit_db.ANYWHERE_ON_EARTH
        return now.astimezone(zone).date()


def look_up_people(
    services: Services, team_id: str, user_ids: Iterable[str | None], *, budget: float = PRE_ACK_BUDGET
) -> People:
    """users.info for each person, before an ack: no retries, one shared budget, and never inside a
    database transaction."""
    people = People()
    deadline = pre_ack_deadline(budget)
    for user_id in dict.fromkeys(u for u in user_ids if u):
        try:
            people.found[user_id] = services.messenger.user_info(team_id, user_id, deadline=deadline)
        except DeliveryError as exc:
            if exc.code == "user_not_found":
                people.unknown.add(user_id)
            elif exc.code == "timeout":
                break  # the budget is spent: whoever is left gets the benefit of the doubt
            # Anything else (rate-limited, unreachable): the checks that needed it give the benefit
            # of the doubt.
    return people


# --------------------------------------------------------------------------- opening the modal


def open_commit_modal(
    services: Services, actor: Actor, trigger_id: str, ritual_id: int | None = None
) -> None:
    """Open the "Add a commitment" modal, for a ritual (checked again when it is submitted) or
    outside any. Never raises."""
    open_modal(services, actor, trigger_id, build_commit_modal(CommitForm(), ritual_id=ritual_id))


def ritual_for_command(services: Services, actor: Actor, name: str) -> int | Refused | None:
    """The ritual `/tandem commit [ritual]` adds to: the one named, else the channel's only one (None
    when the channel has none, or several and none was named)."""
    with services.database.read() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        if not name and len(channel_rituals(session, workspace_id, actor.channel_id)) != 1:
            return None
        try:
            return resolve_ritual(
                session,
                workspace_id,
                channel_id=actor.channel_id,
                user_id=actor.user_id,
                name=name,
                example=COMMIT_EXAMPLE,
            ).id
        except RitualError as exc:
            return Refused(RefusalKind.AMBIGUOUS, detail=str(exc))


def add_to_checkin(
    services: Services, actor: Actor, trigger_id: str, ritual_id: int | None
) -> CommitmentRefused | None:
    """A check-in's "Add a commitment" button: open the modal for its ritual, if that is one of the
    actor's workspace."""
    if ritual_id is not None:
        with services.database.read() as session:
            found = load_scoped_ritual(session, actor.team_id, ritual_id) is not None
    if ritual_id is None or not found:
        return CommitmentRefused(CommitmentRefusal.RITUAL_NOT_FOUND)
    open_commit_modal(services, actor, trigger_id, ritual_id)
    return None


# --------------------------------------------------------------------------- adding one


def save_commitment(
    services: Services,
    actor: Actor,
    values: Mapping[str, Any],
    ritual_id: int | None,
    submission: Submission,
    source: tuple[str, int] | None = None,
) -> CommitmentSaved | CommitmentRefused | ModalErrors | AlreadySaved:
    """Add a commitment from the modal's state (`ritual_id`: the check-in it belongs to); before the ack.

    The due date is judged by the submitter's own calendar; an owner who has left the workspace, or
    a check-in that is not one of the workspace's, is refused and nothing is saved. `source`: (kind,
    pulse id) when made with "Make this a commitment": checked again here (the pulse is the ritual's,
    in the workspace, and the submitter one of its leads), and recorded on the commitment.
    """
    now = services.clock.now()
    draft, _ = parse_commit_state(values, today=dt.date.min)  # who the owners are
    people = look_up_people(services, actor.team_id, (actor.user_id, draft.marketing_owner, draft.it_owner))
    # "In the past" means before the submitter's own today, not UTC's.
    form, errors = parse_commit_state(values, today=people.today(actor.user_id, now))
    for block, owner in (
        (ids.BLOCK_COMMIT_MARKETING, form.marketing_owner),
        (ids.BLOCK_COMMIT_IT, form.it_owner),
    ):
        if owner and block not in errors and people.left_workspace(owner):
            errors[block] = owner_left_error()
    if errors or form.due is None or not form.marketing_owner or not form.it_owner:
        return ModalErrors(errors)
    with services.database.begin() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        if not workspace_id:  # a payload naming no workspace Tandem knows
            return CommitmentRefused(CommitmentRefusal.NOT_FOUND)
        ritual = load_scoped_ritual(session, actor.team_id, ritual_id) if ritual_id is not None else None
        if ritual_id is not None and ritual is None:
            return CommitmentRefused(CommitmentRefusal.RITUAL_NOT_FOUND)
        if source is not None:
            source_pulse = load_pulse(session, source[1], workspace_id=workspace_id)
            if source_pulse is None or ritual is None or source_pulse.ritual_id != ritual.id:
                return CommitmentRefused(CommitmentRefusal.SOURCE_NOT_FOUND)
            if actor.user_id not in ritual_leads(session, ritual.id).values():
                return CommitmentRefused(CommitmentRefusal.SOURCE_NOT_LEAD)
        # Last, after every refusal: a refused submission is not recorded, so its correction counts.
        if seen_before(session, workspace_id, submission, now=now):
            return AlreadySaved()
        spec = commit_db.CommitmentSpec(
            what=form.what,
            marketing_owner=form.marketing_owner,
            it_owner=form.it_owner,
            due=form.due,
            ritual_id=ritual.id if ritual else None,
            channel_id=ritual.channel_id if ritual else None,
            source_kind=source[0] if source else None,
            source_pulse_id=source[1] if source else None,
        )
        commitment = commit_db.create_commitment(
            session, workspace_id, spec, created_by=actor.user_id, now=now
        )
        return CommitmentSaved(_view(session, commitment, now), commitment.channel_id)


def confirm_commitment(services: Services, actor: Actor, saved: CommitmentSaved) -> None:
    """After the ack: confirm a new commitment in its ritual's channel (or to both owners outside
    any), and refresh the Home tabs of everyone involved."""
    info = saved.info
    text, blocks = build_commitment_confirmation(info)
    payload = [b.to_dict() for b in blocks]
    if saved.channel_id:
        try:
            services.messenger.post(actor.team_id, saved.channel_id, text=text, blocks=payload)
        except DeliveryError as exc:
            log.warning("the confirmation of commitment %s could not be posted: %s", info.id, exc.reason)
            pause_after_refusal(services, actor.team_id, saved.channel_id, exc)
    else:
        for owner in dict.fromkeys((info.marketing_owner, info.it_owner)):
            try:
                services.messenger.dm(actor.team_id, owner, text=text, blocks=payload)
            except DeliveryError as exc:
                log.warning(
                    "the confirmation of commitment %s could not reach %s: %s", info.id, owner, exc.reason
                )
    services.homes.refresh(actor.team_id, actor.user_id, info.marketing_owner, info.it_owner)


# --------------------------------------------------------------------------- done, move, drop


def _view(session: Session, commitment: Commitment, now: dt.datetime) -> CommitmentView:
    """The commitment as messages show it, overdue by its ritual's calendar."""
    zones = commit_db.ritual_zones(session, [commitment.ritual_id])
    return commitment_view(commitment, today=commit_db.local_today(commitment, zones, now))


def _changeable(session: Session, actor: Actor, commitment_id: int) -> Commitment | CommitmentRefused:
    """The commitment, if it is one of the actor's workspace, still open, and the actor may change it."""
    commitment = commit_db.load_commitment(session, workspace_id_of(session, actor.team_id), commitment_id)
    if commitment is None:
        return CommitmentRefused(CommitmentRefusal.NOT_FOUND)
    if not commit_db.can_change(session, commitment, actor.user_id):
        return CommitmentRefused(CommitmentRefusal.NOT_ALLOWED)
    if commitment.status is not CommitmentStatus.OPEN:
        return CommitmentRefused(CommitmentRefusal.CLOSED, status=commitment.status.value)
    return commitment


def choose(
    services: Services, actor: Actor, trigger_id: str, choice: str, commitment_id: int
) -> CommitmentRefused | None:
    """A click on a commitment's menu or the nudge's buttons: mark it done (and announce it), or open
    the modal for a new due date or for dropping it."""
    if choice == CHOICE_DONE:
        with services.database.begin() as session:
            commitment = _changeable(session, actor, commitment_id)
            if isinstance(commitment, CommitmentRefused):
                return commitment
            commit_db.mark_done(commitment, by=actor.user_id, now=services.clock.now())
        announce_change(services, actor, CommitmentChanged(commitment_id))
        return None
    with services.database.read() as session:
        commitment = _changeable(session, actor, commitment_id)
        if isinstance(commitment, CommitmentRefused):
            return commitment
        view = (
            build_move_modal(commitment.id, commitment.what, commitment.due_date)
            if choice == CHOICE_MOVE
            else build_drop_modal(commitment.id, commitment.what)
        )
    open_modal(services, actor, trigger_id, view)
    return None


def move_commitment(
    services: Services, actor: Actor, commitment_id: int, values: Mapping[str, Any]
) -> CommitmentChanged | CommitmentRefused | ModalErrors:
    """Give a commitment a new due date from the move modal's state (in the submitter's calendar);
    before the ack."""
    now = services.clock.now()
    today = look_up_people(services, actor.team_id, [actor.user_id]).today(actor.user_id, now)
    due, errors = parse_move_state(values, today=today)
    if errors or due is None:
        return ModalErrors(errors)
    with services.database.begin() as session:
        commitment = _changeable(session, actor, commitment_id)
        if isinstance(commitment, CommitmentRefused):
            return commitment
        commit_db.move_due(commitment, due)
    return CommitmentChanged(commitment_id)


def drop_commitment(
    services: Services, actor: Actor, commitment_id: int, reason: str
) -> CommitmentChanged | CommitmentRefused:
    """Drop a commitment, saying why; before the ack."""
    with services.database.begin() as session:
        commitment = _changeable(session, actor, commitment_id)
        if isinstance(commitment, CommitmentRefused):
            return commitment
        commit_db.drop(commitment, reason, by=actor.user_id, now=services.clock.now())
    return CommitmentChanged(commitment_id)


def announce_change(services: Services, actor: Actor, changed: CommitmentChanged) -> None:
    """Tell the commitment's channel what changed (one line), and refresh the Home tabs involved."""
    with services.database.read() as session:
        commitment = session.get(Commitment, changed.commitment_id)
        if commitment is None:
            return
        info = _view(session, commitment, services.clock.now())
        channel_id = commitment.channel_id
    if channel_id:
        text, blocks = build_commitment_update_message(info, by=actor.user_id)
        try:
            services.messenger.post(
                actor.team_id, channel_id, text=text, blocks=[b.to_dict() for b in blocks]
            )
        except DeliveryError as exc:
            log.warning("the update of commitment %s could not be posted: %s", info.id, exc.reason)
            pause_after_refusal(services, actor.team_id, channel_id, exc)
    services.homes.refresh(actor.team_id, actor.user_id, info.marketing_owner, info.it_owner)


# --------------------------------------------------------------------------- overdue nudges


NUDGE_KIND = "commitment-nudge"


def nudge_overdue(services: Services, *, now: dt.datetime) -> int:
    """One DM to both owners of each commitment that slipped past its due date (in its ritual's
    timezone). A nudge that reached neither owner is given back and tried again on the next run."""
    with services.database.begin() as session:
        claimed = commit_db.claim_overdue_nudges(session, now=now)
        zones = commit_db.ritual_zones(session, (c.ritual_id for c in claimed))
        due = [
            (
                session.get(Workspace, c.workspace_id),
                c.channel_id or "",
                commitment_view(c, today=commit_db.local_today(c, zones, now)),
            )
            for c in claimed
        ]
        due_by_team = [(w.team_id if w else "", channel_id, view) for w, channel_id, view in due]
    sent = 0
    for team_id, channel_id, view in due_by_team:
        text, blocks = build_nudge_dm(view, channel_id)
        delivered, retry = 0, False
        for owner in (view.marketing_owner, view.it_owner):
            # In the owner's working hours (held until then): never a ping at 00:10 their time.
            outcome = send_in_working_hours(
                services,
                team_id,
                owner,
                kind=NUDGE_KIND,
                # The due date is part of the key: moving it re-arms the nudge (a new message).
                key=f"{NUDGE_KIND}:{view.id}:{view.due.isoformat()}:{owner}",
                text=text,
                blocks=[b.to_dict() for b in blocks],
                now=now,
            )
            if outcome.delivered_or_due:
                delivered += 1
            else:
                # A workspace that uninstalled Tandem will not take it later either.
                retry = retry or not outcome.workspace_gone
        sent += delivered
        if not delivered and retry:
            # Neither owner got it (Slack down, rate limits): release the claim so the next run
            # (ten minutes on) tries again. When one owner got it, the claim stays: retrying would
            # nudge that owner twice.
            with services.database.begin() as session:
                commit_db.release_nudge(session, view.id, claimed_at=now)
    return sent
