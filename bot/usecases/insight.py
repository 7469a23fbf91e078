"""Insight: a ritual's report (a chart and its summary), its export (CSV files), and drift alerts.

Figures come from `db/reports.py`, charts from `bot/charts.py`, words from `bot/blocks/report.py`.
Reports and exports are for the ritual's creator, its members and workspace admins
(`bot.usecases.access`). Files reach Slack one way, `Messenger.upload`: into the ritual's channel
when a report is asked there, otherwise into the asker's DM with Tandem. Drawing a chart takes up to
a second, so it happens in a read-only unit of work, which holds no write lock.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.blocks.comments import build_drift_commit_offer
from bot.blocks.pulse import share
from bot.blocks.report import (
    ALERTS_EXAMPLE,
    EXPORT_EXAMPLE,
    REPORT_EXAMPLE,
    DriftFacts,
    FocusFacts,
    drift_alert,
    export_comment,
    report_period,
    report_summary,
    report_title,
)
from bot.charts import TrendPoint, alt_text, chart_title, render_trend_chart
from bot.messenger import DeliveryError
from bot.services import Services
from bot.usecases import pairing
from bot.usecases.access import (
    Actor,
    RefusalKind,
    Refused,
    RitualRef,
    load_scoped_ritual,
    ritual_by_id,
    ritual_named,
)
from bot.usecases.comments import export_rows as comment_export_rows
from bot.usecases.direct_messages import HeldFile, send_in_working_hours
from bot.usecases.refusals import pause_after_refusal
from db.models import Ritual, Side, Workspace
from db.reports import (
    PulsePoint,
    WeakSpot,
    answer_rows,
    claim_drift_alert,
    commitment_rows,
    detect_drift,
    is_member,
    pulse_points,
    question_rows,
    summarise,
    weak_spot,
    win_rows,
)
from db.rituals import ritual_leads
from db.theme_questions import theme_question

log = logging.getLogger(__name__)

EXPORT_PERIOD = dt.timedelta(days=365)
DRIFT_REPORT_WEEKS = 12

# Called with the ritual's name once the asker may read it, before the slow work: the listener
# acknowledges the command with it ("Preparing the report of …").
Acknowledge = Callable[[str], None]
Prepared = TypeVar("Prepared")


@dataclass(frozen=True)
class Delivery:
    """A report or export that was allowed and prepared: `error` is None when its files went out,
    else Slack's error code."""

    error: str | None = None


# -- building ------------------------------------------------------------------------------------


def trend(points: list[PulsePoint], zone: dt.tzinfo) -> list[TrendPoint]:
    return [
        TrendPoint(
            when=p.opened_at.astimezone(zone).date(),
            marketing_of_it=p.partner[Side.MARKETING].average,
            it_of_marketing=p.partner[Side.IT].average,
            marketing_answers=p.partner[Side.MARKETING].count,
            it_answers=p.partner[Side.IT].count,
            withheld=p.withheld,
        )
        for p in points
    ]


@dataclass(frozen=True)
class Report:
    title: str
    png: bytes
    alt_text: str
    summary: str


def build_report(
    session: Session, ritual: Ritual, *, weeks: int, now: dt.datetime, min_answers: int
) -> Report:
    since = now - dt.timedelta(weeks=weeks)
    points = pulse_points(session, ritual.id, since=since, min_answers=min_answers)
    summary = summarise(session, ritual, points, since=since, until=now)
    series = trend(points, ZoneInfo(ritual.timezone))
    title = report_title(ritual.name, weeks)
    return Report(
        title=title,
        # The chart's own title keeps the period whole and shortens the name (the legend says what
        # is drawn); the file's title says it all.
        png=render_trend_chart(
            series, title=chart_title(ritual.name, report_period(weeks)), min_answers=min_answers
        ),
        alt_text=alt_text(series, title=title),
        summary=_with_pairing(
            report_summary(ritual.name, weeks, summary), session, ritual, since=since, now=now
        ),
    )


def _with_pairing(
    summary: str, session: Session, ritual: Ritual, *, since: dt.datetime, now: dt.datetime
) -> str:
    # The meeting rate of cross-team one-to-ones over the same period, after the pulse summary.
    lines = pairing.report_lines(session, ritual, since=since, now=now)
    return f"{summary}\n\n{lines}" if lines else summary


