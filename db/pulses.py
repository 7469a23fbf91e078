"""Pulse polls: open, answer, close, and the figures. Plain values in; nothing here knows Slack.

Anonymity is designed into the tables, not added by filtering: reports read `pulse_tallies`
(counts per question, side and score, with no person, time or order). While an anonymous pulse is
open, `pulse_ballots` holds each voter's current answer under an HMAC of their user id with a
per-pulse salt, only so a person can change their own answer; closing deletes the ballots, the
reminder records and the salt, after which nothing links an answer to a person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import (
    Person,
    Pulse,
    PulseBallot,
    PulseQuestion,
    PulseReminder,
    PulseTally,
    PulseVote,
    Ritual,
    Side,
    Workspace,
)

SCORES = (1, 2, 3, 4, 5)
# Below this many answers a side's figures are withheld: with fewer, people could be identified.
MIN_ANSWERS_FLOOR = 3


class AnswerStatus(StrEnum):
    RECORDED = "recorded"  # first answer to this question
    CHANGED = "changed"  # replaced an earlier answer
    UNCHANGED = "unchanged"  # same answer again, or an older click arriving late
    CLOSED = "closed"  # the pulse had closed


@dataclass(frozen=True)
class AnswerOutcome:
    status: AnswerStatus
    score: int
    previous: int | None = None
    closed_at: dt.datetime | None = None


class PulseError(Exception):
    """A user-facing problem with a pulse; the message is shown as is."""


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def voter_key(pulse: Pulse, user_id: str) -> str:
    """How a ballot names its voter: a keyed hash for anonymous pulses, the user id otherwise."""
    if not pulse.anonymous:
        return user_id
    if pulse.ballot_salt is None:
        raise PulseError("This pulse is closed.")
    return hmac.new(pulse.ballot_salt.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def open_pulse(
    session: Session,
    ritual: Ritual,
    *,
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
    )
    if pulse.reminders_due_at is not None and pulse.reminders_due_at <= now:
        pulse.reminders_due_at = None  # a window shorter than the reminder lead: no reminder
    session.add(pulse)
    session.flush()
    return pulse


def _bump(
    session: Session, pulse_id: int, question: PulseQuestion, side: Side, score: int, delta: int
) -> None:
    stmt = _insert(session)(PulseTally).values(
        pulse_id=pulse_id, question=question, side=side, score=score, count=max(delta, 0)
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["pulse_id", "question", "side", "score"],
        set_={"count": PulseTally.count + delta},
    )
    session.execute(stmt)


def record_answer(
    session: Session,
    pulse_id: int,
    *,
    question: PulseQuestion,
    user_id: str,
    person: Person,
    side: Side,
    score: int,
    action_ts: str,
    now: dt.datetime,
) -> AnswerOutcome:
    """Store a person's click: the latest answer per person and question counts, exactly once.

    Safe under concurrency on both backends: the ballot row is locked (PostgreSQL) or the whole
    write is serialised (SQLite's immediate transactions), and the unique constraint on
    (pulse, question, voter) turns a race between two first clicks into one insert and one update.
    """
    if score not in SCORES:
        raise PulseError("Answers go from 1 to 5.")
    # FOR SHARE: clicks do not wait for each other, but closing (an UPDATE) waits for clicks in
    # flight, so no answer lands after a pulse closed.
    pulse = session.scalars(
        select(Pulse).where(Pulse.id == pulse_id).with_for_update(read=True)
    ).one_or_none()
    if pulse is None:
        raise PulseError("This pulse no longer exists.")
    if pulse.closed_at is not None or now >= pulse.closes_at:
        return AnswerOutcome(AnswerStatus.CLOSED, score, closed_at=pulse.closed_at or pulse.closes_at)
    voter = voter_key(pulse, user_id)
    for _ in range(3):
        ballot = session.scalars(
            select(PulseBallot)
            .where(
                PulseBallot.pulse_id == pulse_id, PulseBallot.question == question, PulseBallot.voter == voter
            )
            .with_for_update()
        ).one_or_none()
        if ballot is None:
            inserted = session.execute(
                _insert(session)(PulseBallot)
                .values(
                    pulse_id=pulse_id,
                    question=question,
                    voter=voter,
                    side=side,
                    score=score,
                    action_ts=action_ts,
                )
                .on_conflict_do_nothing(index_elements=["pulse_id", "question", "voter"])
                .returning(PulseBallot.id)
            ).scalar_one_or_none()
            if inserted is None:
                continue  # a concurrent first click won; take the update path
            _bump(session, pulse_id, question, side, score, +1)
            _record_vote(session, pulse, question, person, side, score)
            return AnswerOutcome(AnswerStatus.RECORDED, score)
        if float(action_ts) < float(ballot.action_ts) or (ballot.score == score and ballot.side == side):
            return AnswerOutcome(AnswerStatus.UNCHANGED, ballot.score, previous=ballot.score)
        previous, previous_side = ballot.score, ballot.side
        ballot.score, ballot.side, ballot.action_ts = score, side, action_ts
        _bump(session, pulse_id, question, previous_side, previous, -1)
        _bump(session, pulse_id, question, side, score, +1)
        _record_vote(session, pulse, question, person, side, score)
        return AnswerOutcome(AnswerStatus.CHANGED, score, previous=previous)
    raise PulseError("Your answer could not be saved; please click again.")


def _record_vote(
    session: Session, pulse: Pulse, question: PulseQuestion, person: Person, side: Side, score: int
) -> None:
    if pulse.anonymous:
        return
    stmt = _insert(session)(PulseVote).values(
        pulse_id=pulse.id, question=question, person_id=person.id, side=side, score=score
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["pulse_id", "question", "person_id"], set_={"score": score, "side": side}
        )
    )


def withdraw(session: Session, pulse_id: int, question: PulseQuestion, side: Side, score: int) -> None:
    """Take one answer out of a pulse's counts (a person asked to be forgotten)."""
    _bump(session, pulse_id, question, side, score, -1)


def answered_count(session: Session, pulse: Pulse) -> int:
    """How many people have answered at least one question (never what they answered)."""
    if pulse.closed_at is None:
        return (
            session.scalar(
                select(func.count(func.distinct(PulseBallot.voter))).where(PulseBallot.pulse_id == pulse.id)
            )
            or 0
        )
    # After close the ballots are gone; the partner question is asked of marketing and IT, and the
    # level question of everyone, so the larger of the two totals is the best public count.
    totals = session.execute(
        select(PulseTally.question, func.sum(PulseTally.count))
        .where(PulseTally.pulse_id == pulse.id)
        .group_by(PulseTally.question)
    ).all()
    return max((int(total or 0) for _, total in totals), default=0)


def has_answered(session: Session, pulse: Pulse, user_id: str) -> bool:
    voter = voter_key(pulse, user_id)
    return (
        session.scalar(
            select(func.count()).where(PulseBallot.pulse_id == pulse.id, PulseBallot.voter == voter)
        )
        or 0
    ) > 0


def close_pulse(session: Session, pulse: Pulse, *, now: dt.datetime) -> bool:
    """Close `pulse`; True if this call closed it. Anonymous pulses lose everything that names a voter."""
    closed = session.execute(
        update(Pulse)
        .where(Pulse.id == pulse.id, Pulse.closed_at.is_(None))
        .values(closed_at=now, ballot_salt=None)
        .returning(Pulse.id)
    ).scalar_one_or_none()
    if closed is None:
        return False
    session.execute(delete(PulseReminder).where(PulseReminder.pulse_id == pulse.id))
    if pulse.anonymous:
        session.execute(delete(PulseBallot).where(PulseBallot.pulse_id == pulse.id))
    session.refresh(pulse)
    return True


def claim_reminder(session: Session, pulse_id: int, voter: str) -> bool:
    """True the first time; the unique constraint keeps it to one reminder per pulse per person."""
    return (
        session.execute(
            _insert(session)(PulseReminder)
            .values(pulse_id=pulse_id, voter=voter)
            .on_conflict_do_nothing(index_elements=["pulse_id", "voter"])
            .returning(PulseReminder.id)
        ).scalar_one_or_none()
        is not None
    )


def pulses_to_close(session: Session, *, now: dt.datetime) -> list[Pulse]:
    """Open pulses past their time, in installed workspaces (an uninstall closes its own, unposted)."""
    return list(
        session.scalars(
            select(Pulse)
            .join(Ritual, Pulse.ritual_id == Ritual.id)
            .join(Workspace, Ritual.workspace_id == Workspace.id)
            .where(Pulse.closed_at.is_(None), Pulse.closes_at <= now, Workspace.uninstalled_at.is_(None))
        )
    )


def open_pulses_of(session: Session, ritual_id: int) -> list[Pulse]:
    return list(session.scalars(select(Pulse).where(Pulse.ritual_id == ritual_id, Pulse.closed_at.is_(None))))


# -- figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One side's answers to one question. `average` and `distribution` are None when withheld."""

    count: int
    average: float | None
    distribution: tuple[int, ...] | None  # how many answered 1, 2, 3, 4, 5


@dataclass(frozen=True)
class PulseResults:
    pulse_id: int
    anonymous: bool
    min_answers: int
    participation: dict[Side, int]  # people per side who answered anything
    partner: dict[Side, Figures]  # MARKETING: marketing's score of IT; IT: IT's score of marketing
    level: dict[Side, Figures]  # "is collaboration at the right level?" per side
    level_all: Figures  # the same question, everyone together
    gap: float | None  # marketing's score of IT minus IT's score of marketing
    previous: PulseResults | None = None

    @property
    def withheld(self) -> tuple[Side, ...]:
        """Sides whose figures are not shown because too few of them answered."""
        return tuple(
            side
            for side in (Side.MARKETING, Side.IT)
            if self.participation.get(side, 0) and self.partner[side].average is None
        )


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
    """The figures of `pulse`, computed in SQL from its tallies; sides below `min_answers` withheld."""
    min_answers = max(min_answers, MIN_ANSWERS_FLOOR)
    rows = session.execute(
        select(PulseTally.question, PulseTally.side, PulseTally.score, PulseTally.count).where(
            PulseTally.pulse_id == pulse.id, PulseTally.count > 0
        )
    ).all()
    counts: dict[tuple[PulseQuestion, Side], dict[int, int]] = {}
    for question, side, score, count in rows:
        counts.setdefault((question, side), {})[score] = count
    partner = {side: _figures(counts.get((PulseQuestion.PARTNER, side), {}), min_answers) for side in Side}
    level = {side: _figures(counts.get((PulseQuestion.LEVEL, side), {}), min_answers) for side in Side}
    everyone: dict[int, int] = {}
    for side in Side:
        for score, n in counts.get((PulseQuestion.LEVEL, side), {}).items():
            everyone[score] = everyone.get(score, 0) + n
    participation = {side: max(partner[side].count, level[side].count) for side in Side}
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
    )


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
