"""The written check-ins job: every minute, open the rounds whose lead time has come (asking each
member in their working hours) and send the reminders that are due; and the outbox's "a check-in was
posted" hook that puts the answers into its thread.

What each does (read, decide, build, send, record) is in `bot.usecases.written_answers`; this module
only says when.
"""

from __future__ import annotations

import datetime as dt
import logging

from bot.services import Services
from bot.usecases import written_answers
from bot.usecases.checkins import PreparedCheckin

log = logging.getLogger(__name__)

# A round opens within a minute of its lead time, and a due reminder goes within a minute.
INTERVAL = dt.timedelta(minutes=1)


def run(services: Services, *, now: dt.datetime) -> None:
    written_answers.open_due_rounds(services, now=now)
    written_answers.send_due_reminders(services, now=now)


def after_checkin(services: Services, checkin: PreparedCheckin, ts: str) -> None:
    """The outbox's hook: a check-in that reached its channel gets its written answers in its thread.

    Never raises: the pulse queued after it must not be lost because of the answers.
    """
    try:
        written_answers.post_answers(
            services, checkin.ritual_id, checkin.scheduled_at, team_id=checkin.team_id, thread_ts=ts
        )
    except Exception:
        log.exception("the written answers of check-in %s could not be queued", checkin.occurrence_id)
