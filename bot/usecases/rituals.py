"""Rituals: what `/tandem setup|list|edit|pause|resume|skip|now|delete`, the setup modal and the delete
buttons ask of Tandem.

Every ritual a request names is looked up in the requester's workspace and checked for permission
by `bot.usecases.access` (Slack is asked whether someone is an admin outside any transaction), then
changed in a short unit of work that loads it again, scoped the same way: another workspace's ritual,
or one deleted meanwhile, is "not found". Work that answers an interaction runs before its
acknowledgement, so each Slack call it makes takes a deadline (`bot.slack_client.pre_ack_deadline`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from bot import ids
from bot.blocks.channels import channel_problem_text
from bot.blocks.rituals import (
    SCOPE_CHANNEL,
    SCOPE_MINE,
    SKIP_EXAMPLE,
    RitualSummary,
    SkipArgs,
    build_confirmation,
    looks_like_date_problem,
    paused_by_reason,
)
from bot.blocks.setup import (
    SetupForm,
    SetupRebuild,
    build_setup_modal,
    new_setup_form,
    setup_gone_error,
    setup_refusal_error,
)
from bot.messenger import DeliveryError
from bot.services import Services
from bot.slack_client import pre_ack_deadline
from bot.usecases.access import (
    Actor,
    RefusalKind,
    Refused,
    RitualRef,
    is_admin,
    load_scoped_ritual,
    ritual_by_id,
    ritual_named,
    workspace_id_of,
)
from bot.usecases.channels import check_channel
from bot.usecases.checkins import PreparedCheckin, prepare_now
from bot.usecases.refusals import pause_after_refusal
from bot.usecases.submissions import AlreadySaved, Submission, seen_already, seen_before
from bot.usecases.summaries import summary
from db.models import Ritual, RitualStatus
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

log = logging.getLogger(__name__)

T = TypeVar("T")

# The example each command's "say which ritual" answer shows (the same as its /tandem help line).
EXAMPLES = {
    "edit": "edit Weekly sync",
    "pause": "pause Weekly sync",
    "resume": "resume Weekly sync",
    "skip": SKIP_EXAMPLE,
    "now": "now Weekly sync",
    "delete": "delete Weekly sync",
}


# -- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """A ritual that was paused, resumed or deleted; `changed` is False when it already was so."""

    ritual_id: int
    name: str
    changed: bool = True
    next_local: dt.datetime | None = None  # after a resume: the next check-in, in the ritual's timezone


@dataclass(frozen=True)
class Skipped:
    name: str
    skipped_local: dt.datetime  # the skipped check-in, in the ritual's timezone
    next_local: dt.datetime | None  # the one after it


@dataclass(frozen=True)
class Problem:
    """Why a request cannot be done, in words from `db` (RitualError) or a builder."""

    detail: str
    example: str | None = None  # the arguments were the problem: show how to write them


class NowStatus(StrEnum):
    POSTING = "posting"
    PAUSED = "paused"
    BUSY = "busy"  # a check-in was claimed at this very second already


@dataclass(frozen=True)
class PostingNow:
    name: str
    status: NowStatus
    checkin: PreparedCheckin | None = field(default=None, repr=False)  # claimed, to queue (POSTING)


@dataclass(frozen=True)
class Opened:
    """The edit form: whether Slack opened it."""

    name: str
    opened: bool


@dataclass(frozen=True)
class RitualList:
    rituals: list[RitualSummary]
    scope: str  # SCOPE_CHANNEL (the channel's) or SCOPE_MINE (the person's, asked from elsewhere)


@dataclass(frozen=True)
class SetupSaved:
    ritual: RitualSummary
    created: bool


@dataclass(frozen=True)
class SetupRejected:
    errors: dict[str, str]  # by block id, for `ack(response_action="errors", ...)`


# -- the setup modal ----------------------------------------------------------------------------------


def open_setup(services: Services, actor: Actor, trigger_id: str) -> None:
    """Open the setup modal for a new ritual: in the actor's timezone, in the channel they asked from.

    Raises nothing: a modal Slack did not open (the trigger expired, Slack failed) is logged.
    """
    # The trigger id expires 3 seconds after the click: the timezone may take part of that, never
    # all of it (a slow users.info falls back to UTC, which the modal lets the person change).
    deadline = pre_ack_deadline()
    try:
        asked_by = pre_ack_deadline(1.2)
        timezone = services.messenger.user_info(actor.team_id, actor.user_id, deadline=asked_by).timezone
    except DeliveryError:
        timezone = "UTC"
    form = new_setup_form(actor.channel_id, timezone)
    _open_modal(services, actor, trigger_id, build_setup_modal(form, ritual_id=None).to_dict(), deadline)


def open_edit(services: Services, actor: Actor, name: str, trigger_id: str) -> Opened | Refused:
    """`/tandem edit [ritual]`: the setup modal filled in with the ritual, if the actor may change it."""
    deadline = pre_ack_deadline()
    found = ritual_named(services, actor, name, example=EXAMPLES["edit"], deadline=deadline)
    loaded = _on_ritual(services, actor, found, lambda _, r: (r.id, r.name, _form_of(r)), write=False)
    if isinstance(loaded, Refused):
        return loaded
    ritual_id, ritual_name, form = loaded
    view = build_setup_modal(form, ritual_id=ritual_id).to_dict()
    return Opened(ritual_name, _open_modal(services, actor, trigger_id, view, deadline))


def rebuild_setup(services: Services, actor: Actor, rebuild: SetupRebuild) -> None:
    """The modal's cadence changed: show the inputs that cadence needs, keeping what was typed."""
    view = build_setup_modal(rebuild.form, ritual_id=rebuild.ritual_id)
    try:
        services.messenger.update_view(actor.team_id, rebuild.view_id, view.to_dict(), hash=rebuild.hash)
    except DeliveryError as exc:  # e.g. hash_conflict: the person changed the modal meanwhile
        log.info("the setup modal was not rebuilt: %s", exc.reason)


