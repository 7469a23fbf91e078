"""The leads' monthly digest job: every ten minutes, DM each lead the digest they are owed.

What is sent, to whom and when is `bot.usecases.leads_digest`; this module only says how often it
runs. Ten minutes apart, a digest due at a lead's working start (09:00 by default) goes out by 09:10.
"""

from __future__ import annotations

import datetime as dt

from bot.services import Services
from bot.usecases import leads_digest

INTERVAL = dt.timedelta(minutes=10)


def run(services: Services, *, now: dt.datetime) -> int:
    """Claim and send the digests due now (each once per ritual, month and lead); returns how many."""
    return leads_digest.send_due_digests(services, now=now)
