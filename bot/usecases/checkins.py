"""Check-ins: claim each occurrence once, pick its prompt, build the message, post it, record how it ended.

`prepare_due`, `prepare_now` and `record_unprepared` run in the caller's unit of work and only touch
the database (the scheduler's preparer opens one per ritual, `/tandem now` one per command);
`deliver` posts through the messenger and records the outcome in units of work of its own, so a slow
or failing Slack never holds a database transaction open. A post that Slack refuses because the
channel (or the token) is unusable pauses the channel's rituals, as any other post does
(`bot.usecases.refusals`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.blocks.checkin import (
    MISSED_REASON,
    CheckinContent,
    MissedCheckin,
    PulseFocus,
    build_checkin,
    focus_lines,
    last_pulse_section,
    stopped_reason,
    unexpected_failure_reason,
    wins_section,
)
from bot.blocks.pulse import pulse_agenda_lines
from bot.blocks.report import theme_label
from bot.blocks.wins import win_agenda_lines
from bot.messenger import DeliveryError
from bot.usecases.commitments import commitment_view
from bot.usecases.refusals import Pausing, pause_after_refusal
from bot.usecases.wins import win_view
from db import occurrences
from db import pulses as pulse_db
from db.cadence import occurrences_between
from db.commitments import open_for_ritual
from db.models import OccurrenceStatus, Ritual, RitualStatus, Side, Workspace
from db.prompt_library import BUILTIN_PROMPTS, Prompt, Theme, choose_next_prompt
from db.prompts import workspace_prompts
from db.reports import PulsePoint, pulse_points, weak_spot
from db.rituals import cadence_of, load_ritual, member_ids
from db.session import Database
from db.wins import wins_between

log = logging.getLogger(__name__)

# How far back a restart looks for check-ins it owes; older ones are simply gone.
MAX_LOOKBACK = dt.timedelta(days=35)
# How far back the pulses that steer a check-in's prompt reach.
PULSE_LOOKBACK = dt.timedelta(weeks=12)


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


# -- building one check-in ----------------------------------------------------------------------------


def candidate_prompts(session: Session, ritual: Ritual) -> list[Prompt | WorkspacePrompt]:
    """The library's prompts and the workspace's own, of the themes this ritual discusses."""
    themes = set(ritual.themes or [t.value for t in Theme])
    candidates: list[Prompt | WorkspacePrompt] = [p for p in BUILTIN_PROMPTS if p.theme.value in themes]
    candidates += [
        WorkspacePrompt(c.key, c.theme, c.text)
        for c in workspace_prompts(session, ritual.workspace_id)
        if c.theme in themes
    ]
    return candidates


def _pulse_focus(point: PulsePoint | None) -> PulseFocus | None:
    if point is None:
        return None
    return PulseFocus(
        marketing_view=point.partner[Side.MARKETING].average,
        it_view=point.partner[Side.IT].average,
        level=point.level_all.average,
        gap=point.gap,
    )


def _last_pulse_lines(session: Session, ritual_id: int, *, min_answers: int) -> tuple[str, ...]:
    latest = pulse_db.last_closed_pulse(session, ritual_id)
    if latest is None:
        return ()
    return pulse_agenda_lines(pulse_db.results(session, latest, min_answers=min_answers, with_previous=False))


def _win_lines(session: Session, ritual: Ritual, *, until: dt.datetime) -> tuple[str, ...]:
    """Wins celebrated since the ritual's previous posted check-in (or its creation)."""
    wins = wins_between(
        session,
        ritual.workspace_id,
        start=occurrences.last_posted_at(session, ritual.id) or ritual.created_at,
        end=until + dt.timedelta(seconds=1),
        channel_id=ritual.channel_id,
        ritual_id=ritual.id,
    )
    zone = cadence_of(ritual).zone
    return win_agenda_lines([win_view(w, zone) for w in wins])


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
    spot = weak_spot(points, theme_label=theme_label, now=scheduled_at)
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
    local_day = scheduled_at.astimezone(zone).date()
    commitments = tuple(commitment_view(c, today=local_day) for c in open_for_ritual(session, ritual.id))
    content = CheckinContent(
        ritual_name=ritual.name,
        local_date=local_day,
        timezone=ritual.timezone,
        prompt_text=prompt.text,
        prompt_theme_label=theme_label(str(prompt.theme)),
        prompt_why=prompt.practice,
        missed=tuple(
            MissedCheckin(
                m.scheduled_at.astimezone(zone).date(),
                failed=m.status is OccurrenceStatus.FAILED,
                reason=m.reason,
            )
            for m in missed
        ),
        marketing=marketing,  # each side's lead first (db.rituals.ritual_leads)
        it=it,
        notify_members=ritual.notify_members,
        agenda_items=tuple(
            section
            for section in (
                last_pulse_section(_last_pulse_lines(session, ritual.id, min_answers=min_answers)),
                wins_section(_win_lines(session, ritual, until=scheduled_at)),
            )
            if section
        ),
        commitments=commitments,
        ritual_id=ritual.id,
        focus=focus_lines(_pulse_focus(points[-1] if points else None), commitments, local_day),
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


# -- claiming -------------------------------------------------------------------------------------


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
) -> PreparedCheckin | None:
    """`/tandem now`: an occurrence at this second, counted like any other; None if one was claimed
    at this very second already (a double click)."""
    when = now.replace(microsecond=0)
    occurrence_id = occurrences.claim(
        session, ritual.id, when, now=now, channel_id=ritual.channel_id, manual=True
    )
    if occurrence_id is None:
        return None
    return build_for(session, ritual, occurrence_id, when, team_id, min_answers=min_answers)