def save_setup(
    services: Services, actor: Actor, ritual_id: int | None, form: SetupForm, submission: Submission
) -> SetupSaved | SetupRejected | AlreadySaved:
    """Create the ritual (`ritual_id` None) or change it, from a setup modal whose inputs are valid.

    Checked first, reading only: the ritual is this workspace's and still there, the name is free in
    the channel; then Slack, outside any transaction and by the ack's deadline: an admin check for a
    non-member editing, and the channel last, so Tandem joins a channel only for a form it saves.
    """
    deadline = pre_ack_deadline()
    now = services.clock.now()
    needs_admin = False
    with services.database.read() as session:
        if seen_already(session, submission):
            return AlreadySaved()  # before the checks below, which the first one's save would fail
        anchor = None
        if ritual_id is not None:
            existing = load_scoped_ritual(session, actor.team_id, ritual_id)
            if existing is None:
                return SetupRejected({ids.BLOCK_SETUP_NAME: setup_gone_error()})
            needs_admin = not can_manage(existing, actor.user_id, is_admin=False)
            if existing.cadence_kind == form.cadence_kind:
                anchor = existing.anchor_date
        spec = _spec_of(form, anchor=anchor or now.date())
        try:
            check_name_free(session, workspace_id_of(session, actor.team_id), spec, ritual_id)
        except RitualError as exc:
            return SetupRejected({ids.BLOCK_SETUP_NAME: str(exc)})
    if needs_admin:
        admin = is_admin(services, actor, deadline=deadline)
        if not admin:
            return SetupRejected({ids.BLOCK_SETUP_NAME: setup_refusal_error(admin_unknown=admin is None)})
    refused = check_channel(services, actor.team_id, spec.channel_id, deadline=deadline)
    if refused is not None:
        return SetupRejected({ids.BLOCK_SETUP_CHANNEL: channel_problem_text(refused.problem, refused.code)})
    try:
        with services.database.begin() as session:
            try:
                if ritual_id is None:
                    workspace = ensure_workspace(session, actor.team_id)
                    ritual = create_ritual(session, workspace, spec, created_by=actor.user_id, now=now)
                else:
                    changing = load_scoped_ritual(session, actor.team_id, ritual_id)
                    if changing is None:
                        return SetupRejected({ids.BLOCK_SETUP_NAME: setup_gone_error()})
                    ritual = update_ritual(session, changing, spec, now=now)
            except RitualError as exc:  # changed by someone else since the checks above
                return SetupRejected({ids.BLOCK_SETUP_NAME: str(exc)})
            # Last, after every refusal (a refused submission is not recorded, so its correction
            # counts); a twin seen meanwhile rolls this save back.
            if seen_before(session, ritual.workspace_id, submission, now=now):
                raise _SeenBefore
            saved = summary(ritual, now, skipped_times(session, ritual.id, now))
    except _SeenBefore:
        return AlreadySaved()
    return SetupSaved(saved, created=ritual_id is None)


class _SeenBefore(Exception):
    """Rolls back the save of a submission that turned out to be a replay."""


