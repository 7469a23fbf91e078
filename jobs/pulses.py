"""Pulse jobs: open a pulse with a check-in, close due pulses and report, remind, keep counts fresh.

Each function is one or more short units of work around Slack calls, never a transaction held open
across a call to Slack.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.blocks.pulse import PulseView, build_pulse_message, build_reminder_dm, build_results
from bot.messenger import DeliveryError, Messenger
from bot.services import PulseSettings
from bot.usecases.checkins import PreparedCheckin
from bot.usecases.insight import alert_on_drift
from db import pulses as pulse_db
from db.models import Person, Pulse, Ritual, RitualMember, Workspace
from db.rituals import next_time
from db.session import Database

log = logging.getLogger(__name__)

# Slack's chat.update is Tier 3 (about 50 a minute): one refresh of a pulse's count every few
# seconds keeps a busy pulse far below that, however many people click.
COUNT_REFRESH_SECONDS = 3.0


Sender = Callable[[str, Callable[[], None]], None]  # (channel id, send) -> queued for the channel's slot


def _team_of(session, ritual: Ritual) -> str:  # type: ignore[no-untyped-def]
    workspace = session.get(Workspace, ritual.workspace_id)
    return workspace.team_id if workspace else ""


def view_of(session, pulse: Pulse) -> PulseView:  # type: ignore[no-untyped-def]
    ritual = session.get(Ritual, pulse.ritual_id)
    zone = ZoneInfo(ritual.timezone) if ritual else ZoneInfo("UTC")
    return PulseView(
        pulse_id=pulse.id,
        ritual_name=ritual.name if ritual else "",
        anonymous=pulse.anonymous,
        answered=pulse_db.answered_count(session, pulse),
        closes_at_local=pulse.closes_at.astimezone(zone),
        closed=pulse.closed_at is not None,
        closed_at_local=pulse.closed_at.astimezone(zone) if pulse.closed_at else None,
    )


def open_pulse_for(
    database: Database,
    messenger: Messenger,
    send: Sender,
    *,
    ritual_id: int,
    owner: str,
    now: dt.datetime,
    settings: PulseSettings,
    occurrence_id: int | None = None,
    thread_ts: str | None = None,
    close_earlier: Callable[[int], None] | None = None,
    theme: str | None = None,
) -> int | None:
    """Open a pulse for the ritual and queue its message; returns the pulse id (None if the ritual is gone)."""
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None:
            return None
        still_open = [p.id for p in pulse_db.open_pulses_of(session, ritual_id)]
        # A pulse closes at the ritual's next check-in at the latest.
        next_checkin = next_time(ritual, now)
        pulse = pulse_db.open_pulse(
            session,
            ritual,
            owner=owner,
            now=now,
            occurrence_id=occurrence_id,
            closes_at=next_checkin,
            reminder_hours=settings.reminder_hours,
        )
        pulse.thread_ts = thread_ts
        pulse.theme = theme
        pulse_id, channel_id, team_id = pulse.id, pulse.channel_id, _team_of(session, ritual)
        text, blocks = build_pulse_message(view_of(session, pulse))
    if close_earlier is not None:
        for earlier in still_open:
            close_earlier(earlier)
    payload = [b.to_dict() for b in blocks]

    def post() -> None:
        try:
            ts = messenger.post(team_id, channel_id, text=text, blocks=payload)
        except DeliveryError as exc:
            log.warning("the message of pulse %s could not be posted: %s", pulse_id, exc.reason)
            return
        with database.begin() as session:
            posted = session.get(Pulse, pulse_id)
            if posted is not None:
                posted.message_ts = ts
                posted.thread_ts = posted.thread_ts or ts

    send(channel_id, post)
    return pulse_id


def pulse_after_checkin(
    database: Database,
    messenger: Messenger,
    send: Sender,
    settings: PulseSettings,
    clock: Callable[[], dt.datetime],
) -> Callable[[PreparedCheckin, str], None]:
    """The outbox's hook: a check-in of a ritual with pulses on brings its pulse, in its thread."""

    def after(checkin: PreparedCheckin, ts: str) -> None:
        with database.begin() as session:
            ritual = session.get(Ritual, checkin.ritual_id)
            if ritual is None or not ritual.pulse_enabled:
                return
        now = clock()
        open_pulse_for(
            database,
            messenger,
            send,
            ritual_id=checkin.ritual_id,
            owner=checkin.created_by,
            now=now,
            settings=settings,
            occurrence_id=checkin.occurrence_id,
            thread_ts=ts,
            theme=checkin.prompt_theme,
            close_earlier=lambda pulse_id: close_and_report(
                database, messenger, pulse_id, now=now, settings=settings
            ),
        )

    return after


# Told (team id, member user ids) after a pulse closed, so their App Home tabs can be refreshed.
ClosedHook = Callable[[str, list[str]], None]


