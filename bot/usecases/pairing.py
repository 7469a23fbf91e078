"""Cross-team pairing: start each round once, introduce each pair, nudge once halfway, record answers.

A round is claimed in the database under a unique constraint (ritual, start) in the same unit of work
that pairs its people (db/pairing.py), so a restart, a retry or a second scheduler never pairs a round
twice. Each introduction is then taken for sending by one conditional update and sent after that unit
of work, through the channel poster (paced, one message at a time per workspace), and its outcome
recorded; one still pending after a restart is sent by the next run. An introduction waits for an
hour that is working hours for the whole pair (or, when their days never overlap, for one of them:
db.pairing.intro_due). Nudges are timed with
db/working_hours.py in each recipient's own Slack timezone: the job runs often, and a person is nudged
on the first run that is inside their working hours, after the halfway point and before the round
ends, recorded once under a unique constraint before the DM goes out.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.blocks.checkin import AgendaSection
from bot.blocks.pairing import (
    HomePairing,
    Intro,
    IntroPerson,
    answered_line,
    build_intro,
    build_nudge,
    pairing_agenda_section,
    pairing_report_lines,
)
from bot.messenger import DeliveryError
from bot.services import Services
from bot.usecases.access import Actor, workspace_id_of
from db import pairing as pairing_db
from db.models import PairingStatus, Person, Ritual, RitualStatus, Side, Workspace
from db.people import set_pairing
from db.prompt_library import get_one_to_one_prompt, one_to_one_prompt
from db.rituals import cadence_of, load_ritual
from db.working_hours import DEFAULT, WorkingHours
from db.workspaces import ensure_workspace

log = logging.getLogger(__name__)


def _queue(team_id: str) -> str:
    # Group DMs and nudges go out one at a time per workspace, at the poster's pace: a round of a
    # big ritual is dozens of conversations.open + chat.postMessage calls against one workspace.
    return f"pairing:{team_id}"


def _later(work: Callable[..., object], *args: Any) -> Callable[[], None]:
    """`work(*args)` as the poster's send (it returns nothing)."""

    def send() -> None:
        work(*args)

    return send


# -- starting rounds --------------------------------------------------------------------------------


def start_due_rounds(services: Services, *, now: dt.datetime) -> int:
    """Start the round each pairing ritual owes at `now` (once, whoever else tries), then send any
    introduction still pending. Returns how many rounds this call started."""
    with services.database.read() as session:
        ritual_ids = pairing_db.pairing_rituals(session)
    started = 0
    for ritual_id in ritual_ids:
        try:
            started += start_round(services, ritual_id, now=now) is not None
        except Exception:
            log.exception("starting the pairing round of ritual %s failed", ritual_id)
    send_pending_intros(services, now=now)
    return started


def start_round(services: Services, ritual_id: int, *, now: dt.datetime) -> int | None:
    """Claim and pair the ritual's current round if nobody has; its id, or None."""
    with services.database.begin() as session:
        ritual = load_ritual(session, ritual_id)
        if ritual is None or ritual.status is not RitualStatus.ACTIVE or not ritual.pairing_weeks:
            return None
        window = pairing_db.round_window(ritual, now)
        if window is None:
            return None
        starts_at, ends_at = window
        # A schedule edit may shift round starts: never open a second round while one is under way.
        if pairing_db.current_round_of(session, ritual.id, now) is not None:
            return None
        done = pairing_db.round_count(session, ritual.id)
        purpose = pairing_db.PURPOSES[done % len(pairing_db.PURPOSES)]
        round_id = pairing_db.claim_round(session, ritual.id, starts_at, ends_at, purpose=purpose, now=now)
        if round_id is None:
            return None
        marketing, it = pairing_db.participants(ritual)
        by_id = {p.person_id: p for p in (*marketing, *it)}
        plan = pairing_db.plan_round(
            [p.person_id for p in marketing],
            [p.person_id for p in it],
            # The round just claimed has no pairings yet: it adds nothing to the history.
            pairing_db.history(session, ritual.id),
            trios=ritual.pairing_trios,
        )
        cycle = done // len(pairing_db.PURPOSES)
        prompts = [one_to_one_prompt(purpose, cycle + n).key for n in range(len(plan.groups))]
        pairing_db.record_round(
            session, round_id, [[by_id[p] for p in g] for g in plan.groups], plan.sat_out, prompts
        )
        log.info(
            "pairing round %s of ritual %s: %d groups, %d sitting out",
            round_id,
            ritual.id,
            len(plan.groups),
            len(plan.sat_out),
        )
        return round_id


