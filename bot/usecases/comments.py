"""Anonymous comments on pulses, and "Make this a commitment" from a pulse's results, a drift alert or
a comment.

Comments: the pulse message's "Add a comment" opens a modal (showing the person's comment so far,
found through their voter hash exactly as their own ballot is: `db.comments`); saving it is refused
once the pulse has closed. At close (`bot.usecases.pulses.close_and_report`) the comments go into
the results thread, grouped by side, shuffled, without names, and only for a side that reached the
pulse's minimum of answers (`comment_messages`).

"Make this a commitment": only the ritual's two leads (`db.rituals.ritual_leads`) may; it opens the
usual commitment modal (`bot.usecases.commitments`) prefilled from its source, and the saved
commitment records the source's kind and pulse (checked again when it is saved).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks.comments import (
    SideComments,
    build_comment_messages,
    build_comment_modal,
    comment_commitment_text,
    drift_commitment_text,
    parse_comment_state,
    result_commitment_text,
)
from bot.blocks.commitments import CommitForm, build_commit_modal
from bot.blocks.pulse import build_results
from bot.messenger import PostTag
from bot.services import Services
from bot.usecases.access import Actor, workspace_id_of
from bot.usecases.interactions import open_modal
from db import comments as comment_db
from db import pulses as pulse_db
from db.commitments import SOURCE_COMMENT, SOURCE_DRIFT, SOURCE_RESULT
from db.figures import PulseResults
from db.models import Person, Pulse, Ritual, Side
from db.reports import detect_drift, pulse_points
from db.rituals import ritual_leads

log = logging.getLogger(__name__)

# The Slack metadata event type of the comments posted into a pulse's results thread.
COMMENTS_EVENT = "tandem_pulse_comments"
# A commitment made from a pulse is due this long after the click, unless its lead picks another day.
DEFAULT_DUE_DAYS = 14


class CommentRefusal(StrEnum):
    CLOSED = "closed"  # the pulse has closed: nothing changes
    UNKNOWN = "unknown"  # unknown, another workspace's, or it takes no comments
    ASK_SIDE = "ask_side"  # the writer's side is not known yet
    NOT_SAVED = "not_saved"  # the server key changed since the pulse opened


def _open_pulse_for(
    session: Session, actor: Actor, pulse_id: int, now: dt.datetime
) -> Pulse | CommentRefusal:
    pulse = pulse_db.load_pulse(session, pulse_id, workspace_id=workspace_id_of(session, actor.team_id))
    if pulse is None or not pulse.comments or not pulse.anonymous:
        return CommentRefusal.UNKNOWN
    if pulse.closed_at is not None or now >= pulse.closes_at:
        return CommentRefusal.CLOSED
    return pulse


def open_comment(services: Services, actor: Actor, trigger_id: str, pulse_id: int) -> CommentRefusal | None:
    """ "Add a comment": the modal, with the actor's comment so far; or why not (nothing changes)."""
    with services.database.read() as session:
        pulse = _open_pulse_for(session, actor, pulse_id, services.clock.now())
        if isinstance(pulse, CommentRefusal):
            return pulse
        ritual = session.get(Ritual, pulse.ritual_id)
        assert ritual is not None  # pulses go with their ritual (ON DELETE CASCADE)
        side = session.scalar(
            select(Person.side).where(
                Person.workspace_id == ritual.workspace_id, Person.slack_user_id == actor.user_id
            )
        )
        if side is None:
            return CommentRefusal.ASK_SIDE
        try:
            existing = comment_db.comment_of(session, services.voter_keys, pulse, actor.user_id)
        except pulse_db.PulseError as exc:
            log.error("a comment on pulse %s cannot be found: %s", pulse_id, exc)
            return CommentRefusal.NOT_SAVED
        view = build_comment_modal(pulse.id, ritual.name, existing)
    open_modal(services, actor, trigger_id, view)
    return None


def save_comment(
    services: Services, actor: Actor, pulse_id: int, values: Mapping[str, Any]
) -> dict[str, str] | CommentRefusal:
    """The comment modal's submission, before the ack: errors to show inline (empty: saved), or why
    nothing was stored."""
    text, errors = parse_comment_state(values)
    if errors:
        return errors
    now = services.clock.now()
    with services.database.begin() as session:
        pulse = _open_pulse_for(session, actor, pulse_id, now)
        if isinstance(pulse, CommentRefusal):
            return pulse
        try:
            status = comment_db.save_comment(
                session,
                services.voter_keys,
                pulse,
                team_id=actor.team_id,
                user_id=actor.user_id,
                text=text,
                now=now,
            )
        except pulse_db.PulseError as exc:
            log.error("a comment on pulse %s could not be saved: %s", pulse_id, exc)
            return CommentRefusal.NOT_SAVED
    if status is comment_db.CommentStatus.SAVED:
        return {}
    return {
        comment_db.CommentStatus.CLOSED: CommentRefusal.CLOSED,
        comment_db.CommentStatus.ASK_SIDE: CommentRefusal.ASK_SIDE,
    }.get(status, CommentRefusal.UNKNOWN)


# -- at close ------------------------------------------------------------------------------------------


