"""Posting check-ins: claim each occurrence once, pick its prompt, post it, record how it ended.

`prepare_due` runs in the caller's unit of work and only touches the database; `deliver` talks to
Slack through a `Messenger` and records the outcome in a unit of work of its own, so a slow or
failing Slack never holds a database transaction open.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.blocks.checkin import AgendaSection, CheckinContent, MissedCheckin, build_checkin
from bot.blocks.pulse import pulse_agenda_lines
from bot.blocks.rituals import build_paused_dm
from bot.blocks.wins import win_agenda_lines
from bot.messenger import DeliveryError, Messenger
from bot.summaries import commitment_view, win_view
from db import occurrences
from db import pulses as pulse_db
from db.cadence import occurrences_between
from db.commitments import open_for_ritual
from db.models import (
    Commitment,
    CustomPrompt,
    Occurrence,
    OccurrenceStatus,
    Pulse,
    Ritual,
    RitualStatus,
    Side,
    Workspace,
)
from db.prompt_library import BUILTIN_PROMPTS, Prompt, Theme, choose_next_prompt
from db.reports import PulsePoint, pulse_points, weak_spot
from db.rituals import cadence_of, load_ritual, member_ids, pause_ritual
from db.session import Database
from db.wins import wins_between

log = logging.getLogger(__name__)

# How far back a restart looks for check-ins it owes; older ones are simply gone.
MAX_LOOKBACK = dt.timedelta(days=35)
MISSED_REASON = "Tandem was not running at the time"


@dataclass(frozen=True)
class WorkspacePrompt:
    """A workspace's own prompt, shaped like a library prompt for rotation."""

    key: str
    theme: str
    text: str
    practice: str = "Your team added this prompt to Tandem's library."


@dataclass(frozen=True)
class PreparedCheckin:
    """A claimed occurrence with its message built, ready to post."""

    occurrence_id: int
    ritual_id: int
    team_id: str
    channel_id: str
    created_by: str
    ritual_name: str
    prompt_key: str
    text: str
    blocks: list[dict[str, Any]] = field(repr=False)
    prompt_theme: str | None = None  # the pulse that follows reads its partner scores as this theme's


def candidate_prompts(session: Session, ritual: Ritual) -> list[Prompt | WorkspacePrompt]:
    themes = set(ritual.themes or [t.value for t in Theme])
    custom = session.scalars(
        select(CustomPrompt).where(
            CustomPrompt.workspace_id == ritual.workspace_id,
            CustomPrompt.removed_at.is_(None),
            CustomPrompt.theme.in_(themes),
        )
    )
    candidates: list[Prompt | WorkspacePrompt] = [p for p in BUILTIN_PROMPTS if p.theme.value in themes]
    candidates += [WorkspacePrompt(c.key, c.theme, c.text) for c in custom]
    return candidates


def _theme_label(slug: str) -> str:
    try:
        return Theme(slug).label
    except ValueError:
        return slug


def last_pulse_section(session: Session, ritual_id: int, *, min_answers: int) -> AgendaSection | None:
    latest = session.scalars(
        select(Pulse)
        .where(Pulse.ritual_id == ritual_id, Pulse.closed_at.is_not(None))
        .order_by(Pulse.opened_at.desc())
        .limit(1)
    ).one_or_none()
    if latest is None:
        return None
    lines = pulse_agenda_lines(
        pulse_db.results(session, latest, min_answers=min_answers, with_previous=False)
    )
    return AgendaSection("Last pulse", lines) if lines else None


def wins_section(session: Session, ritual: Ritual, *, until: dt.datetime) -> AgendaSection | None:
    """Wins celebrated since the ritual's previous posted check-in (or its creation)."""
    previous = session.scalar(
        select(func.max(Occurrence.posted_at)).where(
            Occurrence.ritual_id == ritual.id, Occurrence.status == OccurrenceStatus.POSTED
        )
    )
    wins = wins_between(
        session,
        ritual.workspace_id,
        start=previous or ritual.created_at,
        end=until + dt.timedelta(seconds=1),
        channel_id=ritual.channel_id,
        ritual_id=ritual.id,
    )
    zone = cadence_of(ritual).zone
    lines = win_agenda_lines([win_view(w, zone) for w in wins])
    return AgendaSection("Wins since the last check-in", lines, mrkdwn=True) if lines else None