def announce_setup(services: Services, actor: Actor, saved: SetupSaved) -> None:
    """After the modal closed: reschedule, refresh the members' Home tabs, confirm in the channel."""
    _changed(services, actor.team_id, saved.ritual.id)
    text, blocks = build_confirmation(saved.ritual, created=saved.created)
    try:
        services.messenger.post(
            actor.team_id, saved.ritual.channel_id, text=text, blocks=[b.to_dict() for b in blocks]
        )
    except DeliveryError as exc:
        log.warning("could not post the confirmation of ritual %s: %s", saved.ritual.id, exc.reason)
        pause_after_refusal(services, actor.team_id, saved.ritual.channel_id, exc)


# -- the commands ----------------------------------------------------------------------------------


def list_rituals(services: Services, actor: Actor) -> RitualList:
    """This channel's rituals; asked where there are none, the ones the actor created or is in."""
    now = services.clock.now()
    with services.database.read() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        rituals, scope = channel_rituals(session, workspace_id, actor.channel_id), SCOPE_CHANNEL
        if not rituals:
            rituals, scope = user_rituals(session, workspace_id, actor.user_id), SCOPE_MINE
        return RitualList([summary(r, now, skipped_times(session, r.id, now)) for r in rituals], scope)


def pause(services: Services, actor: Actor, name: str) -> Changed | Refused:
    def change(_: Session, ritual: Ritual) -> Changed:
        if ritual.status is RitualStatus.PAUSED:
            return Changed(ritual.id, ritual.name, changed=False)
        pause_ritual(ritual, reason=paused_by_reason(actor.user_id))
        return Changed(ritual.id, ritual.name)

    found = ritual_named(services, actor, name, example=EXAMPLES["pause"])
    return _after(services, actor, _on_ritual(services, actor, found, change))


def resume(services: Services, actor: Actor, name: str) -> Changed | Refused:
    now = services.clock.now()

    def change(session: Session, ritual: Ritual) -> Changed:
        if ritual.status is RitualStatus.ACTIVE:
            return Changed(ritual.id, ritual.name, changed=False)
        resume_ritual(ritual, now=now)
        info = summary(ritual, now, skipped_times(session, ritual.id, now))
        return Changed(ritual.id, ritual.name, next_local=info.next_local)

    found = ritual_named(services, actor, name, example=EXAMPLES["resume"])
    return _after(services, actor, _on_ritual(services, actor, found, change))


def skip(services: Services, actor: Actor, request: SkipArgs) -> Skipped | Problem | Refused:
    """Skip the ritual's next check-in, or the one on `request.on` (a local date)."""
    # "Weekly 24.12.2026" is a date in another format, unless a ritual really has that name.
    if request.other_date is not None and not _names_a_ritual(services, actor, request.name):
        return Problem(looks_like_date_problem(request.other_date), example=SKIP_EXAMPLE)
    now = services.clock.now()

    def change(session: Session, ritual: Ritual) -> Skipped | Problem:
        try:
            skipped = skip_occurrence(session, ritual, on=request.on, now=now)
        except RitualError as exc:
            return Problem(str(exc))
        info = summary(ritual, now, skipped_times(session, ritual.id, now))
        return Skipped(ritual.name, skipped.astimezone(cadence_of(ritual).zone), info.next_local)

    found = ritual_named(services, actor, request.name, example=EXAMPLES["skip"])
    return _on_ritual(services, actor, found, change)


def claim_now(services: Services, actor: Actor, name: str) -> PostingNow | Refused:
    """`/tandem now`: claim a check-in at this second and build it (`queue_now` posts it)."""
    now = services.clock.now()
    min_answers = services.pulse_settings.min_answers

    def claim(session: Session, ritual: Ritual) -> PostingNow:
        if ritual.status is not RitualStatus.ACTIVE:
            return PostingNow(ritual.name, NowStatus.PAUSED)
        prepared = prepare_now(session, ritual, now=now, team_id=actor.team_id, min_answers=min_answers)
        if prepared is None:
            return PostingNow(ritual.name, NowStatus.BUSY)
        return PostingNow(ritual.name, NowStatus.POSTING, prepared)

    return _on_ritual(services, actor, ritual_named(services, actor, name, example=EXAMPLES["now"]), claim)


def queue_now(services: Services, claimed: PostingNow | Refused) -> None:
    """Queue the check-in `claim_now` claimed into its channel (after the answer saying so)."""
    if isinstance(claimed, PostingNow) and claimed.checkin is not None:
        services.checkins.submit(claimed.checkin)