# -- posting --------------------------------------------------------------------------------------


def deliver(
    services: Pausing,
    checkin: PreparedCheckin,
    *,
    clock: Callable[[], dt.datetime],
    answered: Callable[[], None] = lambda: None,
    nothing_sent: Callable[[], None] = lambda: None,
) -> str | None:
    """Post one prepared check-in and record the outcome; its message ts if it was posted, else None.

    `answered` is called as soon as Slack answered (or the post failed), `nothing_sent` when the
    check-in was not sent at all: the channel's pacing counts from them (jobs/poster.py).
    """
    database = services.database
    # It may have waited in its channel's queue: a ritual paused or deleted meanwhile posts nothing.
    with database.read() as session:
        ritual = session.get(Ritual, checkin.ritual_id)
        stopped = ritual is None or ritual.status is not RitualStatus.ACTIVE
        status = "deleted" if ritual is None else ritual.status.value
    if stopped:
        with database.begin() as session:
            occurrences.mark_skipped(session, checkin.occurrence_id, reason=stopped_reason(status))
        log.info("check-in %s not posted: its ritual is %s", checkin.occurrence_id, status)
        nothing_sent()
        return None
    try:
        ts = services.messenger.post(
            checkin.team_id, checkin.channel_id, text=checkin.text, blocks=checkin.blocks
        )
    except DeliveryError as exc:
        answered()
        _record_failure(database, checkin, exc.reason)
        # A channel (or token) that no longer works pauses the channel's rituals and tells their creators.
        pause_after_refusal(services, checkin.team_id, checkin.channel_id, exc)
        return None
    except Exception as exc:  # never let one check-in stop the scheduler
        answered()
        log.exception("posting check-in %s failed unexpectedly", checkin.occurrence_id)
        _record_failure(database, checkin, unexpected_failure_reason(type(exc).__name__))
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


def _record_failure(database: Database, checkin: PreparedCheckin, reason: str) -> None:
    log.warning("check-in %s of ritual %s failed: %s", checkin.occurrence_id, checkin.ritual_id, reason)
    with database.begin() as session:
        occurrences.mark_failed(session, checkin.occurrence_id, reason=reason)


def release_unsent(database: Database, checkins: Sequence[PreparedCheckin]) -> None:
    """Give back claims that were never posted, so a restart posts them within the grace window."""
    with database.begin() as session:
        for checkin in checkins:
            occurrences.release(session, checkin.occurrence_id)