def comment_messages(
    session: Session, pulse: Pulse, figures: PulseResults, ritual_name: str
) -> list[tuple[str, list[Block]]]:
    """The closed pulse's comments as they go into its results thread (empty when nobody commented):
    a side's only when it reached the minimum of answers that shows its scores."""
    by_side: dict[Side, list[tuple[int, str]]] = {side: [] for side in Side}
    for comment in comment_db.closed_comments(session, pulse.id):
        by_side[comment.side].append((comment.id, comment.text))
    sides = [SideComments(side, figures.participation.get(side, 0), by_side[side]) for side in Side]
    return build_comment_messages(ritual_name, sides, min_answers=figures.min_answers)


def post_comments(
    services: Services,
    team_id: str,
    channel_id: str,
    thread_ts: str | None,
    pulse_id: int,
    messages: list[tuple[str, list[Block]]],
) -> None:
    """Post the comments into the results thread, after the results (each message tagged, so an
    ambiguous post can be found again). Raises DeliveryError like any post."""
    for n, (text, blocks) in enumerate(messages, start=1):
        services.messenger.post(
            team_id,
            channel_id,
            text=text,
            blocks=[b.to_dict() for b in blocks],
            thread_ts=thread_ts,
            tag=PostTag(COMMENTS_EVENT, f"{pulse_id}:{n}"),
        )


def export_rows(
    session: Session, ritual_id: int, *, since: dt.datetime, min_answers: int
) -> list[dict[str, object]]:
    """Comments for the export: by side, never by person, and only a side's whose scores are shown."""
    rows: list[dict[str, object]] = []
    for pulse in session.scalars(
        select(Pulse)
        .where(Pulse.ritual_id == ritual_id, Pulse.closed_at.is_not(None), Pulse.opened_at >= since)
        .order_by(Pulse.opened_at)
    ):
        comments = comment_db.closed_comments(session, pulse.id)
        if not comments:
            continue
        figures = pulse_db.results(session, pulse, min_answers=min_answers, with_previous=False)
        for comment in comments:
            if figures.participation.get(comment.side, 0) >= figures.min_answers:
                rows.append(
                    {
                        "section": "comment",
                        "date": pulse.opened_at.date().isoformat(),
                        "pulse_id": pulse.id,
                        "anonymous": "yes",
                        "side": comment.side.value,
                        "what": comment.text,
                    }
                )
    return rows


# -- "Make this a commitment" --------------------------------------------------------------------------


class CommitFromRefusal(StrEnum):
    NOT_FOUND = "not_found"  # unknown, another workspace's, or not closed yet
    NOT_LEAD = "not_lead"  # only the ritual's two leads may


def _prefill(
    session: Session, services: Services, kind: str, row_id: int, workspace_id: int
) -> tuple[Pulse, str] | None:
    """The source's pulse and the commitment text it suggests; None when it is not the workspace's."""
    if kind == SOURCE_COMMENT:
        found = comment_db.load_comment(session, row_id, workspace_id=workspace_id)
        if found is None:
            return None
        comment, commented = found
        return commented, comment_commitment_text(comment.text)
    pulse = pulse_db.load_pulse(session, row_id, workspace_id=workspace_id)
    if pulse is None or pulse.closed_at is None:
        return None
    ritual = session.get(Ritual, pulse.ritual_id)
    assert ritual is not None
    min_answers = services.pulse_settings.min_answers
    if kind == SOURCE_RESULT:
        figures = pulse_db.results(session, pulse, min_answers=min_answers)
        summary, _ = build_results(figures, ritual_name=ritual.name)
        return pulse, result_commitment_text(ritual.name, summary.partition(": ")[2] or summary)
    assert kind == SOURCE_DRIFT
    points = pulse_points(
        session, ritual.id, until=pulse.closed_at + dt.timedelta(seconds=1), min_answers=min_answers, limit=3
    )
    drift = detect_drift(points)
    return pulse, drift_commitment_text(
        ritual.name, drift.kind == "falling" if drift else None, drift.values if drift else ()
    )


def commit_from(
    services: Services, actor: Actor, trigger_id: str, kind: str, row_id: int
) -> CommitFromRefusal | None:
    """ "Make this a commitment": the commitment modal for the source's ritual, prefilled (text and a
    due date; the two owners are for the lead to pick), remembering the source. Nothing is stored
    until the modal is submitted."""
    now = services.clock.now()
    with services.database.read() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        found = _prefill(session, services, kind, row_id, workspace_id)
        if found is None:
            return CommitFromRefusal.NOT_FOUND
        pulse, what = found
        ritual = session.get(Ritual, pulse.ritual_id)
        assert ritual is not None
        if actor.user_id not in ritual_leads(session, ritual.id).values():
            return CommitFromRefusal.NOT_LEAD
        due = now.astimezone(ZoneInfo(ritual.timezone)).date() + dt.timedelta(days=DEFAULT_DUE_DAYS)
        view = build_commit_modal(
            CommitForm(what=what, due=due), ritual_id=ritual.id, source=(kind, pulse.id)
        )
    open_modal(services, actor, trigger_id, view)
    return None
