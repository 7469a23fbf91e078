"""Written check-ins: rounds of written answers collected before a check-in. Plain values in;
nothing here knows Slack.

A round is claimed under a unique (ritual, check-in time) constraint, with one row per member asked,
in the unit of work that chooses its prompt; answers are rows of their own, so forgetting a person
or a workspace deletes what they wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import CursorResult, delete, exists, select, update
from sqlalchemy.orm import Session, selectinload

from db.base import upsert
from db.models import (
    HeldDm,
    HeldDmStatus,
    Occurrence,
    Person,
    Ritual,
    RitualMember,
    RitualStatus,
    Side,
    Win,
    WinCredit,
    Workspace,
    WrittenAnswer,
    WrittenRound,
)

# How far ahead of a check-in its question may go out (the setup modal offers up to this).
MAX_LEAD = dt.timedelta(hours=72)


@dataclass(frozen=True)
class ReservedPrompt:
    key: str
    theme: str
    text: str


def written_rituals(session: Session) -> list[Ritual]:
    """Active rituals of active workspaces that collect written answers, with their members."""
    return list(
        session.scalars(
            select(Ritual)
            .join(Workspace, Workspace.id == Ritual.workspace_id)
            .where(
                Ritual.written_answers.is_(True),
                Ritual.status == RitualStatus.ACTIVE,
                Workspace.uninstalled_at.is_(None),
            )
            .options(selectinload(Ritual.members).selectinload(RitualMember.person))
            .order_by(Ritual.id)
        )
    )


def has_occurrence(session: Session, ritual_id: int, scheduled_at: dt.datetime) -> bool:
    """Whether that check-in has a row already (claimed, posted, or skipped ahead with /tandem skip)."""
    return bool(
        session.scalar(
            select(exists().where(Occurrence.ritual_id == ritual_id, Occurrence.scheduled_at == scheduled_at))
        )
    )


def claim_round(
    session: Session,
    ritual: Ritual,
    scheduled_at: dt.datetime,
    prompt: ReservedPrompt,
    *,
    now: dt.datetime,
) -> int | None:
    """Open the round of the check-in at `scheduled_at`, asking every member; its id if this caller
    won it, None if anyone (any process) had it already."""
    round_id = session.execute(
        upsert(session.get_bind().dialect.name, WrittenRound)
        .values(
            ritual_id=ritual.id,
            scheduled_at=scheduled_at,
            opened_at=now,
            prompt_key=prompt.key,
            prompt_theme=prompt.theme,
            prompt_text=prompt.text,
        )
        .on_conflict_do_nothing(index_elements=["ritual_id", "scheduled_at"])
        .returning(WrittenRound.id)
    ).scalar_one_or_none()
    if round_id is None:
        return None
    for member in ritual.members:
        if member.side in (Side.MARKETING, Side.IT):
            session.add(WrittenAnswer(round_id=round_id, person_id=member.person_id, side=member.side))
    session.flush()
    return round_id


def round_at(session: Session, ritual_id: int, scheduled_at: dt.datetime) -> WrittenRound | None:
    return session.scalars(
        select(WrittenRound).where(
            WrittenRound.ritual_id == ritual_id, WrittenRound.scheduled_at == scheduled_at
        )
    ).one_or_none()


def reserved_prompt(session: Session, ritual_id: int, scheduled_at: dt.datetime) -> ReservedPrompt | None:
    """The prompt the round of this check-in asked members about: the check-in posts the same one."""
    found = round_at(session, ritual_id, scheduled_at)
    if found is None:
        return None
    return ReservedPrompt(found.prompt_key, found.prompt_theme, found.prompt_text)


def rounds_after(
    session: Session, ritual_ids: Sequence[int], *, since: dt.datetime
) -> dict[int, list[tuple[dt.datetime, ReservedPrompt]]]:
    """The rituals' written rounds of check-ins after `since` (the earliest of their last posted
    check-ins), by ritual, in check-in order: one query for a whole batch of check-ins."""
    found: dict[int, list[tuple[dt.datetime, ReservedPrompt]]] = {}
    if not ritual_ids:
        return found
    rows = session.execute(
        select(
            WrittenRound.ritual_id,
            WrittenRound.scheduled_at,
            WrittenRound.prompt_key,
            WrittenRound.prompt_theme,
            WrittenRound.prompt_text,
        )
        .where(WrittenRound.ritual_id.in_(list(ritual_ids)), WrittenRound.scheduled_at > since)
        .order_by(WrittenRound.scheduled_at)
    )
    for ritual_id, scheduled_at, key, theme, text in rows:
        found.setdefault(ritual_id, []).append((scheduled_at, ReservedPrompt(key, theme, text)))
    return found


def pending_prompt_keys(session: Session, ritual_id: int, *, other_than: dt.datetime) -> list[str]:
    """Prompts reserved by other rounds whose check-in has not been claimed yet: the rotation counts
    them as used, so two open rounds (a lead time longer than the cadence) never ask the same one."""
    return list(
        session.scalars(
            select(WrittenRound.prompt_key)
            .where(
                WrittenRound.ritual_id == ritual_id,
                WrittenRound.scheduled_at != other_than,
                ~exists().where(
                    Occurrence.ritual_id == WrittenRound.ritual_id,
                    Occurrence.scheduled_at == WrittenRound.scheduled_at,
                ),
            )
            .order_by(WrittenRound.scheduled_at)
        )
    )


def load_round(session: Session, workspace_id: int, round_id: int) -> WrittenRound | None:
    """The round with this id if its ritual belongs to the workspace."""
    return session.scalars(
        select(WrittenRound)
        .join(Ritual, Ritual.id == WrittenRound.ritual_id)
        .where(WrittenRound.id == round_id, Ritual.workspace_id == workspace_id)
    ).one_or_none()


def answer_of(session: Session, round_id: int, workspace_id: int, user_id: str) -> WrittenAnswer | None:
    """The row of `user_id` in the round: None when they were not asked in it."""
    return session.scalars(
        select(WrittenAnswer)
        .join(Person, Person.id == WrittenAnswer.person_id)
        .where(
            WrittenAnswer.round_id == round_id,
            Person.workspace_id == workspace_id,
            Person.slack_user_id == user_id,
        )
    ).one_or_none()


def round_closed(session: Session, written: WrittenRound, now: dt.datetime) -> bool:
    """Answers close when the check-in is due, or was claimed or skipped ahead (it has an occurrence
    row), or its answers were taken for the thread; and when its ritual was paused or deleted."""
    if now >= written.scheduled_at or written.summary_claimed_at is not None:
        return True
    status = session.scalar(select(Ritual.status).where(Ritual.id == written.ritual_id))
    return status is not RitualStatus.ACTIVE or has_occurrence(
        session, written.ritual_id, written.scheduled_at
    )


def open_round_times(session: Session, *, now: dt.datetime) -> set[tuple[int, dt.datetime]]:
    """(ritual, check-in time) of every round whose check-in is still ahead."""
    return {
        (ritual_id, when)
        for ritual_id, when in session.execute(
            select(WrittenRound.ritual_id, WrittenRound.scheduled_at).where(WrittenRound.scheduled_at > now)
        )
    }


@dataclass(frozen=True)
class Asked:
    """A member a round asks (or reminds), as the DMs need them."""

    round_id: int
    answer_id: int
    user_id: str


def rounds_to_ask(session: Session, *, now: dt.datetime) -> list[int]:
    """Rounds still open whose question DMs were not all asked for (just opened, or a crash between)."""
    return list(
        session.scalars(
            select(WrittenRound.id)
            .where(WrittenRound.asked_at.is_(None), WrittenRound.scheduled_at > now)
            .order_by(WrittenRound.id)
        )
    )


def askees(session: Session, round_id: int) -> list[Asked]:
    rows = session.execute(
        select(WrittenAnswer.id, Person.slack_user_id)
        .join(Person, Person.id == WrittenAnswer.person_id)
        .where(WrittenAnswer.round_id == round_id)
        .order_by(WrittenAnswer.id)
    )
    return [Asked(round_id, answer_id, user_id) for answer_id, user_id in rows]


def set_remind_at(session: Session, answer_id: int, when: dt.datetime | None) -> None:
    session.execute(
        update(WrittenAnswer)
        .where(WrittenAnswer.id == answer_id, WrittenAnswer.remind_at.is_(None))
        .values(remind_at=when)
    )


def question_reached(session: Session, workspace_id: int, key: str) -> dt.datetime | None:
    """When the question DM under `key` reached (or will reach) its recipient: asked for by another
    run or process, or before a restart. None when it was skipped or refused (no reminder then)."""
    held = session.scalars(
        select(HeldDm).where(HeldDm.workspace_id == workspace_id, HeldDm.key == key)
    ).one_or_none()
    if held is None or held.status in (HeldDmStatus.SKIPPED, HeldDmStatus.FAILED):
        return None
    return held.sent_at or held.not_before


def mark_asked(session: Session, round_id: int, *, now: dt.datetime) -> None:
    session.execute(update(WrittenRound).where(WrittenRound.id == round_id).values(asked_at=now))


def claim_due_reminders(session: Session, *, now: dt.datetime) -> list[Asked]:
    """Members who have not answered and whose reminder is due, each claimed once (a conditional
    update: two schedulers never both win one)."""
    due = session.execute(
        select(WrittenAnswer.id, WrittenAnswer.round_id, Person.slack_user_id)
        .join(Person, Person.id == WrittenAnswer.person_id)
        .join(WrittenRound, WrittenRound.id == WrittenAnswer.round_id)
        .join(Ritual, Ritual.id == WrittenRound.ritual_id)
        .where(
            WrittenAnswer.answer.is_(None),
            WrittenAnswer.reminded_at.is_(None),
            WrittenAnswer.remind_at <= now,
            WrittenRound.scheduled_at > now,
            WrittenRound.summary_claimed_at.is_(None),
            Ritual.status == RitualStatus.ACTIVE,
            # Skipped ahead with /tandem skip: there is no check-in to remind of.
            ~exists().where(
                Occurrence.ritual_id == WrittenRound.ritual_id,
                Occurrence.scheduled_at == WrittenRound.scheduled_at,
            ),
        )
        .order_by(WrittenAnswer.id)
    ).all()
    claimed: list[Asked] = []
    for answer_id, round_id, user_id in due:
        taken = session.execute(
            update(WrittenAnswer)
            .where(WrittenAnswer.id == answer_id, WrittenAnswer.reminded_at.is_(None))
            .values(reminded_at=now)
        )
        if _count(taken):
            claimed.append(Asked(round_id, answer_id, user_id))
    return claimed


def claim_summary(session: Session, round_id: int, *, now: dt.datetime) -> bool:
    """Take the round's answers for the check-in's thread: True for exactly one caller."""
    taken = session.execute(
        update(WrittenRound)
        .where(WrittenRound.id == round_id, WrittenRound.summary_claimed_at.is_(None))
        .values(summary_claimed_at=now)
    )
    return bool(_count(taken))


def save_answer(
    session: Session,
    row: WrittenAnswer,
    *,
    answer: str,
    need: str | None,
    win_text: str | None,
    now: dt.datetime,
) -> None:
    if row.answered_at is None:
        row.answered_at = now
    else:
        row.updated_at = now
    row.answer, row.need, row.win_text = answer, need or None, win_text or None


def save_draft_win(
    session: Session, row: WrittenAnswer, ritual: Ritual, user_id: str, *, now: dt.datetime
) -> None:
    """Keep the answer's win as a draft win (credited to its writer) for a lead to confirm: created,
    edited while still a draft, or deleted when the answer no longer has one."""
    draft = session.get(Win, row.win_id) if row.win_id is not None else None
    if draft is not None and not draft.draft:
        return  # a lead confirmed it already: it is a win of its own now
    if not row.win_text:
        if draft is not None:
            session.delete(draft)
            row.win_id = None
        return
    if draft is None:
        draft = Win(
            workspace_id=ritual.workspace_id,
            ritual_id=ritual.id,
            channel_id=ritual.channel_id,
            what=row.win_text,
            created_by=user_id,
            created_at=now,
            draft=True,
        )
        draft.credits.append(WinCredit(user_id=user_id, side=row.side))
        session.add(draft)
        session.flush()
        row.win_id = draft.id
    else:
        draft.what = row.win_text
        draft.updated_at = now


def round_answers(session: Session, round_id: int) -> list[tuple[WrittenAnswer, str]]:
    """Every member asked in the round with their Slack user id, in the order they were asked."""
    return [
        (row, user_id)
        for row, user_id in session.execute(
            select(WrittenAnswer, Person.slack_user_id)
            .join(Person, Person.id == WrittenAnswer.person_id)
            .where(WrittenAnswer.round_id == round_id)
            .order_by(WrittenAnswer.id)
        ).all()
    ]


def forget_author(session: Session, workspace_id: int, user_id: str) -> int:
    """Delete what `user_id` wrote in this workspace's rounds (and their unconfirmed draft wins);
    returns how many answers there were."""
    person_id = session.scalar(
        select(Person.id).where(Person.workspace_id == workspace_id, Person.slack_user_id == user_id)
    )
    if person_id is None:
        return 0
    drafts = [
        win_id
        for win_id in session.scalars(
            select(WrittenAnswer.win_id).where(
                WrittenAnswer.person_id == person_id, WrittenAnswer.win_id.is_not(None)
            )
        )
        if win_id is not None
    ]
    removed = session.scalars(
        delete(WrittenAnswer)
        .where(WrittenAnswer.person_id == person_id, WrittenAnswer.answer.is_not(None))
        .returning(WrittenAnswer.id)
    ).all()
    session.execute(delete(WrittenAnswer).where(WrittenAnswer.person_id == person_id))
    _delete_drafts(session, drafts)
    return len(removed)


def forget_workspace(session: Session, workspace_id: int) -> int:
    """An uninstall: every round of the workspace goes, with its answers and draft wins."""
    round_ids: Sequence[int] = session.scalars(
        select(WrittenRound.id)
        .join(Ritual, Ritual.id == WrittenRound.ritual_id)
        .where(Ritual.workspace_id == workspace_id)
    ).all()
    if not round_ids:
        return 0
    drafts = [
        w
        for w in session.scalars(
            select(WrittenAnswer.win_id).where(
                WrittenAnswer.round_id.in_(round_ids), WrittenAnswer.win_id.is_not(None)
            )
        )
        if w is not None
    ]
    session.execute(delete(WrittenAnswer).where(WrittenAnswer.round_id.in_(round_ids)))
    session.execute(delete(WrittenRound).where(WrittenRound.id.in_(round_ids)))
    _delete_drafts(session, drafts)
    return len(round_ids)


def _delete_drafts(session: Session, win_ids: Sequence[int]) -> None:
    if win_ids:
        session.execute(delete(Win).where(Win.id.in_(list(win_ids)), Win.draft.is_(True)))


def _count(result: object) -> int:
    # An UPDATE's result is a CursorResult, which has the row count; Session.execute says only Result.
    return result.rowcount or 0 if isinstance(result, CursorResult) else 0
