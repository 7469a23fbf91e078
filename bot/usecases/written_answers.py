"""Written check-ins: before each check-in of a ritual that collects them, every member is DMed the
check-in's prompt with an "Answer" button; what they write is posted, grouped by side and named, in
the check-in's thread ("Marketing said / IT said"), with how many have not answered.

- A round opens `written_lead_hours` before the check-in: claimed under a unique (ritual, check-in
  time) constraint in the unit of work that chooses the prompt (`bot.usecases.checkins.choose_prompt`),
  which the check-in then posts too (`reserved_or_chosen_prompt`). Each member's question goes through
  the held-DM queue (keyed per round and person: asked once), so it arrives in their working hours and
  never after the check-in (its deadline).
- Answers can be saved and edited until the check-in is due; then the round is closed.
- One reminder per member who has not answered, timed when the question reaches them: halfway
  between then and the check-in, pulled back into their working day when that falls outside it (a
  09:00 check-in asked the day before reminds at 17:00 the day before, not at 21:00, which the queue
  would hold until the check-in itself and so never send). Claimed per member before it is sent,
  dropped if they answered or the check-in started meanwhile (`reminder_still_wanted`).
- After the check-in reached its channel, its thread gets the answers once (a claimed column, then a
  tagged post through the channel's paced queue, never retried after an ambiguous outcome).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from bot.blocks.written_answers import (
    AnswerForm,
    Question,
    Summary,
    WrittenEntry,
    build_answer_modal,
    build_question_dm,
    build_reminder_dm,
    build_summary,
)
from bot.ids import parse_row_id
from bot.messenger import DeliveryError, PostTag
from bot.services import Services
from bot.usecases.access import Actor, workspace_id_of
from bot.usecases.checkins import PULSE_LOOKBACK, choose_prompt
from bot.usecases.direct_messages import DmStatus, HeldRef, send_in_working_hours
from bot.usecases.insight import display_names
from bot.usecases.interactions import open_modal
from bot.usecases.refusals import pause_after_refusal
from bot.usecases.submissions import AlreadySaved, Submission, seen_before
from bot.usecases.wins import WinSaved, celebrate_win, win_view
from db import direct_messages as held_db
from db import wins as win_db
from db import written_answers as written_db
from db.cadence import occurrences_between
from db.models import Ritual, Side, Win, WinCredit, Workspace, WrittenRound
from db.people import find_person
from db.reports import pulse_points
from db.rituals import cadence_of, ritual_leads
from db.working_hours import WorkingHours

log = logging.getLogger(__name__)

QUESTION_KIND = "written-question"
REMINDER_KIND = "written-reminder"
# The Slack metadata event type of the thread message (bot.messenger.PostTag), with the round id.
WRITTEN_EVENT = "tandem_written_answers"
# A reminder never comes sooner than this after the question reached someone.
MIN_REMINDER_GAP = dt.timedelta(hours=1)


def _question(written: WrittenRound, ritual: Ritual) -> Question:
    return Question(
        round_id=written.id,
        ritual_name=ritual.name,
        channel_id=ritual.channel_id,
        prompt_text=written.prompt_text,
        checkin_at=written.scheduled_at.astimezone(ZoneInfo(ritual.timezone)),
    )


def _key(kind: str, round_id: int, user_id: str) -> str:
    return f"{kind}:{round_id}:{user_id}"


# -- opening rounds and asking ---------------------------------------------------------------------


def open_due_rounds(services: Services, *, now: dt.datetime) -> int:
    """Open the round of every check-in due within its ritual's lead time (each once, whoever else
    tries), then ask the members of every round not fully asked yet. Returns how many rounds opened."""
    with services.database.read() as session:
        # Read first, write only for a round not opened yet: most minutes open nothing, and a unit of
        # work that writes takes SQLite's one write lock.
        known = written_db.open_round_times(session, now=now)
        due = [
            (r.id, when)
            for r in written_db.written_rituals(session)
            for when in occurrences_between(
                cadence_of(r),
                max(now, r.schedule_from),
                now + min(dt.timedelta(hours=r.written_lead_hours), written_db.MAX_LEAD),
            )
            if (r.id, when) not in known
        ]
    opened = 0
    for ritual_id, when in due:
        try:
            opened += _open_round(services, ritual_id, when, now=now)
        except Exception:
            log.exception("opening the written round of ritual %s failed", ritual_id)
    ask_pending(services, now=now)
    return opened


def _open_round(services: Services, ritual_id: int, when: dt.datetime, *, now: dt.datetime) -> bool:
    with services.database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None or written_db.round_at(session, ritual_id, when) is not None:
            return False
        if written_db.has_occurrence(session, ritual_id, when):
            return False  # skipped ahead of time (or already claimed): nothing to prepare for
        points = pulse_points(
            session,
            ritual.id,
            since=when - PULSE_LOOKBACK,
            min_answers=services.pulse_settings.min_answers,
        )
        prompt, _ = choose_prompt(session, ritual, when, points=points)
        reserved = written_db.ReservedPrompt(prompt.key, str(prompt.theme), prompt.text)
        return written_db.claim_round(session, ritual, when, reserved, now=now) is not None


def ask_pending(services: Services, *, now: dt.datetime) -> int:
    """Ask for each member's question DM of every open round not fully asked (a key per person: a
    second run, process or restart asks nothing twice), and time their one reminder."""
    with services.database.read() as session:
        round_ids = written_db.rounds_to_ask(session, now=now)
    asked = 0
    for round_id in round_ids:
        with services.database.read() as session:
            written = session.get(WrittenRound, round_id)
            ritual = session.get(Ritual, written.ritual_id) if written else None
            workspace = session.get(Workspace, ritual.workspace_id) if ritual else None
            if written is None or ritual is None or workspace is None:
                continue
            team_id, workspace_id = workspace.team_id, workspace.id
            question = _question(written, ritual)
            hours = held_db.working_hours_of(workspace)
            people = written_db.askees(session, round_id)
            deadline = written.scheduled_at
        text, blocks = build_question_dm(question)
        payload = [b.to_dict() for b in blocks]
        for person in people:
            key = _key(QUESTION_KIND, round_id, person.user_id)
            outcome = send_in_working_hours(
                services,
                team_id,
                person.user_id,
                kind=QUESTION_KIND,
                key=key,
                text=text,
                blocks=payload,
                deadline=deadline,
                now=now,
            )
            # Asked before (another process, or a run a restart interrupted): timed from that DM.
            if outcome.status in (DmStatus.SENT, DmStatus.HELD, DmStatus.DUPLICATE):
                asked += outcome.status is not DmStatus.DUPLICATE
                with services.database.begin() as session:
                    reached = (
                        written_db.question_reached(session, workspace_id, key)
                        if outcome.status is DmStatus.DUPLICATE
                        else outcome.not_before or now
                    )
                    if reached is None:
                        continue
                    found = find_person(session, workspace_id, person.user_id)
                    timezone = found.timezone if found else None
                    written_db.set_remind_at(
                        session, person.answer_id, reminder_time(hours, timezone, reached, deadline)
                    )
        with services.database.begin() as session:
            written_db.mark_asked(session, round_id, now=now)
    return asked


def reminder_time(
    hours: WorkingHours, timezone: str | None, reached: dt.datetime, deadline: dt.datetime
) -> dt.datetime | None:
    """When someone the question reached at `reached` is reminded: halfway to the check-in when that
    is working time for them; else an hour before the end of their last working day before it; never
    within an hour of the question, and None when no such time is left before the check-in."""
    target = reached + (deadline - reached) / 2
    earliest = reached + MIN_REMINDER_GAP
    if hours.contains(target, timezone) and target >= earliest:
        return target
    try:
        zone: dt.tzinfo = ZoneInfo(timezone) if timezone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = dt.UTC  # as db.working_hours reads an unknown timezone
    local = target.astimezone(zone)
    for back in range(8):
        day = local.date() - dt.timedelta(days=back)
        if day.weekday() not in hours.weekdays:
            continue
        end = dt.datetime.combine(day, hours.end, tzinfo=zone).astimezone(dt.UTC)
        start = dt.datetime.combine(day, hours.start, tzinfo=zone).astimezone(dt.UTC)
        when = min(max(end - dt.timedelta(hours=1), start), target)
        if when < earliest:
            break
        if hours.contains(when, timezone):
            return when
    # No working time between the question and halfway: the next working start, if before the check-in.
    return hours.deliver_at(max(target, earliest), timezone, deadline=deadline)


# -- reminders ------------------------------------------------------------------------------------------


def send_due_reminders(services: Services, *, now: dt.datetime) -> int:
    """One reminder to each member who has not answered, when theirs is due (claimed once first)."""
    with services.database.begin() as session:
        due = written_db.claim_due_reminders(session, now=now)
        work = []
        for asked in due:
            written = session.get(WrittenRound, asked.round_id)
            ritual = session.get(Ritual, written.ritual_id) if written else None
            workspace = session.get(Workspace, ritual.workspace_id) if ritual else None
            if written is None or ritual is None or workspace is None or not workspace.active:
                continue
            work.append((workspace.team_id, asked, _question(written, ritual), written.scheduled_at))
    sent = 0
    for team_id, asked, question, deadline in work:
        text, blocks = build_reminder_dm(question)
        outcome = send_in_working_hours(
            services,
            team_id,
            asked.user_id,
            kind=REMINDER_KIND,
            key=_key(REMINDER_KIND, asked.round_id, asked.user_id),
            text=text,
            blocks=[b.to_dict() for b in blocks],
            deadline=deadline,
            now=now,
        )
        sent += outcome.status in (DmStatus.SENT, DmStatus.HELD)
    return sent


def _round_of_key(key: str) -> int | None:
    parts = key.split(":")
    return parse_row_id(parts[1]) if len(parts) == 3 else None


def still_wanted(services: Services, held: HeldRef) -> bool:
    """A held question or reminder goes out only while its round is open and its recipient has not
    answered (a reminder) and is still asked in it (they may have left the ritual's workspace data)."""
    round_id = _round_of_key(held.key)
    if round_id is None:
        return False
    with services.database.read() as session:
        written = written_db.load_round(session, held.workspace_id, round_id)
        if written is None or written_db.round_closed(session, written, services.clock.now()):
            return False
        row = written_db.answer_of(session, round_id, held.workspace_id, held.user_id)
        if row is None:
            return False
        return held.kind == QUESTION_KIND or row.answer is None


# -- answering ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    question: Question
    side: Side
    saved: AnswerForm | None


def _load(services: Services, actor: Actor, round_id: int | None) -> Loaded | str:
    """The round and the actor's row in it, or why they may not answer (a refusal kind)."""
    if round_id is None:
        return "not_found"
    with services.database.read() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        written = written_db.load_round(session, workspace_id, round_id) if workspace_id else None
        if written is None:
            return "not_found"
        row = written_db.answer_of(session, round_id, workspace_id, actor.user_id)
        if row is None:
            return "not_asked"
        if written_db.round_closed(session, written, services.clock.now()):
            return "closed"
        ritual = session.get(Ritual, written.ritual_id)
        if ritual is None:
            return "not_found"
        saved = AnswerForm(row.answer, row.need, row.win_text) if row.answer is not None else None
        return Loaded(_question(written, ritual), row.side, saved)


def open_answer_modal(services: Services, actor: Actor, trigger_id: str, round_id: int | None) -> str | None:
    """The "Answer" button: the modal, with the saved answer when there is one; else why not."""
    loaded = _load(services, actor, round_id)
    if isinstance(loaded, str):
        return loaded
    open_modal(services, actor, trigger_id, build_answer_modal(loaded.question, loaded.side, loaded.saved))
    return None


def save_answer(
    services: Services, actor: Actor, round_id: int | None, form: AnswerForm, submission: Submission
) -> str | AlreadySaved | None:
    """Save (or replace) the actor's answer, and its win as a draft; None when saved, else a refusal
    kind (nothing changed). Checked again in the unit of work that writes: the check-in may have
    started since the modal opened."""
    if round_id is None:
        return "not_found"
    now = services.clock.now()
    with services.database.begin() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        written = written_db.load_round(session, workspace_id, round_id) if workspace_id else None
        if written is None:
            return "not_found"
        row = written_db.answer_of(session, round_id, workspace_id, actor.user_id)
        if row is None:
            return "not_asked"
        if written_db.round_closed(session, written, now):
            return "closed"
        ritual = session.get(Ritual, written.ritual_id)
        if ritual is None:
            return "not_found"
        if seen_before(session, workspace_id, submission, now=now):
            return AlreadySaved()
        written_db.save_answer(session, row, answer=form.answer, need=form.need, win_text=form.win, now=now)
        written_db.save_draft_win(session, row, ritual, actor.user_id, now=now)
    return None


# -- the check-in's thread ------------------------------------------------------------------------------


def post_answers(
    services: Services, ritual_id: int, scheduled_at: dt.datetime | None, *, team_id: str, thread_ts: str
) -> bool:
    """A check-in reached its channel: queue its round's answers for its thread, once. False when
    there is nothing to post (no round, nobody asked, or another process took it)."""
    if scheduled_at is None:
        return False  # `/tandem now`: no round is prepared for a check-in at an unplanned second
    # Most check-ins have no written round: a read says so without queueing for the write lock
    # (every check-in of a burst passes here).
    with services.database.read() as session:
        if written_db.round_at(session, ritual_id, scheduled_at) is None:
            return False
    now = services.clock.now()
    with services.database.begin() as session:
        written = written_db.round_at(session, ritual_id, scheduled_at)
        ritual = session.get(Ritual, ritual_id)
        if written is None or ritual is None:
            return False
        rows = written_db.round_answers(session, written.id)
        if not rows or not written_db.claim_summary(session, written.id, now=now):
            return False
        round_id, channel_id, prompt_text = written.id, ritual.channel_id, written.prompt_text
        answered = [
            (user_id, row.side, row.answer, row.need, row.win_text, row.win_id)
            for row, user_id in rows
            if row.answer is not None
        ]
        drafts = set(
            session.scalars(
                select(Win.id).where(
                    Win.id.in_([a[5] for a in answered if a[5] is not None]), Win.draft.is_(True)
                )
            )
        )
        not_answered = len(rows) - len(answered)
    names = display_names(services, team_id, {a[0] for a in answered})
    entries = tuple(
        WrittenEntry(
            user_id=user_id,
            name=names.get(user_id),
            side=side,
            answer=answer or "",
            need=need,
            win=win,
            draft_win_id=win_id if win_id in drafts else None,
        )
        for user_id, side, answer, need, win, win_id in answered
    )
    messages = build_summary(Summary(prompt_text, entries, not_answered))

    def post() -> None:
        for i, (text, blocks) in enumerate(messages):
            try:
                ts = services.messenger.post(
                    team_id,
                    channel_id,
                    text=text,
                    blocks=[b.to_dict() for b in blocks],
                    thread_ts=thread_ts,
                    tag=PostTag(WRITTEN_EVENT, f"{round_id}" if i == 0 else f"{round_id}:{i + 1}"),
                )
            except DeliveryError as exc:
                # Never posted again: a post whose outcome is unknown may be in the thread already.
                log.warning("the written answers of round %s could not be posted: %s", round_id, exc.reason)
                pause_after_refusal(services, team_id, channel_id, exc)
                return
            if i == 0:
                with services.database.begin() as session:
                    posted = session.get(WrittenRound, round_id)
                    if posted is not None:
                        posted.summary_ts = ts

    services.checkins.send(channel_id, post)
    return True


# -- confirming a draft win -----------------------------------------------------------------------------


def confirm_win(services: Services, actor: Actor, win_id: int | None) -> str | None:
    """A lead confirms a written answer's draft win: it becomes a shared win (crediting the lead too,
    so both sides are named when they are of the other side) and is celebrated. None when done."""
    if win_id is None:
        return "not_found"
    now = services.clock.now()
    with services.database.begin() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        win = win_db.load_win(session, workspace_id, win_id) if workspace_id else None
        if win is None or win.ritual_id is None:
            return "not_found"
        if not win.draft or win.withdrawn_at is not None:
            return "win_gone"
        leads = ritual_leads(session, win.ritual_id)
        lead_side = next((side for side, user in leads.items() if user == actor.user_id), None)
        if lead_side is None:
            return "not_lead"
        win.draft = False
        win.created_at = now  # celebrated now: it counts among the wins since the last check-in
        if all(c.user_id != actor.user_id for c in win.credits):
            win.credits.append(WinCredit(user_id=actor.user_id, side=lead_side))
        session.flush()
        info = win_view(win, win_db.win_zone(session, win))
    celebrate_win(services, actor, WinSaved(info))
    return None
