"""Check-ins: claim each occurrence once, pick its prompt, build the message, post it, record how it ended.

`prepare_due`, `prepare_now` and `record_unprepared` run in the caller's unit of work and only touch
the database (the scheduler's preparer opens one per ritual, `/tandem now` one per command);
`deliver` posts through the messenger and records the outcome in units of work of its own, so a slow
or failing Slack never holds a database transaction open. A post that Slack refuses because the
channel (or the token) is unusable pauses the channel's rituals, as any other post does
(`bot.usecases.refusals`).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from bot.blocks.checkin import (
    INTERRUPTED_UNCERTAIN_REASON,
    MISSED_REASON,
    CheckinContent,
    MissedCheckin,
    PulseFocus,
    build_checkin,
    focus_lines,
    last_pulse_section,
    stopped_reason,
    unexpected_failure_reason,
    wins_section,
)
from bot.blocks.pulse import pulse_agenda_lines
from bot.blocks.report import chosen_because, theme_label
from bot.blocks.wins import win_agenda_lines
from bot.messenger import HISTORY_NOT_ALLOWED, DeliveryError, PostTag
from bot.metrics import SCHEDULER_LAG
from bot.usecases import pairing
from bot.usecases.commitments import commitment_view
from bot.usecases.insight import focus_facts
from bot.usecases.refusals import Pausing, pause_after_refusal
from bot.usecases.wins import win_view
from db import occurrences
from db import pulses as pulse_db
from db import written_answers as written_db
from db.cadence import Cadence, occurrences_between
from db.commitments import open_for_rituals
from db.models import Commitment, CustomPrompt, OccurrenceStatus, Ritual, RitualStatus, Side, Workspace
from db.prompt_library import BUILTIN_PROMPTS, Prompt, Theme, choose_next_prompt
from db.prompts import workspace_prompts, workspace_prompts_of
from db.reports import WEAK, PulsePoint, pulse_points, spot_of, theme_measures
from db.rituals import cadence_of, load_ritual, load_rituals, member_ids, status_of
from db.session import Database
from db.steering import choose_theme
from db.wins import latest_wins_since, wins_between

log = logging.getLogger(__name__)

# How far back a restart looks for check-ins it owes; older ones are simply gone.
MAX_LOOKBACK = dt.timedelta(days=35)
# How far back the pulses that steer a check-in's prompt reach.
PULSE_LOOKBACK = dt.timedelta(weeks=12)
# Where a ritual's first theme and a prompt's place among untried ones come from: not seeded by
# anything shared between workspaces, so first rituals do not all open with the same prompt.
_RANDOM = random.SystemRandom()


@dataclass(frozen=True)
class WorkspacePrompt:
    """A workspace's own prompt, shaped like a library prompt for rotation."""

    key: str
    theme: str
    text: str
    practice: str = "Your team added this prompt to Tandem's library."

    @property
    def why(self) -> str:
        return self.practice


@dataclass(frozen=True)
class PreparedCheckin:
    """A claimed occurrence with its message built, ready to post."""

    occurrence_id: int
    ritual_id: int
    team_id: str
    channel_id: str
    created_by: str
    ritual_name: str
    prompt_key: str
    text: str
    blocks: list[dict[str, Any]] = field(repr=False)
    prompt_theme: str | None = None  # the pulse that follows reads its partner scores as this theme's
    # When it was due (the grace window counts from it; None: now, as for `/tandem now`).
    scheduled_at: dt.datetime | None = None
    # The occurrence's lease when this was prepared (db.occurrences.take_lease).
    lease: int = 0
    # A claim a stopped process left behind: it may have reached the channel, so look before posting.
    leftover: bool = False

    def payload(self) -> dict[str, Any]:
        """What is kept with the claim, to post it as built after a crash (see `leftovers`)."""
        return {"text": self.text, "blocks": self.blocks, "theme": self.prompt_theme}


# -- building one check-in ----------------------------------------------------------------------------