# -- introductions ----------------------------------------------------------------------------------


def send_pending_intros(services: Services, *, now: dt.datetime, hours: WorkingHours = DEFAULT) -> int:
    """Queue the introductions not sent yet in rounds under way (after a restart, too) whose pair
    is in working hours now (db.pairing.intro_due); returns how many were queued."""
    with services.database.begin() as session:
        pairing_db.fail_stale_intros(session, now=now)
        pending = pairing_db.unsent_intro_facts(session, now=now)
        teams = {p.pairing_id: _team_of(session, p.pairing_id) for p in pending}
    zones = _learn_timezones(services, teams, pending)
    queued = 0
    for intro in pending:
        team_id = teams[intro.pairing_id]
        members = [zones.get(person_id, zone) for person_id, _, zone in intro.members]
        if team_id and pairing_db.intro_due(now, members, until=intro.nudge_at, hours=hours):
            services.checkins.send(_queue(team_id), _later(send_intro, services, intro.pairing_id))
            queued += 1
    return queued


def _learn_timezones(
    services: Services, teams: dict[int, str | None], pending: list[pairing_db.UnsentIntro]
) -> dict[int, str]:
    """Ask Slack the timezone of members Tandem has never seen (once: it is stored)."""
    learnt: dict[int, str] = {}
    for intro in pending:
        team_id = teams[intro.pairing_id]
        for person_id, user_id, zone in intro.members:
            if zone is not None or person_id in learnt or not team_id:
                continue
            try:
                learnt[person_id] = services.messenger.user_info(team_id, user_id).timezone
            except DeliveryError as exc:
                log.info("the timezone of a pairing member could not be learnt: %s", exc.reason)
    if learnt:
        with services.database.begin() as session:
            for person_id, zone in learnt.items():
                person = session.get(Person, person_id)
                if person is not None:
                    person.timezone = zone
    return learnt


def _team_of(session: Session, pairing_id: int) -> str | None:
    pairing = pairing_db.load_pairing(session, pairing_id)
    if pairing is None:
        return None
    ritual = pairing_db.ritual_of(session, pairing)
    workspace = session.get(Workspace, ritual.workspace_id) if ritual else None
    return workspace.team_id if workspace is not None and workspace.active else None


@dataclass(frozen=True)
class _IntroFacts:
    team_id: str
    ritual_name: str
    zone: ZoneInfo
    members: tuple[tuple[int, str, Side], ...]  # person id, user id, side
    purpose: str
    prompt: str
    ends_at: dt.datetime


def _intro_facts(session: Session, pairing_id: int) -> _IntroFacts | None:
    pairing = pairing_db.load_pairing(session, pairing_id)
    if pairing is None:
        return None
    ritual = pairing_db.ritual_of(session, pairing)
    if ritual is None:
        return None
    workspace = session.get(Workspace, ritual.workspace_id)
    if workspace is None:
        return None
    prompt = get_one_to_one_prompt(pairing.prompt_key) or one_to_one_prompt(pairing.round.purpose, 0)
    return _IntroFacts(
        team_id=workspace.team_id,
        ritual_name=ritual.name,
        zone=cadence_of(ritual).zone,
        members=tuple((m.person_id, m.person.slack_user_id, m.side) for m in pairing.members),
        purpose=pairing.round.purpose,
        prompt=prompt.text,
        ends_at=pairing.round.ends_at,
    )


