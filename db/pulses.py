"""Pulse polls: open, answer, close, and the figures. Plain values in; nothing here knows Slack.

Anonymity is designed into the tables, not added by filtering: reports read `pulse_tallies`
(counts per question, side and score, with no person, time or order). While an anonymous pulse is
open, `pulse_ballots` holds each voter's current answer under a keyed hash of their user id, only
so a person can change their own answer. The hash needs two things: the server's secret key, which
never enters the database (`VoterKeys`), and a per-pulse salt, which does. Without the key, the
database alone never names a voter, even while the pulse is open; closing counts the ballots into
the tallies and deletes the ballots, the reminder records and the salt, after which not even the
key does. (What deleted rows leave below the SQL, in free pages and the WAL, is erased after the
close commits: `db.session.Database.erase_residue`.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from db.base import upsert
from db.figures import SCORES, Figures, PulseResults
from db.models import (
    Person,
    Pulse,
    PulseBallot,
    PulseComment,
    PulseQuestion,
    PulseReminder,
    PulseTally,
    PulseVote,
    Ritual,
    Side,
    Workspace,
)

# Below this many answers a side's figures are withheld: with fewer, people could be identified.
MIN_ANSWERS_FLOOR = 3


class AnswerStatus(StrEnum):
    RECORDED = "recorded"  # first answer to this question
    CHANGED = "changed"  # replaced an earlier answer
    UNCHANGED = "unchanged"  # same answer again, or an older click arriving late
    CLOSED = "closed"  # the pulse had closed
    UNKNOWN = "unknown"  # no such pulse in the clicker's workspace: nothing is stored
    ASK_SIDE = "ask_side"  # the clicker's side is not known yet: nothing is stored
    NOT_YOUR_QUESTION = "not_your_question"  # someone from another team on the partner or theme question


@dataclass(frozen=True)
class AnswerOutcome:
    status: AnswerStatus
    score: int  # the answer that counts for the clicker (an older click arriving late: the newer one)
    closed_at: dt.datetime | None = None
    timezone: str = "UTC"  # the ritual's, for dates shown to the clicker
    anonymous: bool = True


class PulseError(Exception):
    """An answer that could not be stored, or a voter asked of a closed pulse (never shown as is:
    the use cases word what people are told)."""


@dataclass(frozen=True)
class VoterKeys:
    """The server's secret key (`TANDEM_SECRET_KEY`), as it names voters of anonymous pulses.

    A voter is HMAC-SHA256(HMAC-SHA256(secret, salt), user id): the salt is the pulse's own, stored
    with it and erased at close; the secret is never stored. So a copy of the database (or of its
    WAL, or a backup) taken while a pulse is open holds the salt and the hashes, but without the
    secret nobody can compute whose hash is whose, not even by trying every user id of the workspace.
    """

    secret: bytes = field(repr=False)

    @property
    def check(self) -> str:
        """A short fingerprint of the secret, stored with each pulse so that a changed key is noticed
        (answers would otherwise count twice: a changed answer would not find the earlier one). It
        tells nothing about the key that a brute force of a random key could use."""
        return hmac.new(self.secret, b"tandem voter key check v1", hashlib.sha256).hexdigest()[:16]

    def voter(self, salt: str, check: str | None, user_id: str) -> str:
        if check is None:
            # A pulse opened by a version of Tandem before the server key: its ballots are keyed by
            # the salt alone until it closes.
            return hmac.new(salt.encode(), user_id.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(check, self.check):
            raise PulseError(
                "the server's secret key (TANDEM_SECRET_KEY or its key file) is not the one this pulse "
                "was opened with: restore that key, or answers to the pulse cannot be stored"
            )
        pulse_key = hmac.new(self.secret, b"tandem pulse voters v1:" + salt.encode(), hashlib.sha256).digest()
        return hmac.new(pulse_key, user_id.encode(), hashlib.sha256).hexdigest()


def voter_key(keys: VoterKeys, pulse: Pulse, user_id: str) -> str:
    """How a ballot names its voter: a keyed hash for anonymous pulses, the user id otherwise."""
    if not pulse.anonymous:
        return user_id
    if pulse.ballot_salt is None:
        raise PulseError(f"pulse {pulse.id} is closed: its voters can no longer be named")
    return keys.voter(pulse.ballot_salt, pulse.voter_key_check, user_id)


def _voter(keys: VoterKeys, anonymous: bool, salt: str | None, check: str | None, user_id: str) -> str:
    if not anonymous:
        return user_id
    assert salt is not None  # an open anonymous pulse always has its salt
    return keys.voter(salt, check, user_id)


def open_pulse(
    session: Session,
    ritual: Ritual,
    *,
    keys: VoterKeys,
    owner: str,
    now: dt.datetime,
    occurrence_id: int | None = None,
    closes_at: dt.datetime | None = None,
    reminder_hours: float = 0,
) -> Pulse:
    """Open a pulse for `ritual`; it closes after the ritual's window unless `closes_at` is sooner."""
    window_end = now + dt.timedelta(hours=ritual.pulse_window_hours)
    closes = min(window_end, closes_at) if closes_at else window_end
    pulse = Pulse(
        ritual_id=ritual.id,
        occurrence_id=occurrence_id,
        channel_id=ritual.channel_id,
        owner=owner,
        anonymous=ritual.pulse_anonymous,
        opened_at=now,
        closes_at=closes,
        reminders_due_at=closes - dt.timedelta(hours=reminder_hours) if reminder_hours > 0 else None,
        ballot_salt=secrets.token_hex(32) if ritual.pulse_anonymous else None,
        voter_key_check=keys.check if ritual.pulse_anonymous else None,
    )
    if pulse.reminders_due_at is not None and pulse.reminders_due_at <= now:
        pulse.reminders_due_at = None  # a window shorter than the reminder lead: no reminder
    # Each side's team when the pulse opened: participation is shown against it ("5 of 6").
    pulse.team_marketing = sum(1 for m in ritual.members if m.side is Side.MARKETING)
    pulse.team_it = sum(1 for m in ritual.members if m.side is Side.IT)
    session.add(pulse)
    session.flush()
    return pulse