def candidate_prompts(
    session: Session, ritual: Ritual, custom: Sequence[CustomPrompt] | None = None
) -> list[Prompt | WorkspacePrompt]:
    """The library's prompts and the workspace's own (`custom`, read here when not given), of the
    themes this ritual discusses."""
    themes = set(ritual.themes or [t.value for t in Theme])
    candidates: list[Prompt | WorkspacePrompt] = [p for p in BUILTIN_PROMPTS if p.theme.value in themes]
    if custom is None:
        custom = workspace_prompts(session, ritual.workspace_id)
    candidates += [WorkspacePrompt(c.key, c.theme, c.text) for c in custom if c.theme in themes]
    return candidates


def _pulse_focus(point: PulsePoint | None) -> PulseFocus | None:
    if point is None:
        return None
    return PulseFocus(
        marketing_view=point.partner[Side.MARKETING].average,
        it_view=point.partner[Side.IT].average,
        level=point.level_all.average,
        gap=point.gap,
    )


def _last_pulse_lines(session: Session, ritual_id: int, *, min_answers: int) -> tuple[str, ...]:
    latest = pulse_db.last_closed_pulse(session, ritual_id)
    if latest is None:
        return ()
    return pulse_agenda_lines(pulse_db.results(session, latest, min_answers=min_answers, with_previous=False))


def _win_lines(session: Session, ritual: Ritual, *, until: dt.datetime, context: Agenda) -> tuple[str, ...]:
    """Wins celebrated since the ritual's previous posted check-in (or its creation)."""
    start = context.last_posted.get(ritual.id) or ritual.created_at
    if not context.may_have_wins(ritual, start):
        return ()
    wins = wins_between(
        session,
        ritual.workspace_id,
        start=start,
        end=until + dt.timedelta(seconds=1),
        channel_id=ritual.channel_id,
        ritual_id=ritual.id,
    )
    zone = cadence_of(ritual).zone
    return win_agenda_lines([win_view(w, zone) for w in wins])


@dataclass
class Agenda:
    """What building check-ins reads besides the ritual itself, read for many rituals at once
    (`gather`): a few queries per batch instead of a dozen per check-in."""

    custom: dict[int, list[CustomPrompt]]  # the workspace's own prompts, by workspace id
    history: dict[int, list[str]]  # prompt keys posted, oldest first, by ritual id
    pulsed: set[int]  # rituals with a closed pulse (only these read pulse figures)
    commitments: dict[int, list[Commitment]]
    last_posted: dict[int, dt.datetime]
    missed: dict[int, list[tuple[int, occurrences.NotPosted]]]  # unreported, with their row ids
    latest_win: dict[
        int, dt.datetime
    ]  # per workspace: its latest win, if any since the batch's earliest start
    # Written rounds of check-ins not posted yet, by ritual: the one at a check-in's time reserved
    # its prompt (members answered it), the others' prompts count as used (db.written_answers).
    rounds: dict[int, list[tuple[dt.datetime, written_db.ReservedPrompt]]] = field(default_factory=dict)

    def may_have_wins(self, ritual: Ritual, start: dt.datetime) -> bool:
        latest = self.latest_win.get(ritual.workspace_id)
        return latest is not None and latest >= start


def gather(session: Session, rituals: Sequence[Ritual]) -> Agenda:
    ids = [r.id for r in rituals]
    workspaces = sorted({r.workspace_id for r in rituals})
    custom: dict[int, list[CustomPrompt]] = {w: [] for w in workspaces}
    for prompt in workspace_prompts_of(session, workspaces):
        custom[prompt.workspace_id].append(prompt)
    commitments: dict[int, list[Commitment]] = defaultdict(list)
    for commitment in open_for_rituals(session, ids):
        if commitment.ritual_id is not None:  # always, for a ritual's commitments
            commitments[commitment.ritual_id].append(commitment)
    last_posted = occurrences.last_posted_of(session, ids)
    starts = [last_posted.get(r.id) or r.created_at for r in rituals]
    return Agenda(
        custom=custom,
        history=occurrences.prompt_histories(session, ids),
        pulsed=pulse_db.rituals_with_closed_pulses(session, ids),
        commitments=commitments,
        last_posted=last_posted,
        missed=occurrences.unreported_missed_of(session, ids),
        latest_win=latest_wins_since(session, workspaces, min(starts)) if starts else {},
        rounds=written_db.rounds_after(session, ids, since=min(starts)) if starts else {},
    )


