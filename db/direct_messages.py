"""Held direct messages: the durable queue of DMs waiting for their recipient's working hours.

Queries only; when a DM may go out is `db.working_hours`, and what is sent and how is
`bot.usecases.direct_messages`. Each row is claimed (status `sending`) in a unit of work before
Slack is called, so two schedulers, or a run and a restart, never send one twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from db.base import upsert
from db.models import HeldDm, HeldDmStatus, Workspace
from db.working_hours import DEFAULT, WorkingHours

# A claim older than this belongs to a sender that stopped mid-send: Slack may or may not have
# the message, and sending it again could say it twice, so it is recorded as failed instead.
STALE_CLAIM = dt.timedelta(minutes=15)


def working_hours_of(workspace: Workspace) -> WorkingHours:
    """The workspace's working hours (`/tandem hours`), or the default when never set."""
    if workspace.work_start is None or workspace.work_end is None or not workspace.work_days:
        return DEFAULT
    return WorkingHours(
        start=workspace.work_start,
        end=workspace.work_end,
        weekdays=frozenset(int(d) for d in workspace.work_days),
    )


def set_working_hours(workspace: Workspace, hours: WorkingHours) -> None:
    workspace.work_start = hours.start
    workspace.work_end = hours.end
    workspace.work_days = "".join(str(d) for d in sorted(hours.weekdays))


@dataclass(frozen=True)
class HeldFile:
    content: bytes
    filename: str
    title: str
    alt_text: str


def hold(
    session: Session,
    workspace_id: int,
    user_id: str,
    *,
    kind: str,
    key: str,
    text: str,
    blocks: list[dict[str, Any]],
    file: HeldFile | None,
    not_before: dt.datetime,
    deadline: dt.datetime | None,
    status: HeldDmStatus,
    now: dt.datetime,
    reason: str | None = None,
) -> int | None:
    """Insert one DM under its unique (workspace, key); its id, or None when that key was already
    held (asked for before: nothing new to send)."""
    return session.execute(
        upsert(session.get_bind().dialect.name, HeldDm)
        .values(
            workspace_id=workspace_id,
            user_id=user_id,
            kind=kind,
            key=key,
            text=text,
            blocks=blocks,
            file_content=file.content if file else None,
            file_name=file.filename if file else None,
            file_title=file.title if file else None,
            file_alt_text=file.alt_text if file else None,
            not_before=not_before,
            deadline=deadline,
            status=status,
            reason=reason,
            created_at=now,
            claimed_at=now if status is HeldDmStatus.SENDING else None,
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "key"])
        .returning(HeldDm.id)
    ).scalar_one_or_none()


def due_ids(session: Session, *, now: dt.datetime, limit: int = 500) -> list[int]:
    """Pending DMs whose time has come, oldest first."""
    return list(
        session.scalars(
            select(HeldDm.id)
            .where(HeldDm.status == HeldDmStatus.PENDING, HeldDm.not_before <= now)
            .order_by(HeldDm.not_before, HeldDm.id)
            .limit(limit)
        )
    )


def claim(session: Session, held_id: int, *, now: dt.datetime) -> HeldDm | None:
    """Take one pending DM for sending; None when another sender took it first."""
    # An UPDATE's result is a CursorResult (with the row count); Session.execute says only Result.
    taken = _count(
        session.execute(
            update(HeldDm)
            .where(HeldDm.id == held_id, HeldDm.status == HeldDmStatus.PENDING)
            .values(status=HeldDmStatus.SENDING, claimed_at=now)
        )
    )
    return session.get(HeldDm, held_id) if taken else None


def postpone(session: Session, held_id: int, *, not_before: dt.datetime) -> None:
    """Give a claimed DM back, to go out at `not_before` (its recipient's next working start)."""
    session.execute(
        update(HeldDm)
        .where(HeldDm.id == held_id)
        .values(status=HeldDmStatus.PENDING, not_before=not_before, claimed_at=None)
    )


def finish(
    session: Session, held_id: int, status: HeldDmStatus, *, now: dt.datetime, reason: str | None = None
) -> None:
    session.execute(
        update(HeldDm)
        .where(HeldDm.id == held_id)
        .values(status=status, reason=reason, sent_at=now if status is HeldDmStatus.SENT else None)
    )


def fail_stale_claims(session: Session, *, now: dt.datetime) -> int:
    """Claims left by a sender that stopped mid-send are recorded as failed (never sent twice)."""
    return _count(
        session.execute(
            update(HeldDm)
            .where(HeldDm.status == HeldDmStatus.SENDING, HeldDm.claimed_at < now - STALE_CLAIM)
            .values(status=HeldDmStatus.FAILED, reason="interrupted while sending")
        )
    )


def forget(session: Session, held_id: int) -> None:
    session.execute(delete(HeldDm).where(HeldDm.id == held_id))


def forget_recipient(session: Session, workspace_id: int, user_id: str) -> int:
    """Delete every DM held for (or sent to) a person who asked Tandem to forget them."""
    return _count(
        session.execute(delete(HeldDm).where(HeldDm.workspace_id == workspace_id, HeldDm.user_id == user_id))
    )


def forget_prefixed(session: Session, key_prefix: str) -> int:
    """Delete every held DM whose key starts with `key_prefix`, whatever its status (a closed
    anonymous pulse keeps nothing that says who had not answered it)."""
    return _count(session.execute(delete(HeldDm).where(HeldDm.key.startswith(key_prefix, autoescape=True))))


def _count(result: object) -> int:
    return cast("CursorResult[Any]", result).rowcount or 0