# -- answering ---------------------------------------------------------------------------------------
#
# A click is the hottest path in Tandem (a whole company may answer within a minute), so it runs a
# handful of prebuilt Core statements on the unit of work's connection instead of ORM loads:
# one to read the pulse, its ritual's timezone and the clicker's side (checking the workspace in
# the same query), one to read the clicker's ballot, and one to write it. Clicks touch only their
# own ballot row, never a shared counter, so they neither wait for nor deadlock with each other;
# the counts per side and score are computed from the ballots when the pulse closes.

_CLICK_CONTEXT = (
    select(
        Pulse.anonymous,
        Pulse.ballot_salt,
        Pulse.voter_key_check,
        Pulse.closes_at,
        Pulse.closed_at,
        Ritual.timezone,
        Ritual.workspace_id,
        Person.id,
        Person.side,
    )
    .select_from(Pulse)
    .join(Ritual, Ritual.id == Pulse.ritual_id)
    .join(Workspace, Workspace.id == Ritual.workspace_id)
    .outerjoin(
        Person,
        (Person.workspace_id == Workspace.id) & (Person.slack_user_id == bindparam("user_id")),
    )
    .where(Pulse.id == bindparam("pulse_id"), Workspace.team_id == bindparam("team_id"))
)
# PostgreSQL: FOR SHARE of the pulse row, so clicks don't wait for each other but closing (an
# UPDATE of that row) waits for clicks in flight, and no answer lands after a pulse closed. SQLite
# needs nothing: every writing unit of work holds its write lock from BEGIN IMMEDIATE.
_CLICK_CONTEXT_LOCKED = _CLICK_CONTEXT.with_for_update(read=True, of=Pulse)

