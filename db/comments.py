"""Anonymous comments on pulses. Plain values in; nothing here knows Slack.

A comment follows the pulse's anonymity rules exactly as a ballot does (see `db.pulses`): while the
pulse is open it is keyed by the writer's voter hash (`db.pulses.voter_key`: HMAC with the server's
secret key and the pulse's salt), only so its writer can find and edit it; the database alone never
names the writer. At close (`anonymise`, i.e. `db.pulses.anonymise_comments`, called by `db.pulses.close_pulse` in the same unit of work)
the keyed rows are deleted and their texts written back in a random order without any voter, so that
neither a hash, a row id nor an insertion order ties a text to its writer; what the deleted rows
leave below the SQL is erased with the other anonymity tables (`db.session.ANONYMITY_TABLES`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import upsert
from db.models import Person, Pulse, PulseComment, Ritual, Side, Workspace
from db.pulses import PulseError, VoterKeys, voter_key
from db.pulses import anonymise_comments as anonymise

__all__ = [
    "MAX_COMMENT_CHARS",
    "ClosedComment",
    "CommentStatus",
    "anonymise",
    "closed_comments",
    "comment_of",
    "load_comment",
    "save_comment",
]

# The column's limit is larger (1000), so a later, longer limit needs no migration.
MAX_COMMENT_CHARS = 500


class CommentStatus(StrEnum):
    SAVED = "saved"
    CLOSED = "closed"  # the pulse had closed: nothing is stored
    UNKNOWN = "unknown"  # no such pulse in the writer's workspace, or it takes no comments
    ASK_SIDE = "ask_side"  # the writer's side is not known yet: nothing is stored


@dataclass(frozen=True)
class ClosedComment:
    """A closed pulse's comment: its text and its writer's side, nothing else."""

    id: int
    side: Side
    text: str


def _writer(session: Session, pulse: Pulse, team_id: str, user_id: str) -> tuple[Side | None, int] | None:
    """The writer's side (None: not known yet) and workspace, if the pulse is one of `team_id`'s."""
    row = session.execute(
        select(Workspace.id)
        .join(Ritual, Ritual.workspace_id == Workspace.id)
        .where(Ritual.id == pulse.ritual_id, Workspace.team_id == team_id)
    ).first()
    if row is None:
        return None
    side = session.scalar(
        select(Person.side).where(Person.workspace_id == row[0], Person.slack_user_id == user_id)
    )
    return side, row[0]


def comment_of(session: Session, keys: VoterKeys, pulse: Pulse, user_id: str) -> str | None:
    """The text `user_id` wrote on the open `pulse` (to show it again in the modal); None if none.

    Found through the voter hash, as a person's own ballot is; a closed pulse names nobody (None).
    """
    if pulse.closed_at is not None or not pulse.comments:
        return None
    voter = voter_key(keys, pulse, user_id)
    return session.scalar(
        select(PulseComment.text).where(PulseComment.pulse_id == pulse.id, PulseComment.voter == voter)
    )


def save_comment(
    session: Session,
    keys: VoterKeys,
    pulse: Pulse,
    *,
    team_id: str,
    user_id: str,
    text: str,
    now: dt.datetime,
) -> CommentStatus:
    """Store (or replace) `user_id`'s comment on the open `pulse` of `team_id`'s workspace.

    The caller validated the text (`MAX_COMMENT_CHARS`, not blank). Raises `PulseError` when the
    server key changed since the pulse opened (nothing is stored then, as for an answer).
    """
    if not pulse.comments or not pulse.anonymous:
        return CommentStatus.UNKNOWN
    writer = _writer(session, pulse, team_id, user_id)
    if writer is None:
        return CommentStatus.UNKNOWN
    dialect = session.get_bind().dialect.name
    # PostgreSQL: FOR SHARE of the pulse row, as a click takes it (db.pulses.record_answer), so a
    # close in flight (an UPDATE of that row) is waited for and no keyed comment lands after it.
    # SQLite needs nothing: this unit of work holds the write lock from BEGIN IMMEDIATE.
    closed_at = select(Pulse.closed_at).where(Pulse.id == pulse.id)
    if dialect == "postgresql":
        closed_at = closed_at.with_for_update(read=True)
    if session.scalar(closed_at) is not None or pulse.closed_at is not None or now >= pulse.closes_at:
        return CommentStatus.CLOSED
    side, _ = writer
    if side is None:
        return CommentStatus.ASK_SIDE
    if len(text) > MAX_COMMENT_CHARS or not text.strip():
        raise PulseError("a comment is validated before it is saved")
    voter = voter_key(keys, pulse, user_id)
    stmt = upsert(dialect, PulseComment).values(pulse_id=pulse.id, voter=voter, side=side, text=text)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["pulse_id", "voter"],
            set_={"text": stmt.excluded.text, "side": stmt.excluded.side},
        )
    )
    return CommentStatus.SAVED


def closed_comments(session: Session, pulse_id: int) -> list[ClosedComment]:
    """A closed pulse's comments, in their shuffled order (empty for an open pulse: nothing is shown
    while it is open)."""
    return [
        ClosedComment(comment_id, side, text)
        for comment_id, side, text in session.execute(
            select(PulseComment.id, PulseComment.side, PulseComment.text)
            .join(Pulse, Pulse.id == PulseComment.pulse_id)
            .where(
                PulseComment.pulse_id == pulse_id,
                PulseComment.voter.is_(None),
                Pulse.closed_at.is_not(None),
            )
            .order_by(PulseComment.id)
        )
    ]


def load_comment(
    session: Session, comment_id: int, *, workspace_id: int
) -> tuple[ClosedComment, Pulse] | None:
    """A closed pulse's comment and its pulse, if the pulse is in the workspace `workspace_id`: another
    workspace's is not found, exactly like an unknown id."""
    row = session.execute(
        select(PulseComment.id, PulseComment.side, PulseComment.text, Pulse)
        .join(Pulse, Pulse.id == PulseComment.pulse_id)
        .join(Ritual, Ritual.id == Pulse.ritual_id)
        .where(
            PulseComment.id == comment_id,
            PulseComment.voter.is_(None),
            Pulse.closed_at.is_not(None),
            Ritual.workspace_id == workspace_id,
        )
    ).first()
    if row is None:
        return None
    comment_id, side, text, pulse = row
    return ClosedComment(comment_id, side, text), pulse
