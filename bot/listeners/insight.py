"""Insight: `/tandem report [ritual] [weeks]`, `/tandem export [ritual]`, `/tandem alerts on|off [ritual]`."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.report import (
    ALERTS_EXAMPLE,
    DEFAULT_WEEKS,
    EXPORT_EXAMPLE,
    REPORT_EXAMPLE,
    InsightArgsError,
    alerts_text,
    not_shared_text,
    parse_alerts_args,
    parse_report_args,
    parse_ritual_name,
    preparing_text,
    report_refusal_text,
)
from bot.listeners.commands import CommandRouter, Invocation
from bot.usecases import insight, pickers
from bot.usecases.access import RefusalKind, Refused


def _answer_refusal(inv: Invocation, refused: Refused) -> None:
    inv.answer(report_refusal_text(refused.kind, detail=refused.detail, ritual_name=refused.ritual_name))


def _render(inv: Invocation, what: str, outcome: Refused | insight.Delivery) -> None:
    if isinstance(outcome, Refused):
        _answer_refusal(inv, outcome)
    elif outcome.error is not None:
        inv.answer(not_shared_text(what, outcome.error))


def _picked_instead(inv: Invocation, what: str, name: str, outcome: object, weeks: int) -> bool:
    """No name typed and none implied (a DM, a channel with none or several): open the picker of the
    person's rituals rather than ask for an exact name. False when it did not (they are in none)."""
    if (
        name
        or inv.acknowledged
        or not isinstance(outcome, Refused)
        or outcome.kind is not RefusalKind.AMBIGUOUS
    ):
        return False
    inv.ack()
    return pickers.open_ritual_picker(inv.services, inv.actor, inv.trigger_id, what, weeks=weeks)


def handle_report(inv: Invocation) -> None:
    try:
        args = parse_report_args(inv.args)
    except InsightArgsError as exc:
        inv.fail(str(exc), REPORT_EXAMPLE)
        return
    outcome = insight.share_report(
        inv.services,
        inv.actor,
        args.ritual_name,
        args.weeks,
        acknowledge=lambda name: inv.answer(preparing_text("report", name)),
    )
    if not _picked_instead(inv, "report", args.ritual_name, outcome, args.weeks):
        _render(inv, "report", outcome)


def handle_export(inv: Invocation) -> None:
    try:
        name = parse_ritual_name(inv.args)
    except InsightArgsError as exc:
        inv.fail(str(exc), EXPORT_EXAMPLE)
        return
    outcome = insight.send_export(
        inv.services,
        inv.actor,
        name,
        acknowledge=lambda name: inv.answer(preparing_text("export", name)),
    )
    if not _picked_instead(inv, "export", name, outcome, DEFAULT_WEEKS):
        _render(inv, "export", outcome)


def handle_alerts(inv: Invocation) -> None:
    try:
        on, name = parse_alerts_args(inv.args)
    except InsightArgsError as exc:
        inv.fail(str(exc), ALERTS_EXAMPLE)
        return
    outcome = insight.set_drift_alerts(inv.services, inv.actor, name, on)
    if isinstance(outcome, Refused):
        _answer_refusal(inv, outcome)
    else:
        inv.answer(alerts_text(on, outcome.name))


def register(app: App, router: CommandRouter) -> None:
    router.add(
        "report",
        usage="report [ritual] [weeks]",
        summary="a chart of how each side rates the other over time, with a short summary",
        example=REPORT_EXAMPLE,
        handler=handle_report,
    )
    router.add(
        "export",
        usage="export [ritual]",
        summary="a CSV of a year of pulses, wins and commitments (by DM)",
        example=EXPORT_EXAMPLE,
        handler=handle_export,
    )
    router.add(
        "alerts",
        usage="alerts on|off [ritual]",
        summary="drift alerts to the two leads when scores fall or the gap widens",
        example=ALERTS_EXAMPLE,
        handler=handle_alerts,
    )