_THEME_ASKED = select(Pulse.theme_question).where(Pulse.id == bindparam("pulse_id"))

_BALLOT = select(PulseBallot.id, PulseBallot.score, PulseBallot.side, PulseBallot.action_ts).where(
    PulseBallot.pulse_id == bindparam("pulse_id"),
    PulseBallot.question == bindparam("question"),
    PulseBallot.voter == bindparam("voter"),
)
_BALLOT_LOCKED = _BALLOT.with_for_update()


def _new_ballot(dialect: str) -> Executable:
    return (
        upsert(dialect, PulseBallot)
        .values(
            pulse_id=bindparam("pulse_id"),
            question=bindparam("question"),
            voter=bindparam("voter"),
            side=bindparam("new_side"),
            score=bindparam("new_score"),
            action_ts=bindparam("new_action_ts"),
        )
        .on_conflict_do_nothing(index_elements=["pulse_id", "question", "voter"])
        .returning(PulseBallot.id)
    )


def _named_vote(dialect: str) -> Executable:
    stmt = upsert(dialect, PulseVote).values(
        pulse_id=bindparam("pulse_id"),
        question=bindparam("question"),
        person_id=bindparam("person_id"),
        side=bindparam("new_side"),
        score=bindparam("new_score"),
    )
    return stmt.on_conflict_do_update(
        index_elements=["pulse_id", "question", "person_id"],
        set_={"score": stmt.excluded.score, "side": stmt.excluded.side},
    )


