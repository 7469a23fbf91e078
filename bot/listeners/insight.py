"""Insight: `/tandem report [ritual] [weeks]`, `/tandem export [ritual]`, `/tandem alerts on|off [ritual]`."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.listeners.commands import CommandRouter, Invocation
from bot.listeners.rituals import acting_on
from db.models import Ritual
from jobs.insight import build_export, build_report

REPORT_EXAMPLE = "report Weekly sync 12"
MAX_WEEKS = 104
REFUSAL = "Reports of “{name}” are for its creator, its members and admins."


def register(app: App, router: CommandRouter) -> None:
    def _ritual(inv: Invocation, name: str, example: str):  # type: ignore[no-untyped-def]
        return acting_on(inv, name, example, refusal=REFUSAL)

    def _prepare(inv: Invocation, name: str, example: str, what: str) -> int | None:
        """The ritual's id once the caller may read it, acknowledged with what is being prepared."""
        with _ritual(inv, name, example) as found:
            if found is None:
                return None
            ritual_id, ritual_name = found[1].id, found[1].name
        inv.ack(
            text=f":hourglass_flowing_sand: Preparing the {what} of “{ritual_name}”…",
            response_type="ephemeral",
        )
        return ritual_id

    def _destination(inv: Invocation, ritual_channel: str) -> str:
        # In the ritual's channel the report is shared there; asked from anywhere else, it is a DM.
        if inv.channel_id == ritual_channel:
            return ritual_channel
        return inv.client.conversations_open(users=inv.user_id)["channel"]["id"]

    def handle_report(inv: Invocation) -> None:
        services = inv.services
        name, weeks = inv.args.strip(), 12
        head, _, last = name.rpartition(" ")
        candidate = last or name
        if candidate.isdigit():
            weeks, name = int(candidate), head.strip()
            if not 1 <= weeks <= MAX_WEEKS:
                inv.fail(f"Give a number of weeks from 1 to {MAX_WEEKS}.", REPORT_EXAMPLE)
                return
        now = services.clock.now()
        ritual_id = _prepare(inv, name, REPORT_EXAMPLE, "report")
        if ritual_id is None:
            return
        # Drawing the chart takes up to a second: in a read-only unit of work, which holds no lock.
        with services.database.read() as session:
            ritual = session.get(Ritual, ritual_id)
            if ritual is None:
                return
            report = build_report(
                session, ritual, weeks=weeks, now=now, min_answers=services.pulse_settings.min_answers
            )
            channel_id = ritual.channel_id
        try:
            inv.client.files_upload_v2(
                channel=_destination(inv, channel_id),
                content=report.png,
                filename="tandem-report.png",
                title=report.title,
                alt_txt=report.alt_text,
                initial_comment=report.summary,
            )
        except SlackApiError as exc:
            inv.respond(
                text=f":warning: The report could not be shared ({exc.response.get('error')}).",
                response_type="ephemeral",
            )

    def handle_export(inv: Invocation) -> None:
        services = inv.services
        now = services.clock.now()
        ritual_id = _prepare(inv, inv.args.strip(), "export Weekly sync", "export")
        if ritual_id is None:
            return
        with services.database.read() as session:
            ritual = session.get(Ritual, ritual_id)
            if ritual is None:
                return
            export = build_export(
                session,
                ritual,
                requester=inv.user_id,
                now=now,
                min_answers=services.pulse_settings.min_answers,
            )
        try:
            # Exports go to the person who asked, never into a channel.
            dm = inv.client.conversations_open(users=inv.user_id)["channel"]["id"]
            for index, (filename, content) in enumerate(export.files):
                inv.client.files_upload_v2(
                    channel=dm,
                    content=content,
                    filename=filename,
                    title=filename,
                    initial_comment=export.comment if index == 0 else None,
                )
        except SlackApiError as exc:
            inv.respond(
                text=f":warning: The export could not be sent ({exc.response.get('error')}).",
                response_type="ephemeral",
            )

    def handle_alerts(inv: Invocation) -> None:
        choice, _, name = inv.args.strip().partition(" ")
        if choice.lower() not in ("on", "off"):
            inv.fail(
                "Say `on` or `off`, then the ritual if the channel has several.", "alerts off Weekly sync"
            )
            return
        with _ritual(inv, name.strip(), "alerts off Weekly sync") as found:
            if found is None:
                return
            _, ritual = found
            ritual.drift_alerts = choice.lower() == "on"
            ritual_name = ritual.name
        inv.ack(
            text=f":bell: Drift alerts for “{ritual_name}” are on."
            if choice.lower() == "on"
            else f":no_bell: No more drift alerts for “{ritual_name}”.",
            response_type="ephemeral",
        )

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
        example="export Weekly sync",
        handler=handle_export,
    )
    router.add(
        "alerts",
        usage="alerts on|off [ritual]",
        summary="drift alerts to the two leads when scores fall or the gap widens",
        example="alerts off Weekly sync",
        handler=handle_alerts,
    )