def _choose(
    candidates: Sequence[Prompt | WorkspacePrompt],
    history: Sequence[str],
    points: list[PulsePoint],
    zone: dt.tzinfo,
    rng: random.Random,
) -> tuple[Prompt | WorkspacePrompt, str | None]:
    """The prompt and why it was chosen (a follow-up), from the candidates and the prompts used.

    The theme comes first (db.steering): a theme whose latest theme question came back weak is
    followed up, otherwise the theme posted least recently is explored, and none runs three times
    in a row. Then the prompt, within that theme, by the rotation rule (no prompt repeats before
    the theme's others, built-in and the workspace's own alike, have been used).
    """
    theme_of = {c.key: str(c.theme) for c in candidates}
    themes = sorted(set(theme_of.values()))
    measures = {t: m for t, m in theme_measures(points).items() if t in themes}
    choice = choose_theme(
        themes,
        [theme_of[key] for key in history if key in theme_of],
        {t: m.weakest for t, m in measures.items() if m.weakest >= WEAK},
        rng,
    )
    prompt = choose_next_prompt(
        [c for c in candidates if str(c.theme) == choice.theme], list(history), rng_seed=rng.randrange(2**32)
    )
    because = (
        chosen_because(focus_facts(spot_of(measures[choice.theme]), zone))
        if choice.follow_up and choice.theme in measures
        else None
    )
    return prompt, because


def choose_prompt(
    session: Session,
    ritual: Ritual,
    scheduled_at: dt.datetime,
    *,
    points: list[PulsePoint],
    rng: random.Random | None = None,
) -> tuple[Prompt | WorkspacePrompt, str | None]:
    """The prompt for the ritual's check-in at `scheduled_at`, chosen ahead of it (a written round
    reserves it), and why. Prompts reserved by written rounds of other check-ins count as used.
    `points`: the ritual's pulses over PULSE_LOOKBACK before `scheduled_at` (`pulse_points`)."""
    history = occurrences.prompt_history(session, ritual.id)
    history += written_db.pending_prompt_keys(session, ritual.id, other_than=scheduled_at)
    return _choose(
        candidate_prompts(session, ritual), history, points, cadence_of(ritual).zone, rng or _RANDOM
    )


def build_for(
    session: Session,
    ritual: Ritual,
    occurrence_id: int,
    scheduled_at: dt.datetime,
    team_id: str,
    *,
    min_answers: int = pulse_db.MIN_ANSWERS_FLOOR,
    rng: random.Random | None = None,
) -> PreparedCheckin:
    """Build the check-in of a claimed occurrence, record its prompt and message with the claim, and
    mark the missed check-ins it mentions as mentioned."""
    context = gather(session, [ritual])
    prepared = replace(
        compose(session, ritual, scheduled_at, team_id, context, min_answers=min_answers, rng=rng),
        occurrence_id=occurrence_id,
    )
    occurrences.mark_reported(session, [row_id for row_id, _ in context.missed.get(ritual.id, [])])
    # The prompt is recorded at claim time so that two check-ins never draw the same one.
    occurrences.set_prompt(session, occurrence_id, prepared.prompt_key)
    occurrences.set_payload(session, occurrence_id, prepared.payload())
    return prepared


