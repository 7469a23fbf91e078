"""Pulses: opening one (after a check-in, or by `/tandem pulse`), answering it, closing it and
posting its results, reminders, who answered what, and a person's own settings (side, reminders,
forget-me).

A click on an answer is the hottest path in Tandem (a whole company may answer within a minute):
`answer` runs one unit of work of three Core statements (`db.pulses.record_answer`) and hands back
the reply already serialised; the count on the channel message is refreshed in the background, at
most once every few seconds (`refresh_count`, driven by `jobs.pulses.CountRefresher`).

Everything that posts into a channel (the pulse, its results) does so after its unit of work, and a
channel Slack refuses pauses its rituals (`bot.usecases.refusals.pause_after_refusal`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.blocks.pulse import (
    ANSWER_FOREIGN,
    ANSWER_NOT_SAVED,
    OTHER_SIDE_ON_PARTNER,
    AnswerClick,
    PulseView,
    answer_confirmation_reply,
    build_closed_notice,
    build_pulse_message,
    build_reminder_dm,
    build_results,
    build_side_question,
    ephemeral_reply,
)
from bot.ids import parse_row_id
from bot.messenger import DeliveryError, PostTag
from bot.services import Services
from bot.usecases import comments
from bot.usecases.access import (
    Actor,
    RefusalKind,
    Refused,
    load_scoped_ritual,
    named_in,
    ritual_named,
    workspace_id_of,
)
from bot.usecases.direct_messages import DmStatus, HeldRef, send_in_working_hours
from bot.usecases.insight import alert_on_drift
from bot.usecases.refusals import pause_after_refusal
from db import commitments as commit_db
from db import direct_messages as held_db
from db import leads_digests as leads_digest_db
from db import pulses as pulse_db
from db import theme_questions
from db.models import Pulse, PulseQuestion, Ritual, RitualStatus, Side, Workspace
from db.people import forget_person, ritual_people, set_reminders, set_side
from db.pulses import AnswerStatus
from db.rituals import next_time
from db.session import ANONYMITY_TABLES
from db.workspaces import ensure_workspace

log = logging.getLogger(__name__)

# The Slack metadata event types of a pulse's posts (bot.messenger.PostTag), with the pulse's id.
PULSE_EVENT = "tandem_pulse"
RESULTS_EVENT = "tandem_pulse_results"

__all__ = [
    "AnswerReply",
    "AnswerStatus",
    "CloseOutcome",
    "CloseStatus",
    "StartOutcome",
    "StartStatus",
    "VotesRefusal",
    "answer",
    "choose_side",
    "close_due",
    "close_early",
    "forget_me",
    "member_votes",
    "open_after_checkin",
    "open_pulse",
    "refresh_count",
    "reminder_still_wanted",
    "send_reminders",
    "start_pulse",
    "turn_reminders",
]


def _ritual_and_team(session: Session, pulse: Pulse) -> tuple[Ritual, str]:
    ritual = session.get(Ritual, pulse.ritual_id)
    # Pulses are deleted with their ritual's row (ON DELETE CASCADE), and rituals with their workspace.
    assert ritual is not None
    workspace = session.get(Workspace, ritual.workspace_id)
    assert workspace is not None
    return ritual, workspace.team_id


def _view(session: Session, pulse: Pulse, ritual: Ritual) -> PulseView:
    zone = ZoneInfo(ritual.timezone)
    return PulseView(
        pulse_id=pulse.id,
        ritual_name=ritual.name,
        anonymous=pulse.anonymous,
        answered=pulse_db.answered_count(session, pulse),
        closes_at_local=pulse.closes_at.astimezone(zone),
        closed=pulse.closed_at is not None,
        closed_at_local=pulse.closed_at.astimezone(zone) if pulse.closed_at else None,
        theme_question=theme_questions.theme_question(pulse.theme_question),
        comments=pulse.comments,
    )


# -- opening -------------------------------------------------------------------------------------------


def open_pulse(
    services: Services,
    ritual_id: int,
    *,
    owner: str,
    occurrence_id: int | None = None,
    thread_ts: str | None = None,
    theme: str | None = None,
    replace_open: bool = True,
) -> int | None:
    """Open a pulse for the ritual, close the ones it still has open (posting their results), and
    queue its message for the channel's next slot. Returns the pulse id (None if the ritual is gone,
    or, with `replace_open` False, when it has a pulse open: an on-demand pulse never closes one).

    `thread_ts`: the check-in the pulse goes with (its results go into that thread; a pulse asked
    for on demand gets its own message's thread).
    """
    now = services.clock.now()
    with services.database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None or ritual.status is RitualStatus.DELETED:
            return None
        still_open = [p.id for p in pulse_db.open_pulses_of(session, ritual_id)]
        if still_open and not replace_open:
            return None
        pulse = pulse_db.open_pulse(
            session,
            ritual,
            owner=owner,
            now=now,
            keys=services.voter_keys,
            occurrence_id=occurrence_id,
            closes_at=next_time(ritual, now),  # a pulse closes at the ritual's next check-in at the latest
            reminder_hours=services.pulse_settings.reminder_hours,
        )
        pulse.thread_ts = thread_ts
        pulse.theme = theme
        # The check-in's theme brings its mirrored question; a pulse without a theme measures none.
        asked = theme_questions.question_for_theme(theme)
        pulse.theme_question = asked.key if asked is not None else None
        # Comments are anonymous like the answers, so only an anonymous pulse takes them.
        pulse.comments = ritual.pulse_comments and pulse.anonymous
        _, team_id = _ritual_and_team(session, pulse)
        pulse_id, channel_id = pulse.id, pulse.channel_id
        text, blocks = build_pulse_message(_view(session, pulse, ritual))
    for earlier in still_open:
        close_and_report(services, earlier, now=now)
    payload = [b.to_dict() for b in blocks]

    def post() -> None:
        try:
            # In its check-in's thread: one top-level post per check-in, not two.
            ts = services.messenger.post(
                team_id,
                channel_id,
                text=text,
                blocks=payload,
                thread_ts=thread_ts,
                tag=PostTag(PULSE_EVENT, str(pulse_id)),
            )
        except DeliveryError as exc:
            log.warning("the message of pulse %s could not be posted: %s", pulse_id, exc.reason)
            pause_after_refusal(services, team_id, channel_id, exc)
            return
        with services.database.begin() as session:
            posted = session.get(Pulse, pulse_id)
            if posted is not None:
                posted.message_ts = ts
                posted.thread_ts = posted.thread_ts or ts

    services.checkins.send(channel_id, post, team_id=team_id)
    return pulse_id


def open_after_checkin(
    services: Services,
    ritual_id: int,
    *,
    owner: str,
    occurrence_id: int | None,
    thread_ts: str,
    theme: str | None,
) -> int | None:
    """A check-in that reached its channel brings its ritual's pulse (if pulses are on), in its thread."""
    with services.database.read() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None or not ritual.pulse_enabled:
            return None
    return open_pulse(
        services, ritual_id, owner=owner, occurrence_id=occurrence_id, thread_ts=thread_ts, theme=theme
    )


class StartStatus(StrEnum):
    STARTING = "starting"  # acknowledged; the pulse opens in the channel's next slot
    PAUSED = "paused"  # the ritual is paused: nothing opens
    ALREADY_OPEN = "already_open"  # the ritual's pulse is open: shown, never closed by this


@dataclass(frozen=True)
class StartOutcome:
    status: StartStatus
    ritual_name: str
    # ALREADY_OPEN: the open pulse, its owner, and when it closes in the ritual's timezone.
    pulse_id: int | None = None
    owner: str = ""
    closes_at_local: dt.datetime | None = None


def start_pulse(services: Services, actor: Actor, name: str, *, example: str) -> StartOutcome | Refused:
    """`/tandem pulse [ritual]`: check the actor may act on the ritual (before the ack), then queue
    the opening. While the ritual has a pulse open, that one is shown instead (ALREADY_OPEN): a
    command never closes someone's pulse, and people who have not answered keep their chance; only
    its owner may close it early, with its button.
    """
    found = ritual_named(services, actor, name, example=example)
    if isinstance(found, Refused):
        return found
    with services.database.read() as session:
        ritual = load_scoped_ritual(session, actor.team_id, found.id)
        if ritual is None:
            return Refused(RefusalKind.NOT_FOUND)
        if ritual.status is not RitualStatus.ACTIVE:
            return StartOutcome(StartStatus.PAUSED, ritual.name)
        still_open = pulse_db.open_pulses_of(session, ritual.id)
        if still_open:
            pulse = max(still_open, key=lambda p: p.opened_at)
            return StartOutcome(
                StartStatus.ALREADY_OPEN,
                ritual.name,
                pulse_id=pulse.id,
                owner=pulse.owner,
                closes_at_local=pulse.closes_at.astimezone(ZoneInfo(ritual.timezone)),
            )
        channel_id = ritual.channel_id
    # Closing the earlier pulse posts its results and may draw a chart: none of it before the ack.
    services.checkins.send(channel_id, lambda: _open_on_demand(services, found.id, actor.user_id))
    return StartOutcome(StartStatus.STARTING, found.name)


def _open_on_demand(services: Services, ritual_id: int, owner: str) -> None:
    if open_pulse(services, ritual_id, owner=owner, replace_open=False) is None:
        log.info("ritual %s was deleted, or got a pulse, before its pulse could open", ritual_id)


# -- answering -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerReply:
    """What a click did (None: nothing could be stored) and the ephemeral reply for its clicker."""

    status: AnswerStatus | None
    message: bytes | dict[str, object]


def answer(services: Services, actor: Actor, click: AnswerClick) -> AnswerReply:
    """Store one click on a pulse of the actor's workspace (any other pulse id stores nothing).

    `click.side` is the clicker's answer to "marketing, IT or other?", saved with the answer it was
    asked for; the reply then replaces that question. The count on the channel message is marked for
    a refresh when the answer changed anything.
    """
    pulse_id, question, score = click.pulse_id, click.question, click.score
    # Decide inside the unit of work, reply after it: the caller's POST to Slack never runs while
    # the transaction (on SQLite, the write lock every other click waits for) is open.
    # Clicks arriving together share one transaction and its commit (`Database.together`): on SQLite
    # they would otherwise queue one by one for the file's one write lock, each paying for its own
    # BEGIN IMMEDIATE and COMMIT. Each click's ballot is still written before its reply says so.
    try:
        outcome = services.database.together(
            lambda session: pulse_db.record_answer(
                session.connection(),
                pulse_id,
                team_id=actor.team_id,
                user_id=actor.user_id,
                question=question,
                score=score,
                action_ts=click.action_ts,
                now=services.clock.now(),
                keys=services.voter_keys,
                choose_side=click.side,
            )
        )
    except pulse_db.PulseError as exc:
        log.warning("an answer to pulse %s could not be stored: %s", pulse_id, exc)
        return AnswerReply(None, ephemeral_reply(ANSWER_NOT_SAVED))
    status = outcome.status
    message: bytes | dict[str, object]
    if status is AnswerStatus.UNKNOWN:
        message = ephemeral_reply(ANSWER_FOREIGN)  # unknown, or another workspace's: never counted
    elif status is AnswerStatus.CLOSED:
        assert outcome.closed_at is not None
        message = ephemeral_reply(
            build_closed_notice(outcome.closed_at.astimezone(ZoneInfo(outcome.timezone)))
        )
    elif status is AnswerStatus.ASK_SIDE:
        message = ephemeral_reply(*build_side_question(pulse_id, question, score))
    elif status is AnswerStatus.NOT_YOUR_QUESTION:
        message = ephemeral_reply(OTHER_SIDE_ON_PARTNER)
    else:
        message = answer_confirmation_reply(
            question,
            outcome.score,
            changed=status is AnswerStatus.CHANGED,
            anonymous=outcome.anonymous,
            replace=click.side is not None,
        )
        if status is not AnswerStatus.UNCHANGED:
            services.counts.mark(pulse_id)
    return AnswerReply(status, message)


def refresh_count(services: Services, pulse_id: int) -> None:
    """Show the open pulse's current "N people have answered" on its channel message."""
    with services.database.read() as session:
        pulse = session.get(Pulse, pulse_id)
        if pulse is None or pulse.message_ts is None or pulse.closed_at is not None:
            return
        ritual, team_id = _ritual_and_team(session, pulse)
        text, blocks = build_pulse_message(_view(session, pulse, ritual))
        channel_id, ts = pulse.channel_id, pulse.message_ts
    try:
        services.messenger.update(team_id, channel_id, ts, text=text, blocks=[b.to_dict() for b in blocks])
    except DeliveryError as exc:
        log.warning("the count of pulse %s could not be refreshed: %s", pulse_id, exc.reason)


# -- closing -------------------------------------------------------------------------------------------


def close_and_report(services: Services, pulse_id: int, *, now: dt.datetime) -> bool:
    """Close one pulse (if still open), post its results in its thread (none when nobody answered),
    mark its message closed, refresh its members' Home tabs and look for drift. True if this call
    closed it.

    `pulse_id` is trusted: it comes from the database, or from `close_early`, which scoped it.
    """
    with services.database.begin() as session:
        pulse = session.get(Pulse, pulse_id)
        if pulse is None or not pulse_db.close_pulse(session, pulse, now=now):
            return False
        # Its reminders still held are moot now, and would say who had not answered.
        held_db.forget_prefixed(session, _reminder_key(pulse_id, ""))
        ritual, team_id = _ritual_and_team(session, pulse)
        figures = pulse_db.results(session, pulse, min_answers=services.pulse_settings.min_answers)
        # How the commitments made from the last pulse are doing (closing the loop).
        last = pulse_db.previous_closed(session, pulse)
        from_last = commit_db.from_pulse(session, last.id) if last is not None else None
        text, blocks = build_results(
            figures, ritual_name=ritual.name, from_last=from_last, offer_commitment=True
        )
        comment_posts = comments.comment_messages(session, pulse, figures, ritual.name)
        closed_text, closed_blocks = build_pulse_message(_view(session, pulse, ritual))
        ritual_id, channel_id, message_ts = ritual.id, pulse.channel_id, pulse.message_ts
        thread_ts = pulse.thread_ts or pulse.message_ts
        members = [person.slack_user_id for person in ritual_people(session, ritual_id)]
        answered = pulse_db.answered_count(session, pulse)
    # The close committed: now the deleted salt and ballots go from the WAL and free space too.
    services.database.erase_residue()
    try:
        # A pulse nobody answered has no results: its own message says it closed unanswered.
        if answered:
            services.messenger.post(
                team_id,
                channel_id,
                text=text,
                blocks=[b.to_dict() for b in blocks],
                thread_ts=thread_ts,
                tag=PostTag(RESULTS_EVENT, str(pulse_id)),
            )
        if comment_posts:
            comments.post_comments(services, team_id, channel_id, thread_ts, pulse_id, comment_posts)
        if message_ts:
            services.messenger.update(
                team_id, channel_id, message_ts, text=closed_text, blocks=[b.to_dict() for b in closed_blocks]
            )
    except DeliveryError as exc:
        log.warning("results of pulse %s could not be posted: %s", pulse_id, exc.reason)
        pause_after_refusal(services, team_id, channel_id, exc)
    services.homes.refresh(team_id, *members)
    try:
        alert_on_drift(
            services,
            pulse_id,
            ritual_id,
            now=now,
            min_answers=services.pulse_settings.min_answers,
        )
    except Exception:
        log.exception("the drift check after pulse %s failed", pulse_id)
    return True


def close_due(services: Services, *, now: dt.datetime) -> int:
    """Close every pulse whose time is up (in installed workspaces) and report each; how many closed."""
    with services.database.read() as session:
        due = [p.id for p in pulse_db.pulses_to_close(session, now=now)]
    return sum(close_and_report(services, pulse_id, now=now) for pulse_id in due)


class CloseStatus(StrEnum):
    CLOSED = "closed"  # closed now: the results are going into the thread
    NOT_FOUND = "not_found"  # no such pulse in the actor's workspace
    ALREADY_CLOSED = "already_closed"
    NOT_OWNER = "not_owner"  # only the pulse's owner may close it early


@dataclass(frozen=True)
class CloseOutcome:
    status: CloseStatus
    owner: str = ""
    closed_at_local: dt.datetime | None = None  # ALREADY_CLOSED: when, in the ritual's timezone


def close_early(services: Services, actor: Actor, pulse_id: int) -> CloseOutcome:
    """The "Close now" button: its owner closes the pulse before its time. A pulse of another
    workspace is not found, exactly like an unknown id."""
    with services.database.read() as session:
        pulse = pulse_db.load_pulse(session, pulse_id, workspace_id=workspace_id_of(session, actor.team_id))
        if pulse is None:
            return CloseOutcome(CloseStatus.NOT_FOUND)
        if pulse.closed_at is not None:
            ritual, _ = _ritual_and_team(session, pulse)
            return CloseOutcome(
                CloseStatus.ALREADY_CLOSED,
                closed_at_local=pulse.closed_at.astimezone(ZoneInfo(ritual.timezone)),
            )
        if pulse.owner != actor.user_id:
            return CloseOutcome(CloseStatus.NOT_OWNER, owner=pulse.owner)
    if not close_and_report(services, pulse_id, now=services.clock.now()):
        # Closed meanwhile (its time came, or a second click won): answered like any late click.
        return close_early(services, actor, pulse_id)
    return CloseOutcome(CloseStatus.CLOSED)


# -- reminders -----------------------------------------------------------------------------------------


REMINDER_KIND = "pulse-reminder"


def _reminder_key(pulse_id: int, user_id: str) -> str:
    return f"{REMINDER_KIND}:{pulse_id}:{user_id}"


def send_reminders(services: Services, *, now: dt.datetime) -> int:
    """One DM to each ritual member who has not answered, some hours before the pulse closes
    (never twice: each is claimed in the database first), in the member's working hours: held until
    they start, and skipped when they would only start once the pulse has closed
    (`bot.usecases.direct_messages`). Returns how many were sent or held."""
    work: list[tuple[str, str, str, PulseView, dt.datetime]] = []
    with services.database.begin() as session:
        for pulse in pulse_db.pulses_to_remind(session, now=now):
            pulse.reminders_sent_at = now
            ritual, team_id = _ritual_and_team(session, pulse)
            view = _view(session, pulse, ritual)
            keys = services.voter_keys
            try:
                for person in ritual_people(session, ritual.id):
                    if not person.reminders or pulse_db.has_answered(
                        session, keys, pulse, person.slack_user_id
                    ):
                        continue
                    if pulse_db.claim_reminder(
                        session, pulse.id, pulse_db.voter_key(keys, pulse, person.slack_user_id)
                    ):
                        work.append((team_id, person.slack_user_id, pulse.channel_id, view, pulse.closes_at))
            except pulse_db.PulseError as exc:
                # The server key changed since the pulse opened: who answered cannot be told.
                log.error("no reminders for pulse %s: %s", pulse.id, exc)
    sent = 0
    for team_id, user_id, channel_id, view, closes_at in work:
        text, blocks = build_reminder_dm(view, channel_id)
        outcome = send_in_working_hours(
            services,
            team_id,
            user_id,
            kind=REMINDER_KIND,
            key=_reminder_key(view.pulse_id, user_id),
            text=text,
            blocks=[b.to_dict() for b in blocks],
            deadline=closes_at,
            now=now,
        )
        sent += outcome.status in (DmStatus.SENT, DmStatus.HELD)
    return sent


def reminder_still_wanted(services: Services, held: HeldRef) -> bool:
    """A held reminder goes out only while its pulse is open and its recipient has not answered."""
    _, _, pulse_part = held.key.rpartition(":")[0].partition(":")
    pulse_id = parse_row_id(pulse_part)
    if pulse_id is None:
        return False
    with services.database.read() as session:
        pulse = pulse_db.load_pulse(session, pulse_id, workspace_id=held.workspace_id)
        if pulse is None or pulse.closed_at is not None or pulse.closes_at <= services.clock.now():
            return False
        try:
            return not pulse_db.has_answered(session, services.voter_keys, pulse, held.user_id)
        except pulse_db.PulseError:
            return False  # the server key changed since the pulse opened: who answered cannot be told


# -- who answered what ---------------------------------------------------------------------------------


class VotesRefusal(StrEnum):
    NOT_MEMBER = "not_member"  # only the ritual's members may see who answered what
    NO_PULSE = "no_pulse"
    ANONYMOUS = "anonymous"  # the latest pulse is anonymous: nobody can see it


Votes = list[tuple[str, Side, PulseQuestion, int]]


def member_votes(
    services: Services, actor: Actor, name: str, *, example: str
) -> Votes | VotesRefusal | Refused:
    """`/tandem pulse votes [ritual]`: who answered what in the ritual's latest pulse, for its members,
    when that pulse is not anonymous."""
    with services.database.read() as session:
        ritual = named_in(session, actor, name, example=example)
        if isinstance(ritual, Refused):
            return ritual
        # Members only (not admins, not a creator who left it): the people the pulse said could see it.
        if not any(m.person.slack_user_id == actor.user_id for m in ritual.members):
            return VotesRefusal.NOT_MEMBER
        latest = pulse_db.latest_pulse(session, ritual.id)
        if latest is None:
            return VotesRefusal.NO_PULSE
        if latest.anonymous:
            return VotesRefusal.ANONYMOUS
        return pulse_db.votes_for_members(session, latest)


# -- a person's own settings ---------------------------------------------------------------------------


def choose_side(services: Services, actor: Actor, side: Side) -> Side:
    """`/tandem role`: the side the actor's pulse answers count for, from now on."""
    with services.database.begin() as session:
        set_side(session, ensure_workspace(session, actor.team_id).id, actor.user_id, side)
    return side


def turn_reminders(services: Services, actor: Actor, enabled: bool) -> bool:
    """`/tandem reminders on|off`: whether the actor gets pulse reminder DMs."""
    with services.database.begin() as session:
        set_reminders(session, ensure_workspace(session, actor.team_id).id, actor.user_id, enabled)
    return enabled


def forget_me(services: Services, actor: Actor) -> Mapping[str, int | str]:
    """Delete what Tandem stores about the actor in their workspace (see `db.people.forget_person`);
    returns what was deleted, keyed as `bot.blocks.pulse.build_forget_done` reads it."""
    with services.database.begin() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        # The DMs held for them (and the record of those sent) name them too.
        held_db.forget_recipient(session, workspace_id, actor.user_id)
        leads_digest_db.forget_lead(session, workspace_id, actor.user_id)
        deleted = forget_person(session, workspace_id, actor.user_id, keys=services.voter_keys)
    # What the deleted rows leave below the SQL (free pages, the WAL) goes too.
    services.database.erase_residue(*ANONYMITY_TABLES, "people", "pulse_votes", "ritual_members")
    return deleted