# How far back the pulses that steer a check-in's prompt reach.
PULSE_LOOKBACK = dt.timedelta(weeks=12)


def focus_lines(last: PulsePoint | None, commitments: Sequence[Commitment], day: dt.date) -> tuple[str, ...]:
    """The opening of a check-in: the weakest item of the last pulse and the commitments now due."""
    lines: list[str] = []
    if last is not None:
        shown = [
            (f, label)
            for f, label in (
                (last.partner[Side.MARKETING].average, "marketing's view of IT"),
                (last.partner[Side.IT].average, "IT's view of marketing"),
                (last.level_all.average, "collaboration at the right level"),
            )
            if f is not None
        ]
        if last.gap is not None and abs(last.gap) >= WIDE_GAP:
            lines.append(
                f"Widest gap in the last pulse: {abs(last.gap):.1f} points between marketing's view of IT "
                f"({last.partner[Side.MARKETING].average:.1f}) and IT's view of marketing "
                f"({last.partner[Side.IT].average:.1f})."
            )
        elif shown:
            score, label = min(shown)
            lines.append(f"Lowest in the last pulse: {label}, {score:.1f}/5.")
    due = [c for c in commitments if c.due_date <= day]
    for c in due[:3]:
        when = "overdue since" if c.due_date < day else "due"
        lines.append(f"Commitment {when} {c.due_date:%a %-d %b}: {c.what}")
    if len(due) > 3:
        lines.append(f"…and {len(due) - 3} more commitments due")
    return tuple(lines)


# A gap this wide (in points on the 1–5 scale) leads the agenda instead of the lowest score.
WIDE_GAP = 1.0


def build_for(
    session: Session,
    ritual: Ritual,
    occurrence_id: int,
    scheduled_at: dt.datetime,
    team_id: str,
    *,
    min_answers: int = pulse_db.MIN_ANSWERS_FLOOR,
) -> PreparedCheckin:
    """Choose the prompt and build the check-in message.

    The prompt aims at the weakest spot of the recent pulses (the theme that scored lowest or
    showed the widest gap) while the rotation rule still holds: a preferred theme only picks among
    prompts not yet used in the current cycle, so no prompt repeats and no theme is starved.
    """
    candidates = candidate_prompts(session, ritual)
    points = pulse_points(session, ritual.id, since=scheduled_at - PULSE_LOOKBACK, min_answers=min_answers)
    spot = weak_spot(points, theme_label=_theme_label, now=scheduled_at)
    if spot is not None and spot.theme not in {str(p.theme) for p in candidates}:
        spot = None  # a theme this ritual does not discuss
    prompt = choose_next_prompt(
        candidates,
        occurrences.prompt_history(session, ritual.id),
        rng_seed=ritual.id,
        preferred_themes=[spot.theme] if spot else None,
    )
    missed = occurrences.take_unreported_missed(session, ritual.id)
    zone = cadence_of(ritual).zone
    marketing, it = member_ids(ritual)
    open_commitments = open_for_ritual(session, ritual.id)
    local_day = scheduled_at.astimezone(zone).date()
    content = CheckinContent(
        ritual_name=ritual.name,
        local_date=scheduled_at.astimezone(zone).date(),
        timezone=ritual.timezone,
        prompt_text=prompt.text,
        prompt_theme_label=_theme_label(str(prompt.theme)),
        prompt_why=prompt.practice,
        missed=tuple(
            MissedCheckin(
                m.scheduled_at.astimezone(zone).date(),
                failed=m.status is OccurrenceStatus.FAILED,
                reason=m.reason,
            )
            for m in missed
        ),
        marketing=marketing,
        it=it,
        agenda_items=tuple(
            section
            for section in (
                last_pulse_section(session, ritual.id, min_answers=min_answers),
                wins_section(session, ritual, until=scheduled_at),
            )
            if section
        ),
        commitments=tuple(commitment_view(c, today=local_day) for c in open_commitments),
        ritual_id=ritual.id,
        focus=focus_lines(points[-1] if points else None, open_commitments, local_day),
        chosen_because=spot.reason if spot and str(prompt.theme) == spot.theme else None,
    )
    text, blocks = build_checkin(content)
    # The prompt is recorded at claim time so that two check-ins never draw the same one.
    occurrences.set_prompt(session, occurrence_id, prompt.key)
    return PreparedCheckin(
        occurrence_id=occurrence_id,
        ritual_id=ritual.id,
        team_id=team_id,
        channel_id=ritual.channel_id,
        created_by=ritual.created_by,
        ritual_name=ritual.name,
        prompt_key=prompt.key,
        prompt_theme=str(prompt.theme),
        text=text,
        blocks=[b.to_dict() for b in blocks],
    )