def compose(
    session: Session,
    ritual: Ritual,
    scheduled_at: dt.datetime,
    team_id: str,
    context: Agenda,
    *,
    min_answers: int = pulse_db.MIN_ANSWERS_FLOOR,
    rng: random.Random | None = None,
) -> PreparedCheckin:
    """Choose the prompt (the one a written round reserved for this check-in, else `_choose`) and
    build the check-in message (occurrence id 0: the caller claims it)."""
    candidates = candidate_prompts(session, ritual, context.custom.get(ritual.workspace_id, []))
    pulsed = ritual.id in context.pulsed
    points = (
        pulse_points(session, ritual.id, since=scheduled_at - PULSE_LOOKBACK, min_answers=min_answers)
        if pulsed
        else []
    )
    rounds = context.rounds.get(ritual.id, [])
    reserved = next((prompt for at, prompt in rounds if at == scheduled_at), None)
    prompt: Prompt | WorkspacePrompt
    if reserved is not None:
        # Members were asked this question before the check-in: it posts the one they answered (a
        # workspace prompt removed since is still that question).
        known = {c.key: c for c in candidates}
        prompt = known.get(reserved.key) or WorkspacePrompt(reserved.key, reserved.theme, reserved.text)
        because = None
    else:
        history = context.history.get(ritual.id, []) + [p.key for at, p in rounds if at != scheduled_at]
        prompt, because = _choose(candidates, history, points, cadence_of(ritual).zone, rng or _RANDOM)
    zone = cadence_of(ritual).zone
    missed = [m for _, m in context.missed.get(ritual.id, [])]
    marketing, it = member_ids(ritual)
    local_day = scheduled_at.astimezone(zone).date()
    commitments = tuple(commitment_view(c, today=local_day) for c in context.commitments.get(ritual.id, []))
    content = CheckinContent(
        ritual_name=ritual.name,
        local_date=local_day,
        timezone=ritual.timezone,
        prompt_text=prompt.text,
        prompt_theme_label=theme_label(str(prompt.theme)),
        prompt_why=prompt.why,
        missed=tuple(
            MissedCheckin(
                m.scheduled_at.astimezone(zone).date(),
                failed=m.status is OccurrenceStatus.FAILED,
                reason=m.reason,
            )
            for m in missed
        ),
        marketing=marketing,  # each side's lead first (db.rituals.ritual_leads)
        it=it,
        notify_members=ritual.notify_members,
        agenda_items=tuple(
            section
            for section in (
                last_pulse_section(
                    _last_pulse_lines(session, ritual.id, min_answers=min_answers) if pulsed else ()
                ),
                wins_section(_win_lines(session, ritual, until=scheduled_at, context=context)),
                pairing.agenda_section(session, ritual, scheduled_at),
            )
            if section
        ),
        commitments=commitments,
        ritual_id=ritual.id,
        focus=focus_lines(_pulse_focus(points[-1] if points else None), commitments, local_day),
        chosen_because=because,
    )
    text, blocks = build_checkin(content)
    return PreparedCheckin(
        occurrence_id=0,
        ritual_id=ritual.id,
        team_id=team_id,
        channel_id=ritual.channel_id,
        created_by=ritual.created_by,
        ritual_name=ritual.name,
        prompt_key=prompt.key,
        prompt_theme=str(prompt.theme),
        text=text,
        blocks=[b.to_dict() for b in blocks],
        scheduled_at=scheduled_at,
    )


# -- claiming -------------------------------------------------------------------------------------


def owed_times(session: Session, ritual: Ritual, *, now: dt.datetime) -> list[dt.datetime]:
    """The ritual's scheduled times up to `now` that have no occurrence row yet (oldest first)."""
    since = max(ritual.schedule_from, now - MAX_LOOKBACK)
    owed = occurrences_between(cadence_of(ritual), since, now)
    if not owed:
        return []
    known = occurrences.known_times(session, ritual.id, since)
    return [when for when in owed if when not in known]


