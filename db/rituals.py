"""Rituals: create, edit, find, pause, resume, skip, delete. Plain values in; nothing here knows Slack."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

# Imported for its hook: every change to when a ritual runs recomputes its next occurrence.
from db import schedule as _schedule  # noqa: F401
from db.cadence import Cadence, CadenceKind, next_occurrences
from db.models import (
    Occurrence,
    OccurrenceStatus,
    Person,
    Ritual,
    RitualMember,
    RitualStatus,
    Side,
    Workspace,
)
from db.people import get_or_create_person


class RitualError(Exception):
    """A user-facing problem with a ritual command; the message is shown as is."""


@dataclass(frozen=True)
class RitualSpec:
    """Everything the setup modal decides about a ritual."""

    channel_id: str
    name: str
    cadence: Cadence
    marketing: tuple[str, ...]
    it: tuple[str, ...]
    themes: tuple[str, ...] = ()
    pulse_enabled: bool = True
    pulse_anonymous: bool = True
    pulse_window_hours: int = 24  # a pulse closes after this, or at the next check-in if sooner
    pulse_comments: bool = False  # its anonymous pulses take anonymous comments
    pairing_weeks: int = 0  # cross-team one-to-one rounds every 1, 2 or 4 weeks; 0 is off
    pairing_trios: bool = False  # uneven sides: trios instead of sitting out
    leads_digest: bool = True  # the monthly digest DMed to the two leads
    written_answers: bool = False  # members answer the check-in's question by DM beforehand
    written_lead_hours: int = 24  # that long before each check-in


def cadence_of(ritual: Ritual) -> Cadence:
    return Cadence(
        kind=CadenceKind(ritual.cadence_kind),
        weekday=ritual.weekday,
        time_of_day=ritual.local_time,
        timezone=ritual.timezone,
        interval_weeks=ritual.interval_weeks,
        week_of_month=ritual.week_of_month,
        anchor=ritual.anchor_date,
    )


def spec_of(ritual: Ritual) -> RitualSpec:
    marketing, it = member_ids(ritual)
    return RitualSpec(
        channel_id=ritual.channel_id,
        name=ritual.name,
        cadence=cadence_of(ritual),
        marketing=marketing,
        it=it,
        themes=tuple(ritual.themes or ()),
        pulse_enabled=ritual.pulse_enabled,
        pulse_anonymous=ritual.pulse_anonymous,
        pulse_window_hours=ritual.pulse_window_hours,
        pulse_comments=ritual.pulse_comments,
        pairing_weeks=ritual.pairing_weeks,
        pairing_trios=ritual.pairing_trios,
        leads_digest=ritual.leads_digest,
        written_answers=ritual.written_answers,
        written_lead_hours=ritual.written_lead_hours,
    )


def member_ids(ritual: Ritual) -> tuple[tuple[str, ...], tuple[str, ...]]:
    marketing = tuple(m.person.slack_user_id for m in ritual.members if m.side is Side.MARKETING)
    it = tuple(m.person.slack_user_id for m in ritual.members if m.side is Side.IT)
    return marketing, it


def ritual_leads(session: Session, ritual_id: int) -> dict[Side, str]:
    """The ritual's two leads: the first person named on each side (the member of that side who
    joined it first). Drift alerts go to them, and they may change any of its commitments."""
    leads: dict[Side, str] = {}
    for side, user_id in session.execute(
        select(RitualMember.side, Person.slack_user_id)
        .join(Person, RitualMember.person_id == Person.id)
        .where(RitualMember.ritual_id == ritual_id, RitualMember.side.in_((Side.MARKETING, Side.IT)))
        .order_by(RitualMember.id)
    ):
        leads.setdefault(side, user_id)
    return leads


def _apply(session: Session, ritual: Ritual, spec: RitualSpec) -> None:
    c = spec.cadence
    ritual.channel_id = spec.channel_id
    ritual.name = spec.name.strip()
    ritual.cadence_kind = c.kind.value
    ritual.weekday = c.weekday
    ritual.local_time = c.time_of_day
    ritual.timezone = c.timezone
    ritual.interval_weeks = c.interval_weeks
    ritual.week_of_month = c.week_of_month
    ritual.anchor_date = c.anchor
    ritual.themes = list(spec.themes)
    ritual.pulse_enabled = spec.pulse_enabled
    ritual.pulse_anonymous = spec.pulse_anonymous
    ritual.pulse_window_hours = spec.pulse_window_hours
    ritual.pulse_comments = spec.pulse_comments
    ritual.pairing_trios = spec.pairing_trios
    ritual.leads_digest = spec.leads_digest
    ritual.written_answers = spec.written_answers
    ritual.written_lead_hours = spec.written_lead_hours
    wanted = {**{u: Side.MARKETING for u in spec.marketing}, **{u: Side.IT for u in spec.it}}
    existing = {m.person.slack_user_id: m for m in ritual.members}
    for user_id, member in existing.items():
        if user_id not in wanted:
            ritual.members.remove(member)
    for user_id, side in wanted.items():
        p = get_or_create_person(session, ritual.workspace_id, user_id)
        # Naming someone on a side of a ritual is how Tandem learns their side.
        p.side = side
        if user_id in existing:
            existing[user_id].side = side
        else:
            ritual.members.append(RitualMember(person=p, side=side))


def check_name_free(session: Session, workspace_id: int, spec: RitualSpec, ritual_id: int | None) -> None:
    """Raise RitualError if another live ritual of the channel has this name (ignoring case)."""
    name = spec.name.strip()
    clash = session.scalars(
        select(Ritual.id)
        .where(
            Ritual.workspace_id == workspace_id,
            Ritual.channel_id == spec.channel_id,
            Ritual.status != RitualStatus.DELETED,
            Ritual.id != (ritual_id or 0),
        )
        # An equality, not ILIKE: `%` and `_` in a name are plain characters, not wildcards.
        .where(func.lower(Ritual.name) == name.lower())
    ).first()
    if clash is not None:
        raise RitualError(f"This channel already has a check-in called “{name}”. Pick another name.")


def create_ritual(
    session: Session, workspace: Workspace, spec: RitualSpec, *, created_by: str, now: dt.datetime
) -> Ritual:
    check_name_free(session, workspace.id, spec, None)
    ritual = Ritual(workspace_id=workspace.id, created_by=created_by, schedule_from=now, created_at=now)
    session.add(ritual)
    _apply(session, ritual, spec)
    _apply_pairing(ritual, spec, now=now)
    session.flush()
    return ritual


def _apply_pairing(ritual: Ritual, spec: RitualSpec, *, now: dt.datetime) -> None:
    # Rounds count from the moment pairing is switched on or its interval changes: the first round
    # starts at the next check-in time after it.
    if spec.pairing_weeks != (ritual.pairing_weeks or 0):
        ritual.pairing_from = now if spec.pairing_weeks else None
    ritual.pairing_weeks = spec.pairing_weeks


def update_ritual(session: Session, ritual: Ritual, spec: RitualSpec, *, now: dt.datetime) -> Ritual:
    check_name_free(session, ritual.workspace_id, spec, ritual.id)
    schedule_changed = cadence_of(ritual) != spec.cadence
    _apply(session, ritual, spec)
    _apply_pairing(ritual, spec, now=now)
    if schedule_changed:
        # A new schedule owes nothing from before the edit.
        ritual.schedule_from = now
    session.flush()
    return ritual


def load_ritual(session: Session, ritual_id: int) -> Ritual | None:
    return session.scalars(
        select(Ritual)
        .where(Ritual.id == ritual_id)
        .options(selectinload(Ritual.members).selectinload(RitualMember.person))
    ).one_or_none()


def load_rituals(session: Session, ritual_ids: Sequence[int]) -> list[tuple[Ritual, str]]:
    """The active rituals of installed workspaces among `ritual_ids`, each with its members and its
    workspace's team id, in three queries however many (the scheduler's batches)."""
    if not ritual_ids:
        return []
    rows = session.execute(
        select(Ritual, Workspace.team_id)
        .join(Workspace, Ritual.workspace_id == Workspace.id)
        .where(
            Ritual.id.in_(list(ritual_ids)),
            Ritual.status == RitualStatus.ACTIVE,
            Workspace.uninstalled_at.is_(None),
        )
        .options(selectinload(Ritual.members).selectinload(RitualMember.person))
        .order_by(Ritual.id)
    )
    return [(ritual, team_id) for ritual, team_id in rows]


def _visible(workspace_id: int) -> Select[Ritual]:
    """The workspace's rituals that are not deleted, with their members, by name."""
    return (
        select(Ritual)
        .where(Ritual.workspace_id == workspace_id, Ritual.status != RitualStatus.DELETED)
        .options(selectinload(Ritual.members).selectinload(RitualMember.person))
        .order_by(Ritual.name, Ritual.id)
    )


