"""People: their side, their settings, and forgetting them. Plain values in; nothing here knows Slack."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db import pulses as pulse_db
from db import written_answers as written_db
from db.base import upsert
from db.models import (
    Pairing,
    PairingMember,
    PairingSitOut,
    Person,
    Pulse,
    PulseBallot,
    PulseComment,
    PulseVote,
    Ritual,
    RitualMember,
    Side,
)


def find_person(session: Session, workspace_id: int, user_id: str) -> Person | None:
    return session.scalars(
        select(Person).where(Person.workspace_id == workspace_id, Person.slack_user_id == user_id)
    ).one_or_none()


def get_or_create_person(session: Session, workspace_id: int, user_id: str) -> Person:
    person = find_person(session, workspace_id, user_id)
    if person is None:
        # Two first requests from someone new (a double click, two commands at once) both find
        # nobody: insert-or-ignore under the unique (workspace, user) constraint, then read the row,
        # so the second request uses the first one's row instead of failing on the constraint.
        session.execute(
            upsert(session.get_bind().dialect.name, Person)
            .values(workspace_id=workspace_id, slack_user_id=user_id)
            .on_conflict_do_nothing(index_elements=["workspace_id", "slack_user_id"])
        )
        person = find_person(session, workspace_id, user_id)
        assert person is not None  # inserted, or committed by the request that won the race
    return person


def ritual_people(session: Session, ritual_id: int) -> list[Person]:
    """The ritual's members, as people (their side, their reminder setting)."""
    return list(
        session.scalars(
            select(Person)
            .join(RitualMember, RitualMember.person_id == Person.id)
            .where(RitualMember.ritual_id == ritual_id)
        )
    )


def set_side(session: Session, workspace_id: int, user_id: str, side: Side) -> Person:
    person = get_or_create_person(session, workspace_id, user_id)
    person.side = side
    return person


def set_reminders(session: Session, workspace_id: int, user_id: str, enabled: bool) -> Person:
    person = get_or_create_person(session, workspace_id, user_id)
    person.reminders = enabled
    return person


def set_pairing(session: Session, workspace_id: int, user_id: str, enabled: bool) -> Person:
    """`/tandem pairing on|off`: take part in one-to-one rounds, or not (every ritual of the workspace)."""
    person = get_or_create_person(session, workspace_id, user_id)
    person.pairing = enabled
    return person


def forget_pairings(session: Session, person_id: int) -> int:
    """Delete every one-to-one pairing a person was in (the partner's record of it too: it names
    them) and their sit-outs; how many pairings went."""
    pairing_ids = session.scalars(
        select(PairingMember.pairing_id).where(PairingMember.person_id == person_id)
    ).all()
    if pairing_ids:
        session.execute(delete(Pairing).where(Pairing.id.in_(pairing_ids)))
    session.execute(delete(PairingSitOut).where(PairingSitOut.person_id == person_id))
    return len(pairing_ids)


def forget_person(
    session: Session, workspace_id: int, user_id: str, *, keys: pulse_db.VoterKeys
) -> dict[str, int | str]:
    """Delete a person's side, settings, ritual memberships and non-anonymous answers.

    Their answers to this workspace's open pulses go too (anonymous ones found through the pulse's
    salt while it is still open), and their named answers are taken out of closed pulses' counts;
    answers to closed anonymous pulses were never linked to them, so there is nothing left to find.
    """
    person = find_person(session, workspace_id, user_id)
    if person is None:
        return {}
    deleted: dict[str, int | str] = {}
    if person.side is not None:
        deleted["side"] = person.side.value
    if not person.reminders:
        deleted["reminder setting"] = 1
    votes = session.execute(
        select(PulseVote.pulse_id, PulseVote.question, PulseVote.side, PulseVote.score, Pulse.closed_at)
        .join(Pulse, Pulse.id == PulseVote.pulse_id)
        .where(PulseVote.person_id == person.id)
    ).all()
    for pulse_id, question, side, score, closed_at in votes:
        if closed_at is not None:  # an open pulse is counted from its ballots when it closes
            pulse_db.withdraw(session, pulse_id, question, side, score)
    deleted["non-anonymous answers"] = len(votes)
    open_ballots = open_comments = 0
    open_pulses = session.scalars(
        select(Pulse)
        .join(Ritual, Ritual.id == Pulse.ritual_id)
        .where(Pulse.closed_at.is_(None), Ritual.workspace_id == workspace_id)
    )
    for pulse in open_pulses:
        try:
            voter = pulse_db.voter_key(keys, pulse, user_id)
        except pulse_db.PulseError:
            # Opened under another server key (restore it): their ballot cannot be found, and is
            # counted, with no name, when the pulse closes.
            continue
        removed = session.scalars(
            delete(PulseBallot)
            .where(PulseBallot.pulse_id == pulse.id, PulseBallot.voter == voter)
            .returning(PulseBallot.id)
        ).all()
        if pulse.anonymous:  # named ones were counted with the votes above
            open_ballots += len(removed)
        # Their comment on the open pulse, found through the same key (closed ones name nobody).
        open_comments += len(
            session.scalars(
                delete(PulseComment)
                .where(PulseComment.pulse_id == pulse.id, PulseComment.voter == voter)
                .returning(PulseComment.id)
            ).all()
        )
    if open_ballots:
        deleted["answers to open anonymous pulses"] = open_ballots
    # What they wrote before check-ins (posted with their name) goes, with their unconfirmed draft wins.
    written = written_db.forget_author(session, workspace_id, user_id)
    if written:
        deleted["written answers"] = written
    if open_comments:
        deleted["comments on open pulses"] = open_comments
    pairings = forget_pairings(session, person.id)
    if pairings:
        deleted["one-to-one pairings"] = pairings
    memberships = session.scalars(
        delete(RitualMember).where(RitualMember.person_id == person.id).returning(RitualMember.id)
    ).all()
    if memberships:
        deleted["ritual memberships"] = len(memberships)
    session.execute(delete(PulseVote).where(PulseVote.person_id == person.id))
    session.delete(person)
    return deleted