def prepare_due(
    session: Session,
    ritual_id: int,
    *,
    now: dt.datetime,
    grace: dt.timedelta,
    min_answers: int = pulse_db.MIN_ANSWERS_FLOOR,
) -> list[PreparedCheckin]:
    """Claim what this ritual owes at `now`: post what is within the grace window, record the rest as missed."""
    ritual = load_ritual(session, ritual_id)
    if ritual is None or ritual.status is not RitualStatus.ACTIVE:
        return []
    workspace = session.get(Workspace, ritual.workspace_id)
    if workspace is None or not workspace.active:
        return []
    prepared: list[PreparedCheckin] = []
    for when in owed_times(session, ritual, now=now):
        if now - when > grace:
            occurrences.claim(
                session,
                ritual.id,
                when,
                now=now,
                status=OccurrenceStatus.MISSED,
                channel_id=ritual.channel_id,
                reason=MISSED_REASON,
            )
            continue
        occurrence_id = occurrences.claim(session, ritual.id, when, now=now, channel_id=ritual.channel_id)
        if occurrence_id is not None:
            prepared.append(
                build_for(session, ritual, occurrence_id, when, workspace.team_id, min_answers=min_answers)
            )
    return prepared


def prepare_batch(
    session: Session,
    ritual_ids: Sequence[int],
    *,
    now: dt.datetime,
    grace: dt.timedelta,
    min_answers: int = pulse_db.MIN_ANSWERS_FLOOR,
) -> list[PreparedCheckin]:
    """`prepare_due` for many rituals in one unit of work, with a few queries for all of them.

    The rituals are read in one query (with their members and workspaces), what they owe from
    their cadences and one read of their recent occurrences, what building reads with `gather`, and
    their occurrences are claimed in one INSERT that carries each prompt and message (the unique
    constraint still decides every claim; one another process won is dropped). A ritual that owes
    anything but exactly one check-in within the grace window (a catch-up after downtime) goes the
    way of `prepare_due`, alone.
    """
    loaded = load_rituals(session, ritual_ids)
    rituals = [r for r, _ in loaded]
    team_of = {r.id: team_id for r, team_id in loaded}
    horizon = now - MAX_LOOKBACK
    times: dict[Cadence, list[dt.datetime]] = {}
    owed: dict[int, list[dt.datetime]] = {}
    for ritual in rituals:
        cadence = cadence_of(ritual)
        if cadence not in times:
            times[cadence] = occurrences_between(cadence, horizon, now)
        mine = [t for t in times[cadence] if t > ritual.schedule_from]
        if mine:
            owed[ritual.id] = mine
    known = occurrences.known_times_of(session, list(owed), horizon)
    simple: list[tuple[Ritual, dt.datetime]] = []
    prepared: list[PreparedCheckin] = []
    for ritual in rituals:
        left = [t for t in owed.get(ritual.id, []) if t not in known.get(ritual.id, set())]
        if len(left) == 1 and now - left[0] <= grace:
            simple.append((ritual, left[0]))
        elif left:
            prepared += prepare_due(session, ritual.id, now=now, grace=grace, min_answers=min_answers)
    if not simple:
        return prepared
    context = gather(session, [r for r, _ in simple])
    built = [
        compose(session, ritual, when, team_of[ritual.id], context, min_answers=min_answers)
        for ritual, when in simple
    ]
    won = occurrences.claim_many(
        session,
        [
            occurrences.NewClaim(c.ritual_id, c.scheduled_at or now, c.channel_id, c.prompt_key, c.payload())
            for c in built
        ],
        now=now,
    )
    winners = [replace(c, occurrence_id=won[c.ritual_id]) for c in built if c.ritual_id in won]
    occurrences.mark_reported(
        session, [row_id for c in winners for row_id, _ in context.missed.get(c.ritual_id, [])]
    )
    return prepared + winners


def record_unprepared(
    session: Session, ritual_id: int, *, now: dt.datetime, grace: dt.timedelta, reason: str
) -> int:
    """Preparing the ritual's due check-ins failed: record each as failed (or missed, past the grace
    window) with the reason, so none is silently lost and the next check-in mentions them.

    Returns how many were recorded. Runs in a unit of work of its own, after the failed one rolled back.
    """
    ritual = session.get(Ritual, ritual_id)
    if ritual is None or ritual.status is not RitualStatus.ACTIVE:
        return 0
    recorded = 0
    for when in owed_times(session, ritual, now=now):
        late = now - when > grace
        claimed = occurrences.claim(
            session,
            ritual.id,
            when,
            now=now,
            status=OccurrenceStatus.MISSED if late else OccurrenceStatus.FAILED,
            channel_id=ritual.channel_id,
            reason=MISSED_REASON if late else reason,
        )
        recorded += claimed is not None
    return recorded