def channel_rituals(session: Session, workspace_id: int, channel_id: str) -> list[Ritual]:
    return list(session.scalars(_visible(workspace_id).where(Ritual.channel_id == channel_id)))


def user_rituals(session: Session, workspace_id: int, user_id: str) -> list[Ritual]:
    """Rituals the user created or is a member of."""
    member_of = (
        select(RitualMember.ritual_id)
        .join(Person, RitualMember.person_id == Person.id)
        .where(Person.workspace_id == workspace_id, Person.slack_user_id == user_id)
    )
    return list(
        session.scalars(
            _visible(workspace_id).where((Ritual.created_by == user_id) | Ritual.id.in_(member_of))
        )
    )


def resolve_ritual(
    session: Session, workspace_id: int, *, channel_id: str, user_id: str, name: str, example: str
) -> Ritual:
    """The ritual a command means: by name (this channel's, then the user's, then the workspace's),
    or this channel's only one."""
    here = channel_rituals(session, workspace_id, channel_id)
    if not name:
        if len(here) == 1:
            return here[0]
        if not here:
            raise RitualError(
                f"There is no check-in in this channel. Name one, e.g. `/tandem {example}`, "
                "or see yours with `/tandem list`."
            )
        names = ", ".join(f"“{r.name}”" for r in here)
        raise RitualError(
            f"This channel has {len(here)} check-ins ({names}). Say which: `/tandem {example}`."
        )
    wanted = name.strip().casefold()
    everywhere: list[Ritual] = list(session.scalars(_visible(workspace_id)))
    for pool in (here, user_rituals(session, workspace_id, user_id), everywhere):
        matches = [r for r in pool if r.name.casefold() == wanted]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise RitualError(
                f"Several of your check-ins are called “{name}”: run the command in its channel."
            )
    raise RitualError(
        f"I can't find a check-in called “{name}” here or among yours. See them with `/tandem list`."
    )


