"""The monthly digest to a ritual's two leads: read, decide, build, send, record.

On the first working day of each month, in each lead's own timezone and the workspace's hours
(`/tandem hours`), each lead of a ritual that has the digest on (the setup modal's "Monthly digest to
the leads", on by default) gets one DM about the month before, in the ritual's timezone: each side's
score and its trend, the gap, participation, the weakest theme, the wins, the commitments done and
overdue, one suggested focus (the weakest theme's next prompt from the library), and the trend chart.

Exactly once: each (ritual, month, lead) is claimed under a unique constraint in one unit of work
(`db.leads_digests.claim`) before anything is built or sent, and the DM goes through the held-DM
queue under its own key, so two schedulers, or a restart between claiming and sending, never send a
lead two digests of one month. This is not the monthly wins digest into the channel
(`bot.usecases.wins.post_due_digests`): that one celebrates; this one is for the two people who run
the partnership.

A month with nothing in it (no pulse, no win, no commitment done or overdue) still gets a short,
honest digest, without a chart: a quiet month is itself news a lead should have, and silence would
look the same as a digest that is off or broken.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.blocks.leads_digest import DigestFacts, Focus, MonthScores, Overdue, build_leads_digest, month_label
from bot.charts import alt_text, chart_title, render_trend_chart
from bot.ids import parse_row_id
from bot.messenger import DeliveryError
from bot.services import Services
from bot.usecases.checkins import candidate_prompts
from bot.usecases.direct_messages import HeldFile, HeldRef, send_in_working_hours
from bot.usecases.insight import focus_facts, trend
from db import leads_digests as digest_db
from db.leads_digests import DigestLead, Month
from db.models import Ritual, RitualStatus, Side, Workspace
from db.occurrences import prompt_history
from db.people import get_or_create_person
from db.prompt_library import choose_next_prompt
from db.reports import PulsePoint, ThemeMeasure, pulse_points, spot_of, theme_measures
from db.rituals import ritual_leads
from db.wins import wins_between
from db.workspaces import ensure_workspace

log = logging.getLogger(__name__)

KIND = "leads-digest"
CHART_MONTHS = 3  # the chart shows the month and the two before it


def dm_key(ritual_id: int, month: Month, user_id: str) -> str:
    return f"{KIND}:{ritual_id}:{month.key}:{user_id}"


def digest_still_wanted(services: Services, held: HeldRef) -> bool:
    """A digest held for its lead's working hours goes out only while its ritual is active, has the
    digest on, and the recipient is still one of its two leads (the setup modal may have changed
    any of these since it was claimed)."""
    parts = held.key.split(":")  # dm_key's: kind, ritual id, month, user id
    ritual_id = parse_row_id(parts[1]) if len(parts) == 4 else None
    if ritual_id is None:
        return False
    with services.database.read() as session:
        ritual = session.get(Ritual, ritual_id)
        if ritual is None or ritual.workspace_id != held.workspace_id:
            return False
        if ritual.status is not RitualStatus.ACTIVE or not ritual.leads_digest:
            return False
        return held.user_id in ritual_leads(session, ritual_id).values()


@dataclass(frozen=True)
class Digest:
    text: str
    chart: HeldFile | None


# -- building ------------------------------------------------------------------------------------


def _month_scores(points: Sequence[PulsePoint]) -> MonthScores:
    """Each side's rating of the other over the month: the mean of the pulses' averages that were
    shown (as the report's averages are), None when none was."""

    def mean(side: Side) -> float | None:
        shown = [a for p in points if (a := p.partner[side].average) is not None]
        return round(sum(shown) / len(shown), 2) if shown else None

    return MonthScores(marketing=mean(Side.MARKETING), it=mean(Side.IT))


def _weakest(measures: Sequence[ThemeMeasure]) -> ThemeMeasure | None:
    # The same order as db.reports.weak_spot (the worse criterion, then the other, then the name), but
    # without its threshold: the digest names the month's weakest theme even when it is not weak.
    return max(measures, key=lambda m: (m.weakest, min(m.weakness()), m.theme)) if measures else None


def _focus(session: Session, ritual: Ritual, theme: str) -> Focus | None:
    """The prompt a check-in of this ritual would take next on `theme` (the library's rotation)."""
    candidates = [c for c in candidate_prompts(session, ritual) if str(c.theme) == theme]
    if not candidates:
        return None
    # Seeded by the ritual, so both leads (and a rebuilt digest) get the same suggestion.
    prompt = choose_next_prompt(candidates, prompt_history(session, ritual.id), rng_seed=ritual.id)
    return Focus(theme=theme, prompt=prompt.text, why=prompt.why)


def build_digest(session: Session, ritual: Ritual, month: Month, *, min_answers: int) -> Digest:
    """The digest of `month` (in the ritual's timezone), with its chart when the month had pulses."""
    timezone = ritual.timezone
    start, end = month.start(timezone), month.next().start(timezone)
    before_start = month.previous().start(timezone)
    first_charted = month
    for _ in range(CHART_MONTHS - 1):
        first_charted = first_charted.previous()
    points = pulse_points(
        session, ritual.id, since=first_charted.start(timezone), until=end, min_answers=min_answers
    )
    this = [p for p in points if start <= p.opened_at < end]
    before = [p for p in points if before_start <= p.opened_at < start]
    themes = set(ritual.themes or ()) or None
    measures = [m for m in theme_measures(this).values() if themes is None or m.theme in themes]
    weakest = _weakest(measures)
    zone = ZoneInfo(timezone)
    team = (
        {side: sum((p.team or {}).get(side, 0) for p in this) for side in (Side.MARKETING, Side.IT)}
        if this and all(p.team is not None for p in this)
        else None
    )
    wins = wins_between(
        session, ritual.workspace_id, start=start, end=end, channel_id=ritual.channel_id, ritual_id=ritual.id
    )
    facts = DigestFacts(
        ritual_name=ritual.name,
        year=month.year,
        month=month.month,
        pulses=len(this),
        scores=_month_scores(this),
        previous=_month_scores(before),
        answered={side: sum(p.participation[side] for p in this) for side in Side},
        team=team,
        weakest=focus_facts(spot_of(weakest), zone) if weakest else None,
        wins=[w.what for w in wins],
        commitments_done=digest_db.commitments_done(session, ritual.id, start=start, end=end),
        overdue=[
            Overdue(what, due)
            for what, due in digest_db.commitments_overdue(
                session, ritual.id, before=dt.date(month.next().year, month.next().month, 1)
            )
        ],
        focus=_focus(session, ritual, weakest.theme) if weakest else None,
        charted=bool(this),
    )
    chart = None
    if this:
        period = f"{month_label(first_charted.year, first_charted.month)} to {month_label(month.year, month.month)}"
        series = trend(points, zone)
        title = f"{ritual.name}: how marketing and IT rate each other, {period}"
        chart = HeldFile(
            content=render_trend_chart(
                series,
                title=chart_title(ritual.name, f"{first_charted.key} to {month.key}"),
                min_answers=min_answers,
            ),
            filename="tandem-monthly-digest.png",
            title=title[:200],
            alt_text=alt_text(series, title=title),
        )
    return Digest(build_leads_digest(facts), chart)


# -- sending -------------------------------------------------------------------------------------


def _learn_timezones(services: Services, leads: Sequence[DigestLead]) -> list[DigestLead]:
    """Leads whose timezone Tandem never learnt are asked of Slack (once: it is kept on their person
    row), so that "their first working day" is theirs and not UTC's."""
    learnt: list[DigestLead] = []
    for lead in leads:
        timezone = lead.timezone
        if timezone is None:
            try:
                timezone = services.messenger.user_info(lead.team_id, lead.user_id).timezone or None
            except DeliveryError as exc:
                log.warning("the timezone of a digest's lead could not be learnt: %s", exc.reason)
            if timezone:
                with services.database.begin() as session:
                    workspace = ensure_workspace(session, lead.team_id)
                    get_or_create_person(session, workspace.id, lead.user_id).timezone = timezone
        learnt.append(lead if timezone == lead.timezone else replace(lead, timezone=timezone))
    return learnt


def _may_be_owed(lead: DigestLead, now: dt.datetime) -> bool:
    """Whether the last month that ended where the ritual is can still earn this lead a digest: the
    ritual existed before it ended, and it is still news (`db.leads_digests.DIGEST_WINDOW`)."""
    month = digest_db.digest_month(now, lead.ritual_timezone)
    return lead.ritual_created_at < month.next().start(lead.ritual_timezone) and now < digest_db.deadline_of(
        month, lead.ritual_timezone
    )


def _owed(lead: DigestLead, now: dt.datetime) -> Month | None:
    """The month whose digest this lead is owed at `now`, if any: `_may_be_owed`, and the lead's
    first working start of the month after has come."""
    if not _may_be_owed(lead, now):
        return None
    month = digest_db.digest_month(now, lead.ritual_timezone)
    due = digest_db.due_at(
        month, ritual_timezone=lead.ritual_timezone, lead_timezone=lead.timezone, hours=lead.hours
    )
    return month if now >= due else None


def send_due_digests(services: Services, *, now: dt.datetime) -> int:
    """The scheduler's job: claim every lead's digest that is due, and hand each to the held-DM queue
    (sent now, in the lead's working hours). Returns how many this run claimed."""
    retried = _retry_stale(services, now=now)
    if not digest_db.may_be_due(now):
        return retried
    with services.database.read() as session:
        leads = digest_db.digest_leads(session)
        months = {lead.ritual_timezone: digest_db.digest_month(now, lead.ritual_timezone) for lead in leads}
        done = digest_db.claimed(session, {m.key for m in months.values()})
    unclaimed = [
        lead
        for lead in leads
        if (lead.ritual_id, months[lead.ritual_timezone].key, lead.user_id) not in done
        and _may_be_owed(lead, now)
    ]
    built: dict[tuple[int, Month], Digest] = {}
    claimed = 0
    for lead in _learn_timezones(services, unclaimed):
        month = _owed(lead, now)
        if month is None:
            continue
        with services.database.begin() as session:
            digest_id = digest_db.claim(session, lead.ritual_id, month.key, lead.user_id, now=now)
        if digest_id is None:
            continue  # another scheduler claimed it
        claimed += 1
        _hand_off(services, digest_id, lead.ritual_id, month, lead.user_id, now=now, built=built)
    return claimed + retried


def _retry_stale(services: Services, *, now: dt.datetime) -> int:
    """Hand off again the claims a stopped process left unqueued (their DM's key keeps it one DM)."""
    with services.database.read() as session:
        stale = [
            (d.id, d.claimed_at, d.ritual_id, d.period, d.user_id)
            for d in digest_db.stale_claims(session, now=now)
        ]
    retried = 0
    built: dict[tuple[int, Month], Digest] = {}
    for digest_id, claimed_at, ritual_id, period, user_id in stale:
        with services.database.begin() as session:
            if not digest_db.take_over(session, digest_id, claimed_at=claimed_at, now=now):
                continue
        year, month = (int(part) for part in period.split("-"))
        retried += 1
        _hand_off(services, digest_id, ritual_id, Month(year, month), user_id, now=now, built=built)
    if retried:
        log.warning("%d leads' digests were claimed by a process that stopped; handed off again", retried)
    return retried


def _hand_off(
    services: Services,
    digest_id: int,
    ritual_id: int,
    month: Month,
    user_id: str,
    *,
    now: dt.datetime,
    built: dict[tuple[int, Month], Digest],
) -> None:
    """Build (once per ritual and month in a run: both leads get the same digest) and queue one DM.

    A failure leaves the claim unqueued, so a later run hands it off again (`_retry_stale`).
    """
    try:
        # Drawing the chart takes up to a second: in a read-only unit of work, holding no lock.
        with services.database.read() as session:
            ritual = session.get(Ritual, ritual_id)
            workspace = session.get(Workspace, ritual.workspace_id) if ritual else None
            if ritual is None or workspace is None:
                digest = None
            else:
                team_id, deadline = workspace.team_id, digest_db.deadline_of(month, ritual.timezone)
                digest = built.get((ritual_id, month))
                if digest is None:
                    digest = built[(ritual_id, month)] = build_digest(
                        session, ritual, month, min_answers=services.pulse_settings.min_answers
                    )
        if digest is None:  # the ritual is gone
            outcome = "skipped"
        else:
            outcome = send_in_working_hours(
                services,
                team_id,
                user_id,
                kind=KIND,
                key=dm_key(ritual_id, month, user_id),
                text=digest.text,
                file=digest.chart,
                deadline=deadline,
                now=now,
            ).status.value
    except Exception:
        log.exception("the digest of ritual %s for %s could not be handed off", ritual_id, month.key)
        return
    with services.database.begin() as session:
        digest_db.mark_queued(session, digest_id, outcome, now=now)