# A spreadsheet runs a cell that starts with one of these as a formula ("=HYPERLINK(...)" in a win's
# text, say); a leading apostrophe makes it plain text (OWASP's advice for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """`value` safe to open in a spreadsheet: text that could start a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(rows: list[dict[str, object]], fields: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


EXPORT_FIELDS = [
    "section", "date", "pulse_id", "anonymous", "theme", "question", "side", "participation", "answers", "average",
    "score_1", "score_2", "score_3", "score_4", "score_5", "withheld",
    "what", "outcome", "marketing", "it", "link", "due", "closed", "reason",
]  # fmt: skip
ANSWER_FIELDS = ["pulse_date", "pulse_id", "user", "side", "question", "score"]


@dataclass(frozen=True)
class Export:
    # (file name, rows, columns): people are Slack ids here, named at sending time (`_named`).
    tables: list[tuple[str, list[dict[str, object]], list[str]]]
    comment: str

    def people(self) -> set[str]:
        return {
            user_id
            for _, rows, _ in self.tables
            for row in rows
            for column in PEOPLE_COLUMNS
            for user_id in str(row.get(column) or "").split()
        }

    def files(self, names: Mapping[str, str]) -> list[tuple[str, bytes]]:
        """The CSV files, with each person's name instead of their Slack id."""
        return [
            (filename, _csv(_named(rows, names), fields).encode()) for filename, rows, fields in self.tables
        ]


# Columns of an export that hold people (space-separated Slack ids until named).
PEOPLE_COLUMNS = ("marketing", "it", "user")
FORMER_MEMBER = "former member"


def _named(rows: list[dict[str, object]], names: Mapping[str, str]) -> list[dict[str, object]]:
    return [
        {
            key: ", ".join(names.get(u, FORMER_MEMBER) for u in str(value).split())
            if key in PEOPLE_COLUMNS and value
            else value
            for key, value in row.items()
        }
        for row in rows
    ]


def display_names(services: Services, team_id: str, user_ids: set[str]) -> dict[str, str]:
    """Each person's name as Slack shows it now (asked at export time, outside any transaction);
    someone Slack no longer knows, or who left the workspace, is a "former member"."""
    names: dict[str, str] = {}
    for user_id in sorted(user_ids):
        try:
            info = services.messenger.user_info(team_id, user_id)
        except DeliveryError as exc:
            if exc.code != "user_not_found":
                log.warning("a name for the export could not be learnt: %s", exc.reason)
            continue
        if not info.deleted and info.display_name:
            names[user_id] = info.display_name
    return names


def build_export(
    session: Session, ritual: Ritual, *, requester: str, now: dt.datetime, min_answers: int
) -> Export:
    """One CSV of pulse figures, wins and commitments; who answered what only for members, only
    for pulses that were not anonymous."""
    since = now - EXPORT_PERIOD
    points = pulse_points(session, ritual.id, since=since, min_answers=min_answers)
    rows: list[dict[str, object]] = []
    for row in question_rows(points):
        answered, team = row.pop("people_answered"), row.pop("team_size")
        asked = theme_question(str(row.pop("theme_question")))
        if asked is not None:  # the words each side was asked, as the pulse showed them
            row["question"] = (
                f"{row['question']}: {asked.marketing if row['side'] == 'marketing' else asked.it}"
            )
        if isinstance(answered, int):
            row["participation"] = share(answered, team if isinstance(team, int) else None)
        rows.append({"section": "pulse", "date": row.pop("pulse_date"), **row})
    for row in win_rows(session, ritual, since=since):
        rows.append({"section": "win", "what": row.pop("win"), **row})
    for row in commitment_rows(session, ritual, since=since):
        rows.append(
            {
                "section": "commitment",
                "date": row["created"],
                "what": row["commitment"],
                "marketing": row["marketing_owner"],
                "it": row["it_owner"],
                "outcome": row["outcome"],
                "due": row["due"],
                "closed": row["closed"],
                "reason": row["reason"],
            }
        )
    # Comments by side only, never by person, and only a side's whose scores are shown.
    rows.extend(comment_export_rows(session, ritual.id, since=since, min_answers=min_answers))
    tables = [("tandem-export.csv", rows, EXPORT_FIELDS)]
    answers = answer_rows(session, ritual, since=since) if is_member(session, ritual.id, requester) else []
    if answers:
        tables.append(("tandem-answers.csv", answers, ANSWER_FIELDS))
    return Export(
        tables=tables,
        comment=export_comment(
            ritual.name, anonymous_only=all(p.anonymous for p in points), with_answers=bool(answers)
        ),
    )