def can_manage(ritual: Ritual, user_id: str, *, is_admin: bool) -> bool:
    """The creator, any member, or a workspace admin."""
    if is_admin or ritual.created_by == user_id:
        return True
    return any(m.person.slack_user_id == user_id for m in ritual.members)


def next_time(ritual: Ritual, now: dt.datetime, *, skipped: Sequence[dt.datetime] = ()) -> dt.datetime | None:
    """The next check-in after `now` that is not skipped (None when paused or deleted)."""
    if ritual.status is not RitualStatus.ACTIVE:
        return None
    skipped_set = set(skipped)
    for when in next_occurrences(cadence_of(ritual), max(now, ritual.schedule_from), 60):
        if when not in skipped_set:
            return when
    return None


def skipped_times(session: Session, ritual_id: int, after: dt.datetime) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(Occurrence.scheduled_at).where(
                Occurrence.ritual_id == ritual_id,
                Occurrence.scheduled_at > after,
                Occurrence.status == OccurrenceStatus.SKIPPED,
            )
        )
    )


def pause_ritual(ritual: Ritual, *, reason: str | None) -> None:
    ritual.status = RitualStatus.PAUSED
    ritual.paused_reason = reason


def resume_ritual(ritual: Ritual, *, now: dt.datetime) -> None:
    ritual.status = RitualStatus.ACTIVE
    ritual.paused_reason = None
    # Check-ins that fell in the pause are not owed.
    ritual.schedule_from = now