def owed_times(session: Session, ritual: Ritual, *, now: dt.datetime) -> list[dt.datetime]:
    """The ritual's scheduled times up to `now` that have no occurrence row yet (oldest first)."""
    since = max(ritual.schedule_from, now - MAX_LOOKBACK)
    owed = occurrences_between(cadence_of(ritual), since, now)
    if not owed:
        return []
    known = occurrences.known_times(session, ritual.id, since)
    return [when for when in owed if when not in known]


def prepare_due(
    session: Session,
    ritual_id: int,
    *,
    now: dt.datetime,
    grace: dt.timedelta,
    min_answers: int = pulse_db.MIN_ANSWERS_FLOOR,
) -> list[PreparedCheckin]:
    """Claim what this ritual owes at `now`: post what is within the grace window, record the rest as missed."""
    ritual = load_ritual(session, ritual_id)
    if ritual is None or ritual.status is not RitualStatus.ACTIVE:
        return []
    workspace = session.get(Workspace, ritual.workspace_id)
    if workspace is None or not workspace.active:
        return []
    prepared: list[PreparedCheckin] = []
    for when in owed_times(session, ritual, now=now):
        if now - when > grace:
            occurrences.claim(
                session,
                ritual.id,
                when,
                now=now,
                status=OccurrenceStatus.MISSED,
                channel_id=ritual.channel_id,
                reason=MISSED_REASON,
            )
            continue
        occurrence_id = occurrences.claim(session, ritual.id, when, now=now, channel_id=ritual.channel_id)
        if occurrence_id is not None:
            prepared.append(
                build_for(session, ritual, occurrence_id, when, workspace.team_id, min_answers=min_answers)
            )
    return prepared


def record_unprepared(
    session: Session, ritual_id: int, *, now: dt.datetime, grace: dt.timedelta, reason: str
) -> int:
    """Preparing the ritual's due check-ins failed: record each as failed (or missed, past the grace
    window) with the reason, so none is silently lost and the next check-in mentions them.

    Returns how many were recorded. Runs in a unit of work of its own, after the failed one rolled back.
    """
    ritual = session.get(Ritual, ritual_id)
    if ritual is None or ritual.status is not RitualStatus.ACTIVE:
        return 0
    recorded = 0
    for when in owed_times(session, ritual, now=now):
        late = now - when > grace
        claimed = occurrences.claim(
            session,
            ritual.id,
            when,
            now=now,
            status=OccurrenceStatus.MISSED if late else OccurrenceStatus.FAILED,
            channel_id=ritual.channel_id,
            reason=MISSED_REASON if late else reason,
        )
        recorded += claimed is not None
    return recorded


