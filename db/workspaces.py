"""Workspaces, people and processed events: domain functions that know nothing about Slack."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.base import upsert
from db.models import ProcessedEvent, Pulse, Ritual, Workspace, slack_bots, slack_installations
from db.pulses import close_pulse
from db.written_answers import forget_workspace as forget_workspace_answers


def ensure_workspace(
    session: Session, team_id: str, *, now: dt.datetime | None = None, enterprise_id: str | None = None
) -> Workspace:
    """The workspace row for `team_id`, created on first sight (never reactivated here).

    A new row is stamped `installed_at=now`, the caller's clock. Only the paths that can see a
    workspace first (the middleware, installs) pass `now`: listeners find the row the middleware
    created for their request, so a missing row without `now` is a bug, not a new workspace.
    """
    workspace = session.scalars(select(Workspace).where(Workspace.team_id == team_id)).one_or_none()
    if workspace is not None:
        return workspace
    if now is None:
        raise LookupError(f"workspace {team_id} is unknown and no `now` was given to create it")
    stmt = (
        upsert(session.get_bind().dialect.name, Workspace)
        .values(team_id=team_id, enterprise_id=enterprise_id, installed_at=now)
        .on_conflict_do_nothing(index_elements=["team_id"])
    )
    session.execute(stmt)
    return session.scalars(select(Workspace).where(Workspace.team_id == team_id)).one()


def record_install(
    session: Session, team_id: str, *, name: str | None, enterprise_id: str | None, now: dt.datetime
) -> Workspace:
    """A (re)installation: the workspace is active again from `now`."""
    workspace = ensure_workspace(session, team_id, now=now, enterprise_id=enterprise_id)
    if name:
        workspace.name = name
    if workspace.uninstalled_at is not None:
        workspace.uninstalled_at = None
        workspace.installed_at = now
    return workspace


def record_uninstall(session: Session, team_id: str, *, now: dt.datetime) -> Workspace:
    """Tandem was removed or its tokens revoked: drop the stored tokens, keep the history.

    Deleting the rows slack_sdk's installation store reads is what stops every later API call for
    this team in OAuth mode; `uninstalled_at` is what stops its scheduled work in every mode. Its
    open pulses are closed here, in the database only: nothing can be posted any more, and closing
    deletes the ballots that tie an anonymous answer to a person (their counts stay).
    """
    workspace = ensure_workspace(session, team_id, now=now)
    if workspace.uninstalled_at is None:
        workspace.uninstalled_at = now
    session.execute(delete(slack_installations).where(slack_installations.c.team_id == team_id))
    session.execute(delete(slack_bots).where(slack_bots.c.team_id == team_id))
    open_pulses = session.scalars(
        select(Pulse)
        .join(Ritual, Pulse.ritual_id == Ritual.id)
        .where(Ritual.workspace_id == workspace.id, Pulse.closed_at.is_(None))
    )
    for pulse in list(open_pulses):
        close_pulse(session, pulse, now=now)
    # Written answers name their writers: they go with the installation (posted ones stay in Slack).
    forget_workspace_answers(session, workspace.id)
    return workspace


def claim_event(session: Session, event_id: str, *, team_id: str | None, now: dt.datetime) -> bool:
    """True the first time `event_id` is seen, False for Slack's retries of it.

    The primary key makes this safe across threads and processes: two deliveries racing each other
    cannot both insert the row.
    """
    stmt = (
        upsert(session.get_bind().dialect.name, ProcessedEvent)
        .values(event_id=event_id, team_id=team_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
        # RETURNING, not rowcount: psycopg reports no reliable rowcount for INSERT ... ON CONFLICT.
        .returning(ProcessedEvent.event_id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def release_event(session: Session, event_id: str) -> None:
    """Forget `event_id`, so that Slack's next retry of it is processed (its first handling failed)."""
    session.execute(delete(ProcessedEvent).where(ProcessedEvent.event_id == event_id))


def prune_processed_events(session: Session, *, older_than: dt.datetime) -> int:
    """Slack stops retrying an event within the hour; a week of ids is ample."""
    # Through the connection: a Core DELETE's result is a CursorResult, which counts its rows.
    result = session.connection().execute(
        delete(ProcessedEvent).where(ProcessedEvent.received_at < older_than)
    )
    return result.rowcount or 0
