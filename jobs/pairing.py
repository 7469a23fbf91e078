"""The pairing job: start due one-to-one rounds, send pending introductions, nudge halfway.

What each step does (read, decide, build, send, record) is in `bot.usecases.pairing`; this module
only says when: every few minutes, so a round starts close to its time and each person's nudge goes
out soon after their working day begins (db/working_hours.py decides whether it is working hours).
"""

from __future__ import annotations

import datetime as dt

from bot.services import Services
from bot.usecases import pairing

# Often enough that a nudge lands within minutes of a recipient's 09:00, cheap enough to run always:
# one read of the pairing rituals, and of unanswered pairs past halfway.
INTERVAL = dt.timedelta(minutes=10)


def run(services: Services, *, now: dt.datetime) -> None:
    pairing.start_due_rounds(services, now=now)
    pairing.send_due_nudges(services, now=now)