# -- what people ask for -------------------------------------------------------------------------


def _prepare(
    services: Services,
    actor: Actor,
    ritual_name: str,
    example: str,
    acknowledge: Acknowledge,
    build: Callable[[Session, Ritual], Prepared],
    ritual_id: int | None = None,
) -> Prepared | Refused:
    """`build` from the named ritual (or the one picked by id, `ritual_id`), once the actor may read
    its reports and was told it is coming.

    Building draws charts and reads a year of rows: in a read-only unit of work, which holds no lock.
    """
    found = (
        ritual_by_id(services, actor, ritual_id)
        if ritual_id is not None
        else ritual_named(services, actor, ritual_name, example=example)
    )
    if isinstance(found, Refused):
        return found
    acknowledge(found.name)
    with services.database.read() as session:
        ritual = load_scoped_ritual(session, actor.team_id, found.id)
        if ritual is None:  # deleted since the check
            return Refused(RefusalKind.NOT_FOUND)
        return build(session, ritual)


def _failed(exc: DeliveryError) -> Delivery:
    log.warning("insight files could not be delivered: %s", exc.reason)
    return Delivery(error=exc.code or exc.reason)


def share_report(
    services: Services,
    actor: Actor,
    ritual_name: str,
    weeks: int,
    *,
    acknowledge: Acknowledge,
    ritual_id: int | None = None,
) -> Refused | Delivery:
    """`/tandem report`: the chart and its summary, shared in the ritual's channel when asked there,
    by DM when asked anywhere else (or picked by `ritual_id` in the ritual picker)."""
    now, min_answers = services.clock.now(), services.pulse_settings.min_answers
    prepared = _prepare(
        services,
        actor,
        ritual_name,
        REPORT_EXAMPLE,
        acknowledge,
        lambda session, ritual: (
            build_report(session, ritual, weeks=weeks, now=now, min_answers=min_answers),
            ritual.channel_id,
        ),
        ritual_id,
    )
    if isinstance(prepared, Refused):
        return prepared
    report, ritual_channel = prepared
    in_channel = actor.channel_id == ritual_channel
    try:
        destination = (
            ritual_channel if in_channel else services.messenger.dm_channel(actor.team_id, actor.user_id)
        )
        services.messenger.upload(
            actor.team_id,
            destination,
            content=report.png,
            filename="tandem-report.png",
            title=report.title,
            alt_text=report.alt_text,
            initial_comment=report.summary,
        )
    except DeliveryError as exc:
        if in_channel:
            pause_after_refusal(services, actor.team_id, ritual_channel, exc)
        return _failed(exc)
    return Delivery()


def send_export(
    services: Services,
    actor: Actor,
    ritual_name: str,
    *,
    acknowledge: Acknowledge,
    ritual_id: int | None = None,
) -> Refused | Delivery:
    """`/tandem export`: a year of figures, wins and commitments as CSV, always by DM."""
    now, min_answers = services.clock.now(), services.pulse_settings.min_answers
    export = _prepare(
        services,
        actor,
        ritual_name,
        EXPORT_EXAMPLE,
        acknowledge,
        lambda session, ritual: build_export(
            session, ritual, requester=actor.user_id, now=now, min_answers=min_answers
        ),
        ritual_id,
    )
    if isinstance(export, Refused):
        return export
    # Names, not ids: a CMO reads the file outside Slack. Asked now, so they are today's names.
    names = display_names(services, actor.team_id, export.people())
    try:
        dm = services.messenger.dm_channel(actor.team_id, actor.user_id)
        for index, (filename, content) in enumerate(export.files(names)):
            services.messenger.upload(
                actor.team_id,
                dm,
                content=content,
                filename=filename,
                title=filename,
                initial_comment=export.comment if index == 0 else None,
            )
    except DeliveryError as exc:
        return _failed(exc)
    return Delivery()


