"""The held-DM job: every minute, send the direct messages whose recipient's working hours have come.

What is sent, to whom and when is `bot.usecases.direct_messages`; this module only says when it
runs and which "still wanted?" check each kind of DM gets just before it goes out.
"""

from __future__ import annotations

import datetime as dt

from bot.services import Services
from bot.usecases import direct_messages, leads_digest, pulses, written_answers
from bot.usecases.direct_messages import StillWanted

# A held pulse reminder is dropped when its pulse closed or its recipient answered meanwhile; a held
# leads' digest when its ritual turned the digest off, or the recipient is no longer a lead; a held
# written question or reminder when its check-in started (or, a reminder, when they answered).
STILL_WANTED: dict[str, StillWanted] = {
    pulses.REMINDER_KIND: pulses.reminder_still_wanted,
    leads_digest.KIND: leads_digest.digest_still_wanted,
    written_answers.QUESTION_KIND: written_answers.still_wanted,
    written_answers.REMINDER_KIND: written_answers.still_wanted,
}


def run(services: Services, *, now: dt.datetime) -> int:
    """Send every held DM that is due (each once); returns how many went out."""
    return direct_messages.send_held(services, now=now, still_wanted=STILL_WANTED)