def delete_ritual(ritual: Ritual) -> None:
    """Hide and unschedule; its occurrences (and later pulses) stay for reports."""
    ritual.status = RitualStatus.DELETED


def skip_occurrence(session: Session, ritual: Ritual, *, on: dt.date | None, now: dt.datetime) -> dt.datetime:
    """Mark the next check-in (or the one on local date `on`) as skipped; returns its time."""
    if ritual.status is not RitualStatus.ACTIVE:
        raise RitualError(f"“{ritual.name}” is paused; there is nothing to skip. Resume it first.")
    cadence = cadence_of(ritual)
    upcoming = next_occurrences(cadence, max(now, ritual.schedule_from), 400)
    taken = {
        o.scheduled_at: o.status
        for o in session.scalars(
            select(Occurrence).where(Occurrence.ritual_id == ritual.id, Occurrence.scheduled_at > now)
        )
    }
    if on is None:
        target = next((t for t in upcoming if t not in taken), None)
        if target is None:
            raise RitualError(f"“{ritual.name}” has no upcoming check-in to skip.")
    else:
        if on < now.astimezone(cadence.zone).date():
            raise RitualError(f"{on.isoformat()} is in the past. Give a date from today on, like 2026-12-24.")
        target = next((t for t in upcoming if t.astimezone(cadence.zone).date() == on), None)
        if target is None:
            raise RitualError(
                f"“{ritual.name}” has no check-in on {on:%a} {on.day} {on:%b %Y}. See the next ones with `/tandem list`."
            )
        if taken.get(target) is OccurrenceStatus.SKIPPED:
            raise RitualError(f"The check-in on {on:%a} {on.day} {on:%b %Y} is already skipped.")
    session.add(
        Occurrence(
            ritual_id=ritual.id,
            scheduled_at=target,
            status=OccurrenceStatus.SKIPPED,
            reason="skipped with /tandem skip",
            channel_id=ritual.channel_id,
            claimed_at=now,
        )
    )
    session.flush()
    return target


def schedulable_rituals(session: Session, ritual_id: int | None = None) -> list[Ritual]:
    """Rituals the scheduler should run: active, in a workspace that is still installed."""
    query = (
        select(Ritual)
        .join(Workspace, Ritual.workspace_id == Workspace.id)
        .where(Ritual.status == RitualStatus.ACTIVE, Workspace.uninstalled_at.is_(None))
    )
    if ritual_id is not None:
        query = query.where(Ritual.id == ritual_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class ChannelRitual:
    """A channel's first schedulable ritual (by creation): what its monthly wins digest needs."""

    workspace_id: int
    channel_id: str
    timezone: str
    created_at: dt.datetime
    name: str


def first_ritual_per_channel(session: Session) -> list[ChannelRitual]:
    """For each channel with a schedulable ritual (active, workspace installed), its earliest-created
    one, picked by the database: one row per channel however many rituals (no ORM objects)."""
    ranked = (
        select(
            Ritual.workspace_id,
            Ritual.channel_id,
            Ritual.timezone,
            Ritual.created_at,
            Ritual.name,
            func.row_number()
            .over(
                partition_by=(Ritual.workspace_id, Ritual.channel_id), order_by=(Ritual.created_at, Ritual.id)
            )
            .label("rank"),
        )
        .join(Workspace, Ritual.workspace_id == Workspace.id)
        .where(Ritual.status == RitualStatus.ACTIVE, Workspace.uninstalled_at.is_(None))
        .subquery()
    )
    rows = session.execute(
        select(
            ranked.c.workspace_id, ranked.c.channel_id, ranked.c.timezone, ranked.c.created_at, ranked.c.name
        )
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.workspace_id, ranked.c.channel_id)
    )
    return [ChannelRitual(*row) for row in rows]


def status_of(session: Session, ritual_id: int) -> RitualStatus | None:
    """The ritual's status (None if it does not exist): one column, no ORM object loaded."""
    return session.scalar(select(Ritual.status).where(Ritual.id == ritual_id))
