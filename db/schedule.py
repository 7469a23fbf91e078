"""When rituals run next: each active ritual's next occurrence in an indexed column, and a change stamp.

`rituals.next_due_at` is the next scheduled time (UTC) for which no occurrence was claimed yet. It
is written in three places only, all with the cadence maths of db/cadence.py (DST-correct, in the
ritual's timezone):

- by every ORM change to when a ritual runs (created, cadence edited, paused, resumed, deleted),
  through the `before_flush` hook below, whichever process makes it: the first time after
  `schedule_from` (None unless active);
- by the scheduler, in the unit of work that claims a ritual's due occurrences (`advance`): the
  first time after that moment;
- by the scheduler when it finds it missing (`fill_missing`: rows written around the ORM, and every
  ritual when migration 0014 added the column).

A claim given back unsent (db/occurrences.release) moves it back to the released time.

`schedule_changes.stamp` is raised in the same unit of work as every such ORM change (and when a
workspace is installed or removed): a scheduler that remembers the stamp it last saw asks "anything
changed since S?" with one primary-key read each minute, instead of reading every ritual again.
The scheduler's own advances do not raise it: they only ever move a ritual later.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm import attributes as orm_attributes

from db.base import upsert
from db.cadence import Cadence, CadenceKind, next_occurrences
from db.models import Ritual, RitualStatus, ScheduleChanges, Workspace

# The ritual columns that decide when it runs: a change to any of them recomputes next_due_at.
SCHEDULE_FIELDS = (
    "status",
    "cadence_kind",
    "weekday",
    "local_time",
    "timezone",
    "interval_weeks",
    "week_of_month",
    "anchor_date",
    "schedule_from",
)
STAMP_ROW = 1


@lru_cache(maxsize=4096)
def cadence(
    kind: str,
    weekday: int,
    local_time: dt.time,
    timezone: str,
    interval_weeks: int,
    week_of_month: int,
    anchor: dt.date | None,
) -> Cadence:
    # Thousands of rituals share a handful of schedules: build and validate each one once.
    return Cadence(
        kind=CadenceKind(kind),
        weekday=weekday,
        time_of_day=local_time,
        timezone=timezone,
        interval_weeks=interval_weeks,
        week_of_month=week_of_month,
        anchor=anchor,
    )


# The columns `cadence(*row)` takes, in order, for Core selects.
CADENCE_COLUMNS = (
    Ritual.cadence_kind,
    Ritual.weekday,
    Ritual.local_time,
    Ritual.timezone,
    Ritual.interval_weeks,
    Ritual.week_of_month,
    Ritual.anchor_date,
)


@lru_cache(maxsize=8192)
def next_after(c: Cadence, after: dt.datetime) -> dt.datetime | None:
    """The first scheduled time strictly after `after` (UTC). Cached: a minute's due rituals share
    a few cadences and one `after`."""
    found = next_occurrences(c, after, 1)
    return found[0] if found else None


def _cadence_of(ritual: Ritual) -> Cadence:
    return cadence(
        ritual.cadence_kind,
        ritual.weekday,
        ritual.local_time,
        ritual.timezone,
        ritual.interval_weeks if ritual.interval_weeks is not None else 1,
        ritual.week_of_month if ritual.week_of_month is not None else 1,
        ritual.anchor_date,
    )


def next_due_of(ritual: Ritual) -> dt.datetime | None:
    """What next_due_at should be after a change to when the ritual runs."""
    # A new ritual's status is still None before its first flush: the column default is active.
    if ritual.status not in (None, RitualStatus.ACTIVE) or ritual.schedule_from is None:
        return None
    return next_after(_cadence_of(ritual), ritual.schedule_from)


def _changed(obj: Any, fields: Iterable[str]) -> bool:
    state = orm_attributes.instance_state(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def bump(session: Session) -> None:
    """Raise the change stamp in the caller's unit of work."""
    connection = session.connection()
    # An upsert, so that the row comes back if it was ever deleted (the migration writes it).
    connection.execute(
        upsert(connection.dialect.name, ScheduleChanges)
        .values(id=STAMP_ROW, stamp=1)
        .on_conflict_do_update(index_elements=["id"], set_={"stamp": ScheduleChanges.stamp + 1})
    )


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _flush_context: UOWTransaction, _instances: object) -> None:
    changed = False
    for obj in session.new:
        if isinstance(obj, Ritual):
            obj.next_due_at = next_due_of(obj)
            changed = True
    for obj in session.dirty:
        if isinstance(obj, Ritual) and _changed(obj, SCHEDULE_FIELDS):
            obj.next_due_at = next_due_of(obj)
            changed = True
        elif isinstance(obj, Workspace) and _changed(obj, ("uninstalled_at",)):
            changed = True
    if changed:
        bump(session)