def prepare_now(
    session: Session,
    ritual: Ritual,
    *,
    now: dt.datetime,
    team_id: str,
    min_answers: int = pulse_db.MIN_ANSWERS_FLOOR,
) -> PreparedCheckin | None:
    """`/tandem now`: an occurrence at this second, counted like any other; None if one was claimed
    at this very second already (a double click)."""
    when = now.replace(microsecond=0)
    occurrence_id = occurrences.claim(
        session, ritual.id, when, now=now, channel_id=ritual.channel_id, manual=True
    )
    if occurrence_id is None:
        return None
    return build_for(session, ritual, occurrence_id, when, team_id, min_answers=min_answers)


# -- posting --------------------------------------------------------------------------------------


# The Slack metadata event type every check-in carries, with its occurrence id.
CHECKIN_EVENT = "tandem_checkin"
# Posts of one check-in in one go: each after the previous one's outcome was ambiguous and the
# channel's history showed it had not arrived. After that the claim waits for the reconciler.
MAX_POSTS = 3
# Ambiguous outcomes without any answer (a read timeout, a connection lost while waiting): Slack may
# not have finished, so the history is read later, by the reconciler, not at once.
UNFINISHED = frozenset({"timeout", "unreachable"})


def checkin_tag(occurrence_id: int) -> PostTag:
    return PostTag(CHECKIN_EVENT, str(occurrence_id))


class RateLimited(Exception):
    """Slack refused the check-in with a 429: nothing was posted, and it may be posted again no
    sooner than `retry_after` seconds from now. `checkin` is the same check-in holding the lease
    `deliver` took, so that delivering it again takes the lease over from it."""

    def __init__(self, checkin: PreparedCheckin, retry_after: float) -> None:
        super().__init__(f"check-in {checkin.occurrence_id} rate-limited for {retry_after} s")
        self.checkin = checkin
        self.retry_after = retry_after