def prepare_now(
    session: Session,
    ritual: Ritual,
    *,
    now: dt.datetime,
    team_id: str,
    min_answers: int = pulse_db.MIN_ANSWERS_FLOOR,
) -> PreparedCheckin:
    """`/tandem now`: an occurrence at this second, counted like any other."""
    when = now.replace(microsecond=0)
    occurrence_id = occurrences.claim(
        session, ritual.id, when, now=now, channel_id=ritual.channel_id, manual=True
    )
    if occurrence_id is None:
        raise DeliveryError("A check-in was just posted for this ritual; try again in a second.")
    return build_for(session, ritual, occurrence_id, when, team_id, min_answers=min_answers)


def deliver(
    database: Database,
    messenger: Messenger,
    checkin: PreparedCheckin,
    *,
    clock: Callable[[], dt.datetime],
    on_paused: Callable[[str], None] = lambda team_id: None,
    answered: Callable[[], None] = lambda: None,
    nothing_sent: Callable[[], None] = lambda: None,
) -> str | None:
    """Post one prepared check-in and record the outcome; its message ts if it was posted, else None.

    `answered` is called as soon as Slack answered (or the post failed), `nothing_sent` when the
    check-in was not sent at all: the channel's pacing counts from them (jobs/poster.py).
    """
    # It may have waited in its channel's queue: a ritual paused or deleted meanwhile posts nothing.
    with database.read() as session:
        ritual = session.get(Ritual, checkin.ritual_id)
        stopped = ritual is None or ritual.status is not RitualStatus.ACTIVE
        status = "deleted" if ritual is None else ritual.status.value
    if stopped:
        with database.begin() as session:
            occurrences.mark_skipped(
                session, checkin.occurrence_id, reason=f"its ritual was {status} before it could be posted"
            )
        log.info("check-in %s not posted: its ritual is %s", checkin.occurrence_id, status)
        nothing_sent()
        return None
    try:
        ts = messenger.post(checkin.team_id, checkin.channel_id, text=checkin.text, blocks=checkin.blocks)
    except DeliveryError as exc:
        answered()
        _record_failure(database, messenger, checkin, exc, clock())
        if exc.pause:
            on_paused(checkin.team_id)
        return None
    except Exception as exc:  # never let one check-in stop the scheduler
        answered()
        log.exception("posting check-in %s failed unexpectedly", checkin.occurrence_id)
        _record_failure(
            database, messenger, checkin, DeliveryError(f"unexpected error: {type(exc).__name__}"), clock()
        )
        return None
    answered()
    with database.begin() as session:
        occurrences.mark_posted(
            session,
            checkin.occurrence_id,
            channel_id=checkin.channel_id,
            ts=ts,
            prompt_key=checkin.prompt_key,
            now=clock(),
        )
    return ts


def _record_failure(
    database: Database, messenger: Messenger, checkin: PreparedCheckin, exc: DeliveryError, now: dt.datetime
) -> None:
    log.warning("check-in %s of ritual %s failed: %s", checkin.occurrence_id, checkin.ritual_id, exc.reason)
    with database.begin() as session:
        occurrences.mark_failed(session, checkin.occurrence_id, reason=exc.reason)
        if exc.pause:
            ritual = session.get(Ritual, checkin.ritual_id)
            if ritual is not None and ritual.status is RitualStatus.ACTIVE:
                pause_ritual(ritual, reason=exc.reason)
    if exc.pause and not exc.workspace_gone:
        text, blocks = build_paused_dm(checkin.ritual_name, checkin.channel_id, exc.reason)
        try:
            messenger.dm(checkin.team_id, checkin.created_by, text=text, blocks=[b.to_dict() for b in blocks])
        except DeliveryError as dm_error:
            log.warning("could not tell %s that a ritual paused: %s", checkin.created_by, dm_error.reason)


def release_unsent(database: Database, checkins: Sequence[PreparedCheckin]) -> None:
    """Give back claims that were never posted, so a restart posts them within the grace window."""
    with database.begin() as session:
        for checkin in checkins:
            occurrences.release(session, checkin.occurrence_id)