def set_drift_alerts(services: Services, actor: Actor, ritual_name: str, on: bool) -> RitualRef | Refused:
    """`/tandem alerts on|off`: whether the ritual's leads get drift alerts."""
    found = ritual_named(services, actor, ritual_name, example=ALERTS_EXAMPLE)
    if isinstance(found, Refused):
        return found
    with services.database.begin() as session:
        ritual = load_scoped_ritual(session, actor.team_id, found.id)
        if ritual is None:
            return Refused(RefusalKind.NOT_FOUND)
        ritual.drift_alerts = on
    return found


def focus_facts(spot: WeakSpot, zone: dt.tzinfo) -> FocusFacts:
    """A weak spot as the words about it need it: the very questions its pulse asked."""
    m = spot.measure
    asked = theme_question(m.question)
    assert asked is not None  # measures are only made of questions Tandem knows (db.reports)
    return FocusFacts(
        theme=m.theme,
        marketing_question=asked.marketing,
        it_question=asked.it,
        day=m.opened_at.astimezone(zone).date(),
        marketing=m.marketing,
        it=m.it,
        widest_gap=spot.widest_gap,
    )


# -- what the clock asks for ---------------------------------------------------------------------


DRIFT_KIND = "drift-alert"


def alert_on_drift(
    services: Services,
    pulse_id: int,
    ritual_id: int,
    *,
    now: dt.datetime,
    min_answers: int,
) -> bool:
    """After a pulse closed: if scores fell or the gap widened twice in a row, DM both leads once.

    The claim is committed before the chart is drawn, in a read-only unit of work that never holds
    the write lock pulse clicks wait for, and the DMs go out after it, in each lead's working hours
    (held until then: `bot.usecases.direct_messages`).
    """
    database = services.database
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None or not ritual.drift_alerts:
            return False
        points = pulse_points(
            session, ritual_id, until=now + dt.timedelta(seconds=1), min_answers=min_answers, limit=3
        )
        drift = detect_drift(points)
        if drift is None or not claim_drift_alert(session, ritual_id, pulse_id):
            return False
    with database.read() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None:
            return False
        recent = pulse_points(
            session, ritual_id, since=now - dt.timedelta(weeks=DRIFT_REPORT_WEEKS), min_answers=min_answers
        )
        # The same measurements and the same rule as the check-in's choice (bot.usecases.checkins).
        spot = weak_spot(recent, themes=ritual.themes or None)
        text = drift_alert(
            DriftFacts(
                ritual_name=ritual.name,
                falling=drift.kind == "falling",
                values=drift.values,
                marketing_of_it=points[-1].partner[Side.MARKETING].average,
                it_of_marketing=points[-1].partner[Side.IT].average,
                focus=focus_facts(spot, ZoneInfo(ritual.timezone)) if spot else None,
            )
        )
        report = build_report(session, ritual, weeks=DRIFT_REPORT_WEEKS, now=now, min_answers=min_answers)
        team = session.get(Workspace, ritual.workspace_id)
        team_id = team.team_id if team else ""
        leads = ritual_leads(session, ritual_id)
        ritual_name = ritual.name
    chart = HeldFile(report.png, "tandem-trend.png", report.title, report.alt_text)
    for user_id in (leads[side] for side in (Side.MARKETING, Side.IT) if side in leads):
        send_in_working_hours(
            services,
            team_id,
            user_id,
            kind=DRIFT_KIND,
            key=f"{DRIFT_KIND}:{pulse_id}:{user_id}",
            text=text,
            file=chart,
            now=now,
        )
        # The chart goes as a file, which takes no buttons: "Make this a commitment" follows it.
        offer_text, offer_blocks = build_drift_commit_offer(ritual_name, pulse_id)
        send_in_working_hours(
            services,
            team_id,
            user_id,
            kind=DRIFT_KIND,
            key=f"{DRIFT_KIND}-commit:{pulse_id}:{user_id}",
            text=offer_text,
            blocks=[b.to_dict() for b in offer_blocks],
            now=now,
        )
    return True