def stamp(session: Session) -> int:
    return session.scalar(select(ScheduleChanges.stamp).where(ScheduleChanges.id == STAMP_ROW)) or 0


def _schedulable() -> list[Any]:
    return [Ritual.status == RitualStatus.ACTIVE, Workspace.uninstalled_at.is_(None)]


def earliest(session: Session) -> dt.datetime | None:
    """The earliest next occurrence of any active ritual of an installed workspace (the index's first)."""
    return session.scalar(
        select(Ritual.next_due_at)
        .join(Workspace, Ritual.workspace_id == Workspace.id)
        .where(*_schedulable(), Ritual.next_due_at.is_not(None))
        .order_by(Ritual.next_due_at)
        .limit(1)
    )


def take_due(session: Session, *, now: dt.datetime, limit: int) -> list[int]:
    """Up to `limit` rituals due at `now`, earliest first.

    On PostgreSQL their rows stay locked until the caller's unit of work ends, and rows another
    scheduler has locked are skipped (FOR UPDATE SKIP LOCKED): schedulers running together each take
    a disjoint share, and none waits for another. The caller claims their occurrences and `advance`s
    them in the same unit of work. SQLite has one writer at a time (the caller's BEGIN IMMEDIATE).
    """
    query = (
        select(Ritual.id)
        .join(Workspace, Ritual.workspace_id == Workspace.id)
        .where(*_schedulable(), Ritual.next_due_at <= now)
        .order_by(Ritual.next_due_at, Ritual.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Ritual)
    return list(session.scalars(query))


def advance(session: Session, ritual_ids: Sequence[int], *, now: dt.datetime) -> None:
    """Everything the rituals owed up to `now` is claimed: their next occurrence is the first after it."""
    if not ritual_ids:
        return
    rows = session.execute(
        select(Ritual.id, Ritual.status, Ritual.schedule_from, *CADENCE_COLUMNS).where(
            Ritual.id.in_(ritual_ids)
        )
    )
    _write(session, {row[0]: _next_of_row(row, now) for row in rows})


def _next_of_row(row: Any, now: dt.datetime | None) -> dt.datetime | None:
    _ritual_id, status, schedule_from, *cadence_cols = row
    if status is not RitualStatus.ACTIVE:
        return None
    after = schedule_from if now is None else max(now, schedule_from)
    return next_after(cadence(*cadence_cols), after)


def _write(session: Session, next_of: dict[int, dt.datetime | None]) -> None:
    # Rituals due together mostly share their next time: one UPDATE per distinct value.
    by_value: dict[dt.datetime | None, list[int]] = defaultdict(list)
    for ritual_id, value in next_of.items():
        by_value[value].append(ritual_id)
    for value, ids in by_value.items():
        for start in range(0, len(ids), 500):
            session.execute(
                update(Ritual)
                .where(Ritual.id.in_(ids[start : start + 500]))
                .values(next_due_at=value)
                .execution_options(synchronize_session=False)
            )


def fill_missing(session: Session, *, limit: int = 5000) -> int:
    """Compute next_due_at where an active ritual has none (see the module's docstring); how many."""
    rows = session.execute(
        select(Ritual.id, Ritual.status, Ritual.schedule_from, *CADENCE_COLUMNS)
        .where(Ritual.status == RitualStatus.ACTIVE, Ritual.next_due_at.is_(None))
        .limit(limit)
    ).all()
    _write(session, {row[0]: _next_of_row(row, None) for row in rows})
    return len(rows)


def next_due(session: Session, ritual_id: int) -> dt.datetime | None:
    """The ritual's stored next occurrence, if the scheduler runs it (active, workspace installed)."""
    return session.scalar(
        select(Ritual.next_due_at)
        .join(Workspace, Ritual.workspace_id == Workspace.id)
        .where(Ritual.id == ritual_id, *_schedulable())
    )


def rewind(session: Session, ritual_id: int, scheduled_at: dt.datetime) -> None:
    """A claim at `scheduled_at` was given back: the ritual owes it again."""
    session.execute(
        update(Ritual)
        .where(
            Ritual.id == ritual_id,
            Ritual.status == RitualStatus.ACTIVE,
            (Ritual.next_due_at.is_(None)) | (Ritual.next_due_at > scheduled_at),
        )
        .values(next_due_at=scheduled_at)
        .execution_options(synchronize_session=False)
    )


def count_scheduled(session: Session) -> int:
    """How many active rituals have a next occurrence (for logs)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Ritual)
            .where(Ritual.status == RitualStatus.ACTIVE, Ritual.next_due_at.is_not(None))
        )
        or 0
    )