def _intro(pairing_id: int, facts: _IntroFacts, titles: dict[str, str]) -> Intro:
    return Intro(
        pairing_id=pairing_id,
        ritual_name=facts.ritual_name,
        people=tuple(IntroPerson(u, side, titles.get(u, "")) for _, u, side in facts.members),
        purpose=facts.purpose,
        prompt=facts.prompt,
        ends_local=facts.ends_at.astimezone(facts.zone),
    )


def send_intro(services: Services, pairing_id: int) -> bool:
    """Send one pairing's introduction, if nobody has taken it: a group DM with both (or all three)
    people, naming their side and Slack title. Returns whether it went out."""
    now = services.clock.now()
    with services.database.begin() as session:
        if not pairing_db.claim_intro(session, pairing_id, now=now):
            return False
        facts = _intro_facts(session, pairing_id)
    if facts is None:
        return False
    titles: dict[str, str] = {}
    zones: dict[int, str] = {}
    for person_id, user_id, _ in facts.members:
        try:
            info = services.messenger.user_info(facts.team_id, user_id)
        except DeliveryError as exc:
            log.info("users.info failed for a pairing member (%s); introduced without a title", exc.reason)
            continue
        titles[user_id] = info.title
        zones[person_id] = info.timezone
    text, blocks = build_intro(_intro(pairing_id, facts, titles))
    try:
        channel_id = services.messenger.open_group(facts.team_id, [u for _, u, _ in facts.members])
        ts = services.messenger.post(facts.team_id, channel_id, text=text, blocks=blocks)
    except DeliveryError as exc:
        log.warning("the introduction of pairing %s failed: %s", pairing_id, exc.reason)
        with services.database.begin() as session:
            pairing_db.record_intro(session, pairing_id, reason=exc.reason)
        return False
    with services.database.begin() as session:
        pairing_db.record_intro(session, pairing_id, channel_id=channel_id, ts=ts)
        # Their Slack timezone, for timing the nudge in their working hours.
        for person_id, zone in zones.items():
            person = session.get(Person, person_id)
            if person is not None:
                person.timezone = zone
    services.homes.refresh(facts.team_id, *(u for _, u, _ in facts.members))
    return True


# -- nudges -----------------------------------------------------------------------------------------


def send_due_nudges(services: Services, *, now: dt.datetime, hours: WorkingHours = DEFAULT) -> int:
    """Queue the halfway nudge for each member of an unanswered pair for whom it is now working
    hours (their Slack timezone); each is claimed once before it is sent. Returns how many queued."""
    with services.database.read() as session:
        due = [d for d in pairing_db.nudges_due(session, now=now) if hours.contains(now, d.timezone)]
        teams = {d.pairing_id: _team_of(session, d.pairing_id) for d in due}
    queued = 0
    for d in due:
        team_id = teams.get(d.pairing_id)
        if not team_id:
            continue
        services.checkins.send(_queue(team_id), _later(_nudge, services, team_id, d))
        queued += 1
    return queued


def _nudge(services: Services, team_id: str, due: pairing_db.NudgeDue) -> None:
    now = services.clock.now()
    with services.database.begin() as session:
        if not pairing_db.claim_nudge(session, due.pairing_id, due.person_id, now=now):
            return
        pairing = pairing_db.load_pairing(session, due.pairing_id)
        if pairing is None or pairing.status is not PairingStatus.PENDING:
            return
        partners = [m.person.slack_user_id for m in pairing.members if m.person_id != due.person_id]
        purpose = pairing.round.purpose
    text, blocks = build_nudge(due.pairing_id, partners, purpose)
    try:
        services.messenger.dm(team_id, due.user_id, text=text, blocks=blocks)
    except DeliveryError as exc:
        # Recorded as sent all the same: one nudge at most, never two.
        log.info("a pairing nudge could not be sent: %s", exc.reason)


