"""Noise settings: `/tandem hours [start-end days]` shows, or (admins) sets, when Tandem may DM
people; `/tandem mentions everyone|leads [ritual]` says whom a ritual's check-ins @-mention."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.noise import (
    HOURS_ADMIN_UNKNOWN,
    HOURS_EXAMPLE,
    HOURS_NOT_ADMIN,
    HOURS_PROBLEM,
    MENTIONS_EXAMPLE,
    MENTIONS_PROBLEM,
    hours_text,
    mentions_text,
    parse_hours,
    parse_mentions,
)
from bot.blocks.rituals import refusal_text
from bot.listeners.commands import CommandRouter, Invocation
from bot.usecases import direct_messages, rituals
from bot.usecases.access import Refused
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


def handle_mentions(inv: Invocation) -> None:
    parsed = parse_mentions(inv.args)
    if parsed is None:
        inv.fail(MENTIONS_PROBLEM, MENTIONS_EXAMPLE)
        return
    everyone, name = parsed
    outcome = rituals.set_mentions(inv.services, inv.actor, name, everyone=everyone, example=MENTIONS_EXAMPLE)
    if isinstance(outcome, Refused):
        text = refusal_text(outcome.kind.value, detail=outcome.detail, ritual_name=outcome.ritual_name)
    else:
        text = mentions_text(everyone, outcome.name)
    inv.ack(text=text, response_type="ephemeral")


def register(app: App, router: CommandRouter) -> None:
    router.add(
        "hours",
        usage="hours [09:00-18:00 mon-fri]",
        summary="when Tandem may send direct messages (admins set it)",
        example=HOURS_EXAMPLE,
        handler=handle_hours,
    )
    router.add(
        "mentions",
        usage="mentions everyone|leads [ritual]",
        summary="whether check-ins @-mention every member or only the two leads (the default)",
        example=MENTIONS_EXAMPLE,
        handler=handle_mentions,
    )
