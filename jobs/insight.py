"""Reports, exports and drift alerts: figures from db/reports.py, charts from bot/charts.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.blocks.report import drift_alert, export_comment, report_summary
from bot.charts import TrendPoint, alt_text, chart_title, render_trend_chart
from bot.messenger import DeliveryError, Messenger
from db.models import Ritual, Side, Workspace
from db.prompt_library import Theme
from db.reports import (
    PulsePoint,
    answer_rows,
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
from db.session import Database

log = logging.getLogger(__name__)

EXPORT_PERIOD = dt.timedelta(days=365)


def theme_label(slug: str) -> str:
    try:
        return Theme(slug).label
    except ValueError:
        return slug


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
    # The file's title can say it all; the chart's own title must fit on one line at preview size,
    # so it keeps the period whole and shortens the name (the legend says what is drawn).
    title = f"{ritual.name}: how marketing and IT rate each other, last {weeks} weeks"
    return Report(
        title=title,
        png=render_trend_chart(
            series, title=chart_title(ritual.name, f"last {weeks} weeks"), min_answers=min_answers
        ),
        alt_text=alt_text(series, title=title),
        summary=report_summary(ritual.name, weeks, summary),
    )


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
    "section", "date", "pulse_id", "anonymous", "question", "side", "answers", "average",
    "score_1", "score_2", "score_3", "score_4", "score_5", "withheld",
    "what", "outcome", "marketing", "it", "link", "due", "closed", "reason",
]  # fmt: skip


@dataclass(frozen=True)
class Export:
    files: list[tuple[str, bytes]]
    comment: str


def build_export(
    session: Session, ritual: Ritual, *, requester: str, now: dt.datetime, min_answers: int
) -> Export:
    """One CSV of pulse figures, wins and commitments; who answered what only for members, only
    for pulses that were not anonymous."""
    since = now - EXPORT_PERIOD
    points = pulse_points(session, ritual.id, since=since, min_answers=min_answers)
    rows: list[dict[str, object]] = []
    for row in question_rows(points):
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
    files = [("tandem-export.csv", _csv(rows, EXPORT_FIELDS).encode())]
    answers = answer_rows(session, ritual, since=since) if is_member(session, ritual.id, requester) else []
    if answers:
        files.append(
            (
                "tandem-answers.csv",
                _csv(answers, ["pulse_date", "pulse_id", "user", "side", "question", "score"]).encode(),
            )
        )
    return Export(
        files=files,
        comment=export_comment(
            ritual.name, anonymous_only=all(p.anonymous for p in points), with_answers=bool(answers)
        ),
    )


def alert_on_drift(
    database: Database,
    messenger: Messenger,
    pulse_id: int,
    ritual_id: int,
    *,
    now: dt.datetime,
    min_answers: int,
) -> bool:
    """After a pulse closed: if scores fell or the gap widened twice in a row, DM both leads once."""
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None or not ritual.drift_alerts:
            return False
        points = pulse_points(
            session, ritual_id, until=now + dt.timedelta(seconds=1), min_answers=min_answers, limit=3
        )
        drift = detect_drift(points)
        if drift is None:
            return False
        # The conditional UPDATE claims this alert: a rerun or a second process sends nothing.
        claimed = session.execute(
            update(Ritual)
            .where(
                Ritual.id == ritual_id,
                (Ritual.drift_alerted_pulse_id.is_(None)) | (Ritual.drift_alerted_pulse_id != pulse_id),
            )
            .values(drift_alerted_pulse_id=pulse_id)
            .returning(Ritual.id)
        ).scalar_one_or_none()
        if claimed is None:
            return False
    # The claim is committed: drawing the chart (up to a second) happens in a read-only unit of
    # work, which never holds the write lock that pulse clicks wait for.
    with database.read() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None:
            return False
        recent = pulse_points(session, ritual_id, since=now - dt.timedelta(weeks=12), min_answers=min_answers)
        spot = weak_spot(recent, theme_label=theme_label, now=now)
        focus = theme_label(spot.theme) + f" ({spot.reason})" if spot else None
        text = drift_alert(ritual.name, drift, points[-1], focus)
        report = build_report(session, ritual, weeks=12, now=now, min_answers=min_answers)
        team = session.get(Workspace, ritual.workspace_id)
        team_id = team.team_id if team else ""
        leads = ritual_leads(session, ritual_id)
    for user_id in (leads[side] for side in (Side.MARKETING, Side.IT) if side in leads):
        try:
            channel = messenger.dm_channel(team_id, user_id)
            messenger.upload(
                team_id,
                channel,
                content=report.png,
                filename="tandem-trend.png",
                title=report.title,
                alt_text=report.alt_text,
                initial_comment=text,
            )
        except DeliveryError as exc:
            log.warning("a drift alert could not be sent: %s", exc.reason)
    return True