def deliver(
    services: Pausing,
    checkin: PreparedCheckin,
    *,
    clock: Callable[[], dt.datetime],
    grace: dt.timedelta,
    answered: Callable[[], None] = lambda: None,
    sending: Callable[[], None] = lambda: None,
    nothing_sent: Callable[[], None] = lambda: None,
) -> str | None:
    """Post one prepared check-in so that it reaches its channel exactly once, and record the outcome;
    its message ts if it is in the channel, else None.

    Before posting, it takes the claim's lease (a compare-and-set), so a claim a reconciler took over
    is never posted by its first owner too. The post carries the occurrence in its metadata; when
    Slack's answer is ambiguous (a 5xx, a timeout) or the claim is a crash's leftover, the channel's
    history says what happened: found, it is recorded as posted with its ts; not found and within the
    grace window, it is posted (again); not found and later, it is missed. A workspace whose history
    Tandem may not read gets "uncertain": never re-posted, never announced as failed. Only a refusal
    (Slack's clear no) is recorded as failed.

    `sending` is called right before each post goes to Slack, `answered` as soon as Slack answered
    (or the post failed), `nothing_sent` when nothing was sent to the channel at all: the channel's
    pacing counts from them (jobs/poster.py). A 429 is
    not waited out here: it raises RateLimited, and the caller delivers the check-in it carries again
    after Retry-After (a 429 is Slack's clear "not posted": repeating it cannot duplicate anything).
    """
    database = services.database

    def take_lease(session: Session) -> tuple[str, int | None]:
        # It may have waited in its channel's queue: a ritual paused or deleted meanwhile posts nothing.
        status = status_of(session, checkin.ritual_id)
        lease = occurrences.take_lease(session, checkin.occurrence_id, lease=checkin.lease, now=clock())
        return ("deleted" if status is None else status.value), lease

    # The poster's threads take their leases (and record their posts) in shared transactions.
    status, lease = database.together(take_lease)
    stopped = status != RitualStatus.ACTIVE.value
    if lease is None:
        log.info("check-in %s not posted here: it has an outcome or another owner", checkin.occurrence_id)
        nothing_sent()
        return None
    look_first = checkin.leftover
    if stopped and not look_first:
        with database.begin() as session:
            occurrences.mark_skipped(
                session, checkin.occurrence_id, reason=stopped_reason(status), lease=lease
            )
        log.info("check-in %s not posted: its ritual is %s", checkin.occurrence_id, status)
        nothing_sent()
        return None
    tag = checkin_tag(checkin.occurrence_id)
    last_error: DeliveryError | None = None
    for _ in range(MAX_POSTS):
        if look_first:
            try:
                found = services.messenger.find_tagged(checkin.team_id, checkin.channel_id, tag)
            except DeliveryError as exc:
                _history_unreadable(database, checkin, lease, exc, clock=clock, grace=grace)
                return None
            if found is not None:
                _record_posted(database, checkin, lease, found, clock)
                return found
            late = clock() - (checkin.scheduled_at or clock()) > grace
            if stopped or late:
                with database.begin() as session:
                    if stopped:
                        occurrences.mark_skipped(
                            session, checkin.occurrence_id, reason=stopped_reason(status), lease=lease
                        )
                    else:
                        occurrences.mark_missed(
                            session, checkin.occurrence_id, reason=MISSED_REASON, lease=lease
                        )
                nothing_sent()
                return None
        sending()  # the channel's next message is spaced from here, not from the database work above
        try:
            ts = services.messenger.post(
                checkin.team_id,
                checkin.channel_id,
                text=checkin.text,
                blocks=checkin.blocks,
                tag=tag,
                wait_if_limited=False,
            )
        except DeliveryError as exc:
            if exc.retry_after is not None:
                log.info(
                    "check-in %s: Slack asks to wait %s s (rate limited); it goes out after that",
                    checkin.occurrence_id,
                    exc.retry_after,
                )
                raise RateLimited(replace(checkin, lease=lease, leftover=False), exc.retry_after) from None
            answered()
            if exc.ambiguous and exc.code in UNFINISHED:
                # No answer at all: Slack may still be working on it, and a look now could miss a
                # message stored a moment later. The reconciler looks once the claim is stale.
                log.warning(
                    "check-in %s: no answer from Slack (%s); the reconciler looks for it later",
                    checkin.occurrence_id,
                    exc.reason,
                )
                return None
            if exc.ambiguous:
                # Slack answered (a 5xx), so whatever it did is done: the history tells.
                log.warning(
                    "check-in %s: Slack's answer was ambiguous (%s); looking in the channel",
                    checkin.occurrence_id,
                    exc.reason,
                )
                look_first, last_error = True, exc
                continue
            _record_failure(database, checkin, exc.reason, lease)
            # A channel (or token) that no longer works pauses the channel's rituals and tells their creators.
            pause_after_refusal(services, checkin.team_id, checkin.channel_id, exc)
            return None
        except Exception:  # never let one check-in stop the scheduler; it may have been sent
            answered()
            log.exception(
                "posting check-in %s failed unexpectedly; the reconciler looks for it later",
                checkin.occurrence_id,
            )
            return None
        answered()
        _record_posted(database, checkin, lease, ts, clock)
        return ts
    # Every post was answered with a 5xx and, looked for, was not in the channel. Slack answered each
    # one, so it is done with them: one last look, and what is still not there is known to have failed.
    try:
        found = services.messenger.find_tagged(checkin.team_id, checkin.channel_id, tag)
    except DeliveryError as exc:
        _history_unreadable(database, checkin, lease, exc, clock=clock, grace=grace)
        return None
    if found is not None:
        _record_posted(database, checkin, lease, found, clock)
        return found
    reason = last_error.reason if last_error is not None else unexpected_failure_reason("DeliveryError")
    _record_failure(database, checkin, reason, lease)
    return None