def _set_side(dialect: str) -> Executable:
    stmt = upsert(dialect, Person).values(
        workspace_id=bindparam("workspace_id"),
        slack_user_id=bindparam("user_id"),
        side=bindparam("new_side"),
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    return stmt.on_conflict_do_update(
        index_elements=["workspace_id", "slack_user_id"],
        set_={"side": stmt.excluded.side, "updated_at": stmt.excluded.updated_at},
    ).returning(Person.id)


_NEW_BALLOT = {"postgresql": _new_ballot("postgresql"), "sqlite": _new_ballot("sqlite")}
_NAMED_VOTE = {"postgresql": _named_vote("postgresql"), "sqlite": _named_vote("sqlite")}
_SET_SIDE = {"postgresql": _set_side("postgresql"), "sqlite": _set_side("sqlite")}
_CHANGE_BALLOT = (
    update(PulseBallot)
    .where(PulseBallot.id == bindparam("ballot_id"))
    .values(score=bindparam("new_score"), side=bindparam("new_side"), action_ts=bindparam("new_action_ts"))
)


def record_answer(
    conn: Connection,
    pulse_id: int,
    *,
    team_id: str,
    user_id: str,
    question: PulseQuestion,
    score: int,
    action_ts: str,
    now: dt.datetime,
    keys: VoterKeys,
    choose_side: Side | None = None,
) -> AnswerOutcome:
    """Store a person's click: the latest answer per person and question counts, exactly once.

    The pulse must belong to `team_id`'s workspace, or nothing at all is stored. `choose_side` is the
    clicker's answer to "marketing, IT or other?", saved with the answer it was asked for. Safe under
    concurrency on both backends: the unique constraint on (pulse, question, voter) turns a race
    between two first clicks into one insert and one update, and `action_ts` lets the latest click
    win whatever order the clicks arrive in.
    """
    if score not in SCORES:
        raise PulseError(f"pulse scores go from 1 to 5, not {score!r}")
    dialect = conn.dialect.name
    context = conn.execute(
        _CLICK_CONTEXT_LOCKED if dialect == "postgresql" else _CLICK_CONTEXT,
        {"pulse_id": pulse_id, "team_id": team_id, "user_id": user_id},
    ).first()
    if context is None:
        return AnswerOutcome(AnswerStatus.UNKNOWN, score)
    anonymous, salt, check, closes_at, closed_at, timezone, workspace_id, person_id, side = context
    if closed_at is not None or now >= closes_at:
        return AnswerOutcome(
            AnswerStatus.CLOSED,
            score,
            closed_at=closed_at or closes_at,
            timezone=timezone,
            anonymous=anonymous,
        )
    voter = _voter(keys, anonymous, salt, check, user_id)  # before any write: a changed key stores nothing
    if choose_side is not None:
        person_id = conn.execute(
            _SET_SIDE[dialect],
            {"workspace_id": workspace_id, "user_id": user_id, "new_side": choose_side, "now": now},
        ).scalar_one()
        side = choose_side
    if side is None:
        return AnswerOutcome(AnswerStatus.ASK_SIDE, score, timezone=timezone, anonymous=anonymous)
    if (
        question is PulseQuestion.THEME
        and conn.execute(_THEME_ASKED, {"pulse_id": pulse_id}).scalar() is None
    ):
        # This pulse asked no theme question: an answer to one was not made on its message. (Read
        # only for theme clicks, by primary key, so the other clicks stay at three statements.)
        return AnswerOutcome(AnswerStatus.UNKNOWN, score)
    if side is Side.OTHER and question in (PulseQuestion.PARTNER, PulseQuestion.THEME):
        return AnswerOutcome(AnswerStatus.NOT_YOUR_QUESTION, score, timezone=timezone, anonymous=anonymous)
    ballot_keys = {"pulse_id": pulse_id, "question": question, "voter": voter}
    change = {"new_score": score, "new_side": side, "new_action_ts": action_ts}

    def outcome(status: AnswerStatus, shown: int) -> AnswerOutcome:
        return AnswerOutcome(status, shown, timezone=timezone, anonymous=anonymous)

    for _ in range(3):
        ballot = conn.execute(_BALLOT_LOCKED if dialect == "postgresql" else _BALLOT, ballot_keys).first()
        if ballot is None:
            if conn.execute(_NEW_BALLOT[dialect], {**ballot_keys, **change}).first() is None:
                continue  # a concurrent first click of the same person won; take the update path
            status = AnswerStatus.RECORDED
        else:
            ballot_id, previous, previous_side, previous_ts = ballot
            # An equal action_ts is the same click again (a retry or replay); an older one lost.
            if float(action_ts) <= float(previous_ts) or (previous == score and previous_side == side):
                return outcome(AnswerStatus.UNCHANGED, previous)
            conn.execute(_CHANGE_BALLOT, {"ballot_id": ballot_id, **change})
            status = AnswerStatus.CHANGED
        if not anonymous:
            # Who answered what, for a pulse that is not anonymous (its members may see it).
            conn.execute(_NAMED_VOTE[dialect], {**ballot_keys, "person_id": person_id, **change})
        return outcome(status, score)
    raise PulseError(f"the ballot of pulse {pulse_id} kept changing under three attempts")


def withdraw(session: Session, pulse_id: int, question: PulseQuestion, side: Side, score: int) -> None:
    """Take one answer out of a closed pulse's counts (a person asked to be forgotten)."""
    session.execute(
        update(PulseTally)
        .where(
            PulseTally.pulse_id == pulse_id,
            PulseTally.question == question,
            PulseTally.side == side,
            PulseTally.score == score,
            PulseTally.count > 0,
        )
        .values(count=PulseTally.count - 1)
    )


def answer_counts(session: Session, pulse: Pulse) -> dict[tuple[PulseQuestion, Side, int], int]:
    """How many answered each score, per question and side: from the ballots while the pulse is
    open, from its tallies once closed. Never who answered."""
    if pulse.closed_at is None:
        rows = session.execute(
            select(PulseBallot.question, PulseBallot.side, PulseBallot.score, func.count())
            .where(PulseBallot.pulse_id == pulse.id)
            .group_by(PulseBallot.question, PulseBallot.side, PulseBallot.score)
        ).all()
    else:
        rows = session.execute(
            select(PulseTally.question, PulseTally.side, PulseTally.score, PulseTally.count).where(
                PulseTally.pulse_id == pulse.id, PulseTally.count > 0
            )
        ).all()
    return {(question, side, score): int(n) for question, side, score, n in rows}


def answered_count(session: Session, pulse: Pulse) -> int:
    """How many people have answered at least one question (never what they answered)."""
    if pulse.closed_at is None:
        return (
            session.scalar(
                select(func.count(func.distinct(PulseBallot.voter))).where(PulseBallot.pulse_id == pulse.id)
            )
            or 0
        )
    # After close the ballots are gone; the partner and theme questions are asked of marketing and
    # IT, and the level question of everyone, so the largest total is the best public count.
    totals = session.execute(
        select(PulseTally.question, func.sum(PulseTally.count))
        .where(PulseTally.pulse_id == pulse.id)
        .group_by(PulseTally.question)
    ).all()
    return max((int(total or 0) for _, total in totals), default=0)


def has_answered(session: Session, keys: VoterKeys, pulse: Pulse, user_id: str) -> bool:
    voter = voter_key(keys, pulse, user_id)
    return (
        session.scalar(
            select(func.count()).where(PulseBallot.pulse_id == pulse.id, PulseBallot.voter == voter)
        )
        or 0
    ) > 0


def close_pulse(session: Session, pulse: Pulse, *, now: dt.datetime) -> bool:
    """Close `pulse`; True if this call closed it.

    The ballots become counts per question, side and score (inserted in that order, so not even row
    ids follow the order people answered in); then the ballots, the reminder records and the salt are
    deleted, after which nothing links an answer of an anonymous pulse to a person. (Who answered
    what in a pulse that is not anonymous stays in `pulse_votes`, for its members.)
    """
    closed = session.execute(
        update(Pulse)
        .where(Pulse.id == pulse.id, Pulse.closed_at.is_(None))
        .values(closed_at=now, ballot_salt=None, voter_key_check=None)
        .returning(Pulse.id)
    ).scalar_one_or_none()
    if closed is None:
        return False
    # Counts written by an earlier version of Tandem while the pulse was open are rebuilt, not added to.
    session.execute(delete(PulseTally).where(PulseTally.pulse_id == pulse.id))
    counted = (
        select(PulseBallot.pulse_id, PulseBallot.question, PulseBallot.side, PulseBallot.score, func.count())
        .where(PulseBallot.pulse_id == pulse.id)
        .group_by(PulseBallot.pulse_id, PulseBallot.question, PulseBallot.side, PulseBallot.score)
        .order_by(PulseBallot.question, PulseBallot.side, PulseBallot.score)
    )
    session.execute(
        insert(PulseTally).from_select(["pulse_id", "question", "side", "score", "count"], counted)
    )
    session.execute(delete(PulseReminder).where(PulseReminder.pulse_id == pulse.id))
    session.execute(delete(PulseBallot).where(PulseBallot.pulse_id == pulse.id))
    anonymise_comments(session, pulse.id)
    session.refresh(pulse)
    return True


def anonymise_comments(session: Session, pulse_id: int) -> None:
    """At close: the pulse's comments (db.comments) lose their voter, their row ids and their order.

    The keyed rows are deleted and the texts inserted again, shuffled, with no voter: the new ids
    follow the shuffle, not the order people wrote in. (What the deleted rows leave below the SQL is
    erased after the close commits, with the other anonymity tables.)
    """
    rows = [
        (side, text)
        for side, text in session.execute(
            select(PulseComment.side, PulseComment.text).where(
                PulseComment.pulse_id == pulse_id, PulseComment.voter.is_not(None)
            )
        )
    ]
    if not rows:
        return
    session.execute(delete(PulseComment).where(PulseComment.pulse_id == pulse_id))
    random.SystemRandom().shuffle(rows)
    session.execute(
        insert(PulseComment),
        [{"pulse_id": pulse_id, "voter": None, "side": side, "text": text} for side, text in rows],
    )


def claim_reminder(session: Session, pulse_id: int, voter: str) -> bool:
    """True the first time; the unique constraint keeps it to one reminder per pulse per person."""
    return (
        session.execute(
            upsert(session.get_bind().dialect.name, PulseReminder)
            .values(pulse_id=pulse_id, voter=voter)
            .on_conflict_do_nothing(index_elements=["pulse_id", "voter"])
            .returning(PulseReminder.id)
        ).scalar_one_or_none()
        is not None
    )


def count_open(session: Session) -> int:
    """How many pulses are open in installed workspaces."""
    return (
        session.scalar(
            select(func.count(Pulse.id))
            .join(Ritual, Pulse.ritual_id == Ritual.id)
            .join(Workspace, Ritual.workspace_id == Workspace.id)
            .where(Pulse.closed_at.is_(None), Workspace.uninstalled_at.is_(None))
        )
        or 0
    )


def _open_and_installed(session: Session, *where: ColumnElement[bool]) -> list[Pulse]:
    """Open pulses of installed workspaces (an uninstall closes its own, unposted) that match `where`."""
    return list(
        session.scalars(
            select(Pulse)
            .join(Ritual, Pulse.ritual_id == Ritual.id)
            .join(Workspace, Ritual.workspace_id == Workspace.id)
            .where(Pulse.closed_at.is_(None), Workspace.uninstalled_at.is_(None), *where)
        )
    )


def pulses_to_close(session: Session, *, now: dt.datetime) -> list[Pulse]:
    """Open pulses past their time, in installed workspaces."""
    return _open_and_installed(session, Pulse.closes_at <= now)


def open_pulses_of(session: Session, ritual_id: int) -> list[Pulse]:
    return list(session.scalars(select(Pulse).where(Pulse.ritual_id == ritual_id, Pulse.closed_at.is_(None))))


def last_closed_pulse(session: Session, ritual_id: int) -> Pulse | None:
    """The ritual's most recently opened pulse that has closed (its results lead the next check-in)."""
    return session.scalars(
        select(Pulse)
        .where(Pulse.ritual_id == ritual_id, Pulse.closed_at.is_not(None))
        .order_by(Pulse.opened_at.desc())
        .limit(1)
    ).one_or_none()


def previous_closed(session: Session, pulse: Pulse) -> Pulse | None:
    """The ritual's closed pulse opened last before `pulse` (the "last pulse" its results look back at)."""
    return session.scalars(
        select(Pulse)
        .where(
            Pulse.ritual_id == pulse.ritual_id,
            Pulse.closed_at.is_not(None),
            Pulse.opened_at < pulse.opened_at,
        )
        .order_by(Pulse.opened_at.desc())
        .limit(1)
    ).one_or_none()


def rituals_with_closed_pulses(session: Session, ritual_ids: Sequence[int]) -> set[int]:
    """Which of the rituals have a closed pulse at all (one query: only those read pulse figures)."""
    if not ritual_ids:
        return set()
    return set(
        session.scalars(
            select(Pulse.ritual_id)
            .where(Pulse.ritual_id.in_(list(ritual_ids)), Pulse.closed_at.is_not(None))
            .distinct()
        )
    )


def load_pulse(session: Session, pulse_id: int, *, workspace_id: int) -> Pulse | None:
    """The pulse with this id if its ritual is in the workspace `workspace_id`: a pulse of another
    workspace is not found, exactly like an unknown id."""
    return session.scalars(
        select(Pulse)
        .join(Ritual, Ritual.id == Pulse.ritual_id)
        .where(Pulse.id == pulse_id, Ritual.workspace_id == workspace_id)
    ).one_or_none()


def latest_pulse(session: Session, ritual_id: int) -> Pulse | None:
    """The ritual's most recently opened pulse, open or closed."""
    return session.scalars(
        select(Pulse).where(Pulse.ritual_id == ritual_id).order_by(Pulse.opened_at.desc()).limit(1)
    ).one_or_none()


def pulses_to_remind(session: Session, *, now: dt.datetime) -> list[Pulse]:
    """Open pulses whose reminders are due and not sent yet, in installed workspaces."""
    return _open_and_installed(
        session,
        Pulse.reminders_due_at.is_not(None),
        Pulse.reminders_due_at <= now,
        Pulse.reminders_sent_at.is_(None),
    )


# -- figures ---------------------------------------------------------------------------------------


def _figures(counts: dict[int, int], min_answers: int) -> Figures:
    total = sum(counts.values())
    if total < min_answers:
        return Figures(total, None, None)
    return Figures(
        total,
        round(sum(score * n for score, n in counts.items()) / total, 2),
        tuple(counts.get(score, 0) for score in SCORES),
    )


def results(session: Session, pulse: Pulse, *, min_answers: int, with_previous: bool = True) -> PulseResults:
    """The figures of `pulse`, counted in SQL (see `answer_counts`); sides below `min_answers` withheld."""
    min_answers = max(min_answers, MIN_ANSWERS_FLOOR)
    counts: dict[tuple[PulseQuestion, Side], dict[int, int]] = {}
    for (question, side, score), count in answer_counts(session, pulse).items():
        counts.setdefault((question, side), {})[score] = count
    partner = {side: _figures(counts.get((PulseQuestion.PARTNER, side), {}), min_answers) for side in Side}
    level = {side: _figures(counts.get((PulseQuestion.LEVEL, side), {}), min_answers) for side in Side}
    everyone: dict[int, int] = {}
    for side in Side:
        for score, n in counts.get((PulseQuestion.LEVEL, side), {}).items():
            everyone[score] = everyone.get(score, 0) + n
    theme = (
        {side: _figures(counts.get((PulseQuestion.THEME, side), {}), min_answers) for side in Side}
        if pulse.theme_question is not None
        else None
    )
    participation = {
        side: max(partner[side].count, level[side].count, theme[side].count if theme else 0) for side in Side
    }
    mkt, it = partner[Side.MARKETING].average, partner[Side.IT].average
    previous = None
    if with_previous:
        earlier = session.scalars(
            select(Pulse)
            .where(
                Pulse.ritual_id == pulse.ritual_id,
                Pulse.closed_at.is_not(None),
                Pulse.opened_at < pulse.opened_at,
            )
            .order_by(Pulse.opened_at.desc())
            .limit(1)
        ).one_or_none()
        if earlier is not None:
            previous = results(session, earlier, min_answers=min_answers, with_previous=False)
    return PulseResults(
        pulse_id=pulse.id,
        anonymous=pulse.anonymous,
        min_answers=min_answers,
        participation=participation,
        partner=partner,
        level=level,
        level_all=_figures(everyone, min_answers),
        gap=round(mkt - it, 2) if mkt is not None and it is not None else None,
        previous=previous,
        theme_question=pulse.theme_question,
        theme=theme,
        team=team_of(pulse),
    )


def team_of(pulse: Pulse) -> dict[Side, int] | None:
    """Each side's members when the pulse opened, if recorded (pulses from before were not)."""
    if pulse.team_marketing is None or pulse.team_it is None:
        return None
    return {Side.MARKETING: pulse.team_marketing, Side.IT: pulse.team_it}


def votes_for_members(session: Session, pulse: Pulse) -> list[tuple[str, Side, PulseQuestion, int]]:
    """Who answered what, for a pulse that is not anonymous (empty for anonymous ones)."""
    if pulse.anonymous:
        return []
    return [
        (user_id, side, question, score)
        for user_id, side, question, score in session.execute(
            select(Person.slack_user_id, PulseVote.side, PulseVote.question, PulseVote.score)
            .join(Person, PulseVote.person_id == Person.id)
            .where(PulseVote.pulse_id == pulse.id)
            .order_by(Person.slack_user_id, PulseVote.question)
        ).all()
    ]