# -- answers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairingAnswer:
    """What came of a "We met" / "Skip this round" click. `kind`: met, skipped, not_found or
    not_member; `confirm` when the click was not on the introduction (that message shows it)."""

    kind: str
    confirm: bool = False


def answer_pairing(
    services: Services, actor: Actor, pairing_id: int | None, *, met: bool, clicked_in: str
) -> PairingAnswer:
    """Record a pair's answer, "We met" (`met`) or "Skip this round" (the last click wins), update
    the introduction to show it, and refresh the members' Home tabs."""
    status = PairingStatus.MET if met else PairingStatus.SKIPPED
    if pairing_id is None:
        return PairingAnswer("not_found")
    now = services.clock.now()
    with services.database.begin() as session:
        pairing = pairing_db.load_pairing(session, pairing_id)
        ritual = pairing_db.ritual_of(session, pairing) if pairing is not None else None
        if (
            pairing is None
            or ritual is None
            or ritual.workspace_id != workspace_id_of(session, actor.team_id)
        ):
            return PairingAnswer("not_found")  # another workspace's pairing is as unknown as a missing one
        if actor.user_id not in {m.person.slack_user_id for m in pairing.members}:
            return PairingAnswer("not_member")
        pairing_db.answer(session, pairing, status, by=actor.user_id, now=now)
        facts = _intro_facts(session, pairing_id)
        channel_id, ts = pairing.channel_id, pairing.message_ts
    kind = "met" if status is PairingStatus.MET else "skipped"
    if facts is not None and channel_id and ts:
        text, blocks = build_intro(
            _intro(pairing_id, facts, {}), answered=answered_line(actor.user_id, status)
        )
        try:
            services.messenger.update(facts.team_id, channel_id, ts, text=text, blocks=blocks)
        except DeliveryError as exc:
            log.info("the introduction of pairing %s could not be updated: %s", pairing_id, exc.reason)
    if facts is not None:
        services.homes.refresh(facts.team_id, *(u for _, u, _ in facts.members))
    return PairingAnswer(kind, confirm=clicked_in != channel_id)


def set_taking_part(services: Services, actor: Actor, enabled: bool) -> None:
    """`/tandem pairing on|off`: in or out of every ritual's rounds from the next one."""
    with services.database.begin() as session:
        workspace = ensure_workspace(session, actor.team_id, now=services.clock.now())
        set_pairing(session, workspace.id, actor.user_id, enabled)


# -- what the agenda, Home tab and report show --------------------------------------------------------


def agenda_section(session: Session, ritual: Ritual, at: dt.datetime) -> AgendaSection | None:
    """The check-in's "one-to-ones this round: 4 of 6 pairs met", for the round that is ending
    (the latest that started before this check-in)."""
    if not ritual.pairing_weeks:
        return None  # switched off: an old round is no news
    latest = pairing_db.latest_round_before(session, ritual.id, at)
    return pairing_agenda_section(latest.pairs, latest.met) if latest is not None else None


def home_pairings(
    session: Session, workspace_id: int, user_id: str, *, now: dt.datetime, zone: dt.tzinfo
) -> list[HomePairing]:
    return [
        HomePairing(
            ritual_name=p.ritual_name,
            partners=p.partners,
            purpose=p.purpose,
            status=p.status,
            starts_local=p.starts_at.astimezone(zone),
            ends_local=p.ends_at.astimezone(zone),
            current=p.starts_at <= now < p.ends_at,
        )
        for p in pairing_db.pairings_of(session, workspace_id, user_id)
    ]


def report_lines(session: Session, ritual: Ritual, *, since: dt.datetime, now: dt.datetime) -> str:
    """The report's meeting rate over time: each round of the period that has ended (a round under
    way is not a rate yet). Empty when there were none."""
    zone = cadence_of(ritual).zone
    return pairing_report_lines(
        [
            (t.starts_at.astimezone(zone).date(), t.pairs, t.met)
            for t in pairing_db.round_tallies(session, ritual.id, since=since)
            if t.ends_at <= now
        ]
    )