def _record_posted(
    database: Database, checkin: PreparedCheckin, lease: int, ts: str, clock: Callable[[], dt.datetime]
) -> None:
    database.together(
        lambda session: occurrences.mark_posted(
            session,
            checkin.occurrence_id,
            channel_id=checkin.channel_id,
            ts=ts,
            prompt_key=checkin.prompt_key,
            now=clock(),
            lease=lease,
        )
    )
    if checkin.scheduled_at is not None:
        SCHEDULER_LAG.observe(max(0.0, (clock() - checkin.scheduled_at).total_seconds()))


def _history_unreadable(
    database: Database,
    checkin: PreparedCheckin,
    lease: int,
    exc: DeliveryError,
    *,
    clock: Callable[[], dt.datetime],
    grace: dt.timedelta,
) -> None:
    """The post's fate is unknown and the history could not tell. Without the history scopes it never
    will: uncertain. A passing failure leaves the claim for the reconciler, until the grace window ends."""
    late = clock() - (checkin.scheduled_at or clock()) > grace
    if exc.code in HISTORY_NOT_ALLOWED or late:
        log.warning(
            "check-in %s may or may not be in %s (%s): recorded as uncertain",
            checkin.occurrence_id,
            checkin.channel_id,
            exc.reason,
        )
        with database.begin() as session:
            occurrences.mark_uncertain(session, checkin.occurrence_id, reason=exc.reason, lease=lease)
    else:
        log.warning(
            "check-in %s: the channel's history could not be read (%s)", checkin.occurrence_id, exc.reason
        )
    return None


def _record_failure(
    database: Database, checkin: PreparedCheckin, reason: str, lease: int | None = None
) -> None:
    log.warning("check-in %s of ritual %s failed: %s", checkin.occurrence_id, checkin.ritual_id, reason)
    with database.begin() as session:
        occurrences.mark_failed(session, checkin.occurrence_id, reason=reason, lease=lease)


def leftovers(database: Database, *, now: dt.datetime, exclude: Sequence[int] = ()) -> list[PreparedCheckin]:
    """Claims a stopped process left without an outcome (db.occurrences.stale_claims), ready to be
    delivered as leftovers: looked up in their channel first, posted only if absent and in time.

    `exclude`: occurrences this process still has queued or in flight. A claim from before messages
    were tagged (no payload kept) cannot be looked up: it is recorded as uncertain.
    """
    found: list[PreparedCheckin] = []
    with database.begin() as session:
        for row in occurrences.stale_claims(session, now=now, exclude=exclude):
            ritual = session.get(Ritual, row.ritual_id)
            workspace = session.get(Workspace, ritual.workspace_id) if ritual is not None else None
            payload = row.payload or {}
            if ritual is None or workspace is None or "text" not in payload:
                occurrences.mark_uncertain(
                    session, row.id, reason=INTERRUPTED_UNCERTAIN_REASON, lease=row.lease
                )
                continue
            found.append(
                PreparedCheckin(
                    occurrence_id=row.id,
                    ritual_id=ritual.id,
                    team_id=workspace.team_id,
                    channel_id=row.channel_id or ritual.channel_id,
                    created_by=ritual.created_by,
                    ritual_name=ritual.name,
                    prompt_key=row.prompt_key or "",
                    text=str(payload["text"]),
                    blocks=list(payload.get("blocks") or []),
                    prompt_theme=payload.get("theme"),
                    scheduled_at=row.scheduled_at,
                    lease=row.lease,
                    leftover=True,
                )
            )
    return found


def release_unsent(database: Database, checkins: Sequence[PreparedCheckin]) -> None:
    """Give back claims that were never posted, so a restart posts them within the grace window."""
    with database.begin() as session:
        for checkin in checkins:
            occurrences.release(session, checkin.occurrence_id, lease=checkin.lease)
