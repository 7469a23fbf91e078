"""Who is asking, and whether they may act on a ritual: the one check every feature uses.

Objects named by a payload or a command are always looked up within the requesting workspace, so
another workspace's ritual is simply "not found". Only a ritual's creator, its members or a
workspace admin may change it (or read its reports); whether someone is an admin is asked of Slack
only when they are neither creator nor member, outside any database transaction, by a deadline
that leaves the acknowledgement room.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messenger import DeliveryError
from bot.services import Services
from bot.slack_client import pre_ack_deadline
from db.models import Ritual, RitualStatus, Workspace
from db.rituals import RitualError, can_manage, load_ritual, resolve_ritual


@dataclass(frozen=True)
class Actor:
    """The person a request comes from, in their workspace (and the channel they typed in)."""

    team_id: str
    user_id: str
    channel_id: str = ""


class RefusalKind(StrEnum):
    NOT_FOUND = "not_found"  # unknown, deleted, or of another workspace: all look the same
    AMBIGUOUS = "ambiguous"  # a command named no ritual, or several (the message says which)
    NOT_ALLOWED = "not_allowed"  # neither creator, member nor admin
    ADMIN_UNKNOWN = "admin_unknown"  # not creator or member, and Slack did not say in time if admin


@dataclass(frozen=True)
class Refused:
    """Why a request may not go on. `detail` is the resolver's own sentence for NOT_FOUND/AMBIGUOUS
    from a command; `ritual_name` names the ritual for NOT_ALLOWED/ADMIN_UNKNOWN."""

    kind: RefusalKind
    detail: str = ""
    ritual_name: str = ""


@dataclass(frozen=True)
class RitualRef:
    """A ritual the actor may act on, as of the check (load it again in the unit of work that changes it)."""

    id: int
    name: str
    workspace_id: int


def workspace_id_of(session: Session, team_id: str) -> int:
    """The workspace's row id without creating it (read-only units of work); 0 matches nothing."""
    return session.scalar(select(Workspace.id).where(Workspace.team_id == team_id)) or 0


def is_admin(services: Services, actor: Actor, *, deadline: float | None = None) -> bool | None:
    """Whether the actor is a workspace admin or owner; None when Slack did not say (in time)."""
    try:
        return services.messenger.user_info(actor.team_id, actor.user_id, deadline=deadline).is_admin
    except DeliveryError as exc:
        # Rate-limited, failing or too slow: Slack did not say. Anything else (user_not_found): no.
        if exc.unanswered or exc.code in ("ratelimited", "timeout"):
            return None
        return False


def load_scoped_ritual(session: Session, team_id: str, ritual_id: int) -> Ritual | None:
    """The ritual with this id if it belongs to the workspace `team_id` and is not deleted."""
    ritual = load_ritual(session, ritual_id)
    if ritual is None or ritual.status is RitualStatus.DELETED:
        return None
    if ritual.workspace_id != workspace_id_of(session, team_id):
        return None
    return ritual


def _allowed(
    services: Services, actor: Actor, ritual: RitualRef, member: bool, deadline: float
) -> RitualRef | Refused:
    if member:
        return ritual
    admin = is_admin(services, actor, deadline=deadline)
    if admin:
        return ritual
    kind = RefusalKind.ADMIN_UNKNOWN if admin is None else RefusalKind.NOT_ALLOWED
    return Refused(kind, ritual_name=ritual.name)


def named_in(session: Session, actor: Actor, name: str, *, example: str) -> Ritual | Refused:
    """The ritual a command names in the actor's workspace (or the channel's only one), whoever may
    act on it: for use cases with their own rule of who may (see `ritual_named` for the usual one)."""
    try:
        return resolve_ritual(
            session,
            workspace_id_of(session, actor.team_id),
            channel_id=actor.channel_id,
            user_id=actor.user_id,
            name=name,
            example=example,
        )
    except RitualError as exc:
        return Refused(RefusalKind.AMBIGUOUS, detail=str(exc))


def ritual_named(
    services: Services, actor: Actor, name: str, *, example: str, deadline: float | None = None
) -> RitualRef | Refused:
    """The ritual a command names (or the channel's only one), if the actor may act on it."""
    deadline = deadline if deadline is not None else pre_ack_deadline()
    with services.database.read() as session:
        ritual = named_in(session, actor, name, example=example)
        if isinstance(ritual, Refused):
            return ritual
        ref = RitualRef(ritual.id, ritual.name, ritual.workspace_id)
        member = can_manage(ritual, actor.user_id, is_admin=False)
    return _allowed(services, actor, ref, member, deadline)


def ritual_by_id(
    services: Services, actor: Actor, ritual_id: int | None, *, deadline: float | None = None
) -> RitualRef | Refused:
    """The ritual a payload names by id (already parsed by `bot.ids.parse_row_id`), if it is in the
    actor's workspace, not deleted, and the actor may act on it."""
    deadline = deadline if deadline is not None else pre_ack_deadline()
    if ritual_id is None:
        return Refused(RefusalKind.NOT_FOUND)
    with services.database.read() as session:
        ritual = load_scoped_ritual(session, actor.team_id, ritual_id)
        if ritual is None:
            return Refused(RefusalKind.NOT_FOUND)
        ref = RitualRef(ritual.id, ritual.name, ritual.workspace_id)
        member = can_manage(ritual, actor.user_id, is_admin=False)
    return _allowed(services, actor, ref, member, deadline)
