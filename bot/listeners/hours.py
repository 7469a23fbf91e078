"""`/tandem hours [start-end days]`: show, or (admins) set, when Tandem may DM people."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.hours import (
    HOURS_ADMIN_UNKNOWN,
    HOURS_EXAMPLE,
    HOURS_NOT_ADMIN,
    HOURS_PROBLEM,
    hours_text,
    parse_hours,
)
from bot.listeners.commands import CommandRouter, Invocation
from bot.usecases import direct_messages
from bot.usecases.direct_messages import HoursStatus


def handle_hours(inv: Invocation) -> None:
    if not inv.args:
        outcome = direct_messages.show_hours(inv.services, inv.actor)
    else:
        parsed = parse_hours(inv.args)
        if parsed is None:
            inv.fail(HOURS_PROBLEM, HOURS_EXAMPLE)
            return
        outcome = direct_messages.set_hours(inv.services, inv.actor, *parsed)
    if outcome.status is HoursStatus.NOT_ADMIN:
        text = HOURS_NOT_ADMIN
    elif outcome.status is HoursStatus.ADMIN_UNKNOWN:
        text = HOURS_ADMIN_UNKNOWN
    else:
        hours = outcome.hours
        text = hours_text(hours.start, hours.end, hours.weekdays, changed=outcome.status is HoursStatus.SET)
    inv.ack(text=text, response_type="ephemeral")


def register(app: App, router: CommandRouter) -> None:
    router.add(
        "hours",
        usage="hours [09:00-18:00 mon-fri]",
        summary="when Tandem may send direct messages (admins set it)",
        example=HOURS_EXAMPLE,
        handler=handle_hours,
    )