def ask_delete(services: Services, actor: Actor, name: str) -> RitualSummary | Refused:
    """`/tandem delete`: the ritual to show in the "Delete it?" question, if the actor may delete it."""
    now = services.clock.now()
    found = ritual_named(services, actor, name, example=EXAMPLES["delete"])
    return _on_ritual(services, actor, found, lambda _, ritual: summary(ritual, now), write=False)


def delete(services: Services, actor: Actor, ritual_id: int | None) -> Changed | Refused:
    """The question's Delete button (`ritual_id` as parsed from it): hide the ritual, keep its history."""

    def change(_: Session, ritual: Ritual) -> Changed:
        delete_ritual(ritual)
        return Changed(ritual.id, ritual.name)

    return _after(
        services, actor, _on_ritual(services, actor, ritual_by_id(services, actor, ritual_id), change)
    )


# -- helpers ----------------------------------------------------------------------------------------


def _on_ritual(
    services: Services,
    actor: Actor,
    found: RitualRef | Refused,
    act: Callable[[Session, Ritual], T],
    *,
    write: bool = True,
) -> T | Refused:
    """`act` on the ritual the access check found, loaded again (scoped) in a unit of work of its own."""
    if isinstance(found, Refused):
        return found
    unit = services.database.begin if write else services.database.read
    with unit() as session:
        ritual = load_scoped_ritual(session, actor.team_id, found.id)
        if ritual is None:  # deleted since the check
            return Refused(RefusalKind.NOT_FOUND, ritual_name=found.name)
        return act(session, ritual)


def _after(services: Services, actor: Actor, outcome: Changed | Refused) -> Changed | Refused:
    if isinstance(outcome, Changed) and outcome.changed:
        _changed(services, actor.team_id, outcome.ritual_id)
    return outcome


def _changed(services: Services, team_id: str, ritual_id: int) -> None:
    """A ritual changed: re-derive its job, and refresh the Home tabs of the people in it."""
    services.on_ritual_change(ritual_id)
    with services.database.read() as session:
        ritual = load_ritual(session, ritual_id)
        people = [m.person.slack_user_id for m in ritual.members] + [ritual.created_by] if ritual else []
    services.homes.refresh(team_id, *people)


def _names_a_ritual(services: Services, actor: Actor, name: str) -> bool:
    with services.database.read() as session:
        try:
            resolve_ritual(
                session,
                workspace_id_of(session, actor.team_id),
                channel_id=actor.channel_id,
                user_id=actor.user_id,
                name=name,
                example=SKIP_EXAMPLE,
            )
        except RitualError:
            return False
    return True


def _open_modal(
    services: Services, actor: Actor, trigger_id: str, view: dict[str, Any], deadline: float
) -> bool:
    try:
        services.messenger.open_view(actor.team_id, trigger_id, view, deadline=deadline)
    except DeliveryError as exc:
        log.warning("the setup modal could not be opened: %s", exc.reason)
        return False
    return True


def _form_of(ritual: Ritual) -> SetupForm:
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
        pulse_comments=spec.pulse_comments,
        pairing_weeks=spec.pairing_weeks,
        pairing_trios=spec.pairing_trios,
        leads_digest=spec.leads_digest,
        written_answers=spec.written_answers,
        written_lead_hours=spec.written_lead_hours,
    )


def _spec_of(form: SetupForm, *, anchor: dt.date) -> RitualSpec:
    return RitualSpec(
        channel_id=form.channel_id or "",
        name=form.name,
        cadence=form.to_cadence(anchor=anchor),
        marketing=form.marketing,
        it=form.it,
        themes=form.themes,
        pulse_enabled=form.pulse_enabled,
        pulse_anonymous=form.pulse_anonymous,
        pulse_window_hours=form.pulse_window_hours,
        pulse_comments=form.pulse_comments,
        pairing_weeks=form.pairing_weeks,
        pairing_trios=form.pairing_trios,
        leads_digest=form.leads_digest,
        written_answers=form.written_answers,
        written_lead_hours=form.written_lead_hours,
    )


def set_mentions(
    services: Services, actor: Actor, ritual_name: str, *, everyone: bool, example: str
) -> RitualRef | Refused:
    """`/tandem mentions everyone|leads [ritual]`: whether the ritual's check-ins @-mention every
    member, or (the default) only its two leads, for those who may change the ritual."""
    found = ritual_named(services, actor, ritual_name, example=example)
    if isinstance(found, Refused):
        return found
    with services.database.begin() as session:
        ritual = load_scoped_ritual(session, actor.team_id, found.id)
        if ritual is None:
            return Refused(RefusalKind.NOT_FOUND)
        ritual.notify_members = everyone
    return found