def close_and_report(
    database: Database,
    messenger: Messenger,
    pulse_id: int,
    *,
    now: dt.datetime,
    settings: PulseSettings,
    on_closed: ClosedHook | None = None,
) -> bool:
    """Close one pulse (if still open), post its results in the thread and mark its message closed."""
    with database.begin() as session:
        pulse = session.get(Pulse, pulse_id)
        if pulse is None or not pulse_db.close_pulse(session, pulse, now=now):
            return False
        ritual = session.get(Ritual, pulse.ritual_id)
        team_id = _team_of(session, ritual) if ritual else ""
        figures = pulse_db.results(session, pulse, min_answers=settings.min_answers)
        text, blocks = build_results(figures, ritual_name=ritual.name if ritual else "")
        closed_text, closed_blocks = build_pulse_message(view_of(session, pulse))
        ritual_id = pulse.ritual_id
        channel_id, message_ts, thread_ts = (
            pulse.channel_id,
            pulse.message_ts,
            pulse.thread_ts or pulse.message_ts,
        )
        members = list(
            session.scalars(
                select(Person.slack_user_id)
                .join(RitualMember, RitualMember.person_id == Person.id)
                .where(RitualMember.ritual_id == pulse.ritual_id)
            )
        )
    try:
        messenger.post(
            team_id, channel_id, text=text, blocks=[b.to_dict() for b in blocks], thread_ts=thread_ts
        )
        if message_ts:
            messenger.update(
                team_id, channel_id, message_ts, text=closed_text, blocks=[b.to_dict() for b in closed_blocks]
            )
    except DeliveryError as exc:
        log.warning("results of pulse %s could not be posted: %s", pulse_id, exc.reason)
    if on_closed is not None:
        on_closed(team_id, members)
    try:
        alert_on_drift(database, messenger, pulse_id, ritual_id, now=now, min_answers=settings.min_answers)
    except Exception:
        log.exception("the drift check after pulse %s failed", pulse_id)
    return True


def close_due(
    database: Database,
    messenger: Messenger,
    *,
    now: dt.datetime,
    settings: PulseSettings,
    on_closed: ClosedHook | None = None,
) -> int:
    with database.begin() as session:
        due = [p.id for p in pulse_db.pulses_to_close(session, now=now)]
    return sum(
        close_and_report(database, messenger, pulse_id, now=now, settings=settings, on_closed=on_closed)
        for pulse_id in due
    )


def send_reminders(database: Database, messenger: Messenger, *, now: dt.datetime) -> int:
    """One DM to each ritual member who has not answered, some hours before the pulse closes."""
    sent = 0
    with database.begin() as session:
        due = list(
            session.scalars(
                select(Pulse)
                .join(Ritual, Pulse.ritual_id == Ritual.id)
                .join(Workspace, Ritual.workspace_id == Workspace.id)
                .where(
                    Pulse.closed_at.is_(None),
                    Pulse.reminders_due_at.is_not(None),
                    Pulse.reminders_due_at <= now,
                    Pulse.reminders_sent_at.is_(None),
                    Workspace.uninstalled_at.is_(None),
                )
            )
        )
        work: list[tuple[str, str, str, PulseView]] = []
        for pulse in due:
            pulse.reminders_sent_at = now
            ritual = session.get(Ritual, pulse.ritual_id)
            if ritual is None:
                continue
            team_id = _team_of(session, ritual)
            view = view_of(session, pulse)
            members = session.scalars(
                select(Person)
                .join(RitualMember, RitualMember.person_id == Person.id)
                .where(RitualMember.ritual_id == ritual.id)
            )
            for person in members:
                if not person.reminders or pulse_db.has_answered(session, pulse, person.slack_user_id):
                    continue
                voter = pulse_db.voter_key(pulse, person.slack_user_id)
                claimed = pulse_db.claim_reminder(session, pulse.id, voter)
                if claimed:
                    work.append((team_id, person.slack_user_id, pulse.channel_id, view))
    for team_id, user_id, channel_id, view in work:
        text, blocks = build_reminder_dm(view, channel_id)
        try:
            messenger.dm(team_id, user_id, text=text, blocks=[b.to_dict() for b in blocks])
            sent += 1
        except DeliveryError as exc:
            log.warning("a pulse reminder could not be sent: %s", exc.reason)
    return sent


class CountRefresher:
    """Keeps each open pulse's "N people have answered" line fresh without flooding chat.update."""

    def __init__(
        self, database: Database, messenger: Messenger, *, interval: float = COUNT_REFRESH_SECONDS
    ) -> None:
        self.database = database
        self.messenger = messenger
        self.interval = interval
        self._dirty: set[int] = set()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tandem-pulse-counts", daemon=True)
        self._thread.start()

    def mark(self, pulse_id: int) -> None:
        with self._cond:
            self._dirty.add(pulse_id)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._dirty:
                    return
                batch, self._dirty = self._dirty, set()
            for pulse_id in batch:
                self.refresh(pulse_id)
            # At most one round of updates per interval, however many clicks arrive meanwhile.
            deadline = time.monotonic() + self.interval
            with self._cond:
                while not self._stopping and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)

    def refresh(self, pulse_id: int) -> None:
        with self.database.begin() as session:
            pulse = session.get(Pulse, pulse_id)
            if pulse is None or pulse.message_ts is None or pulse.closed_at is not None:
                return
            ritual = session.get(Ritual, pulse.ritual_id)
            team_id = _team_of(session, ritual) if ritual else ""
            text, blocks = build_pulse_message(view_of(session, pulse))
            channel_id, ts = pulse.channel_id, pulse.message_ts
        try:
            self.messenger.update(team_id, channel_id, ts, text=text, blocks=[b.to_dict() for b in blocks])
        except DeliveryError as exc:
            log.warning("the count of pulse %s could not be refreshed: %s", pulse_id, exc.reason)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=10)
