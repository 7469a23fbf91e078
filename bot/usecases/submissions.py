"""Modal submissions take effect once: Slack's retries, a double click, or a replay of the signed
request within its five minutes carry the same view id and hash, and must not create a second win,
commitment or ritual."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from db.submissions import first_time, seen


@dataclass(frozen=True)
class Submission:
    """Which submission of which modal this is (the view's id and hash, as Slack sent them)."""

    view_id: str
    view_hash: str


@dataclass(frozen=True)
class AlreadySaved:
    """The outcome of a submission seen before: nothing more is done (the first one did it)."""


def seen_already(session: Session, submission: Submission) -> bool:
    """A read-only look, for use cases that check things before they save (and would refuse a replay
    for what the first submission did, such as taking a name): `seen_before` still decides."""
    if not submission.view_id or not submission.view_hash:
        return False
    return seen(session, view_id=submission.view_id, view_hash=submission.view_hash)


def seen_before(session: Session, workspace_id: int, submission: Submission, *, now: dt.datetime) -> bool:
    """True if this submission was acted on already; otherwise records it, in the caller's unit of work
    (the one that creates the object, so both commit or neither does)."""
    if not submission.view_id or not submission.view_hash:
        return False  # nothing to tell submissions apart by: act on it (Slack always sends both)
    return not first_time(
        session,
        workspace_id=workspace_id,
        view_id=submission.view_id,
        view_hash=submission.view_hash,
        now=now,
    )
