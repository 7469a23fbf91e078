"""Cross-team pairing: who meets whom each round, and the rows that record it. No Slack here.

The algorithm (`plan_round`) is pure: people are ints, history is plain values, so it is tested on
its own. The rules it keeps:

* every group crosses the two sides (one person of the smaller side with one, or in a trio two, of
  the larger);
* no cross-side pair meets twice in a *cycle*: a cycle ends when every possible pair of the current
  members has met, and the next one starts over (a skipped pairing did not meet, so it does not count);
* with uneven sides, the people who sit a round out are chosen fairly: whoever has been paired the
  most this cycle sits out first, and among equals whoever sat out longest ago; so whoever sat out
  last is paired first, and nobody sits out twice before everyone has once.

The last two rules are one rule seen twice: a larger-side person's count of partners still to meet
this cycle is highest exactly for those who sat out most. Pairing those first every round is what
makes the cycle finish in as few rounds as it can (each round covers every person of maximum
"still to meet", which for a bipartite graph always exists), so with 5 marketing and 3 IT people,
the 15 possible pairs all meet in 5 rounds, each marketing person sitting out twice. With trios,
the people left over join the pairs whose smaller-side person has the most partners still to meet,
for the same reason: with 5 and 3, everyone meets someone every round and a cycle takes 3 rounds.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from db.base import upsert
from db.cadence import next_occurrences
from db.models import (
    IntroStatus,
    Pairing,
    PairingMember,
    PairingNudge,
    PairingRound,
    PairingSitOut,
    PairingStatus,
    Person,
    Ritual,
    RitualStatus,
    Side,
    Workspace,
)
from db.rituals import cadence_of
from db.working_hours import DEFAULT, WorkingHours

# The purposes a round's one-to-ones rotate through (stable keys; the words are in bot/blocks/pairing.py).
PURPOSES: tuple[str, ...] = ("goals", "show", "data", "shadow")
PAIRING_WEEKS: tuple[int, ...] = (1, 2, 4)
# Past this many candidate sit-out sets, plan_round falls back to a maximum matching (large teams).
MAX_COMBINATIONS = 2000
# A claimed introduction with no outcome this old belongs to a process that died mid-send.
STALE_INTRO = dt.timedelta(minutes=15)


# -- the algorithm ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PastRound:
    """What happened in a round: the groups that met (or may have: not skipped), who sat out."""

    groups: tuple[frozenset[int], ...]
    sat_out: frozenset[int] = frozenset()


@dataclass(frozen=True)
class RoundPlan:
    """Groups of person ids (each crossing the sides) and who sits this round out."""

    groups: tuple[tuple[int, ...], ...]
    sat_out: tuple[int, ...]


def _edges(group: Iterable[int], side_of: Mapping[int, str]) -> set[tuple[int, int]]:
    members = [p for p in group if p in side_of]
    return {(min(a, b), max(a, b)) for a, b in itertools.combinations(members, 2) if side_of[a] != side_of[b]}


def unmet_pairs(
    marketing: Sequence[int], it: Sequence[int], history: Sequence[PastRound]
) -> set[tuple[int, int]]:
    """The cross-side pairs of the current members that have not met in the current cycle."""
    side_of = {**{p: "m" for p in marketing}, **{p: "i" for p in it}}
    every = {(min(m, i), max(m, i)) for m in marketing for i in it}
    met: set[tuple[int, int]] = set()
    for past in history:
        edges = set().union(*(_edges(g, side_of) for g in past.groups)) & every if past.groups else set()
        needed = every - met
        if needed and needed <= edges:
            # This round completed the cycle; any of its pairs met before open the next one.
            met = edges - needed
        else:
            met |= edges
        if every and met >= every:
            met = set()
    return every - met


def _matching(left: Sequence[int], right: Sequence[int], allowed: set[tuple[int, int]]) -> dict[int, int]:
    """A maximum matching left -> right over `allowed` pairs (Kuhn's augmenting paths), trying
    `left` in order so that earlier people are matched when not everyone can be."""
    match_right: dict[int, int] = {}

    def ok(a: int, b: int) -> bool:
        return (min(a, b), max(a, b)) in allowed

    def augment(a: int, seen: set[int]) -> bool:
        for b in right:
            if b in seen or not ok(a, b):
                continue
            seen.add(b)
            if b not in match_right or augment(match_right[b], seen):
                match_right[b] = a
                return True
        return False

    for a in left:
        augment(a, set())
    return {a: b for b, a in match_right.items()}


def plan_round(
    marketing: Sequence[int], it: Sequence[int], history: Sequence[PastRound], *, trios: bool = False
) -> RoundPlan:
    """Pair each person of the smaller side with one of the larger side for this round.

    `marketing` and `it` are the people taking part (opted in, in the ritual), in a stable order;
    `history` is the ritual's past rounds, oldest first. With `trios`, people of the larger side
    left over join a pair (with someone they have not met this cycle) instead of sitting out.
    """
    if not marketing or not it:
        return RoundPlan((), ())
    small, large = (it, marketing) if len(it) <= len(marketing) else (marketing, it)
    unmet = unmet_pairs(marketing, it, history)

    def key(a: int, b: int) -> tuple[int, int]:
        return (min(a, b), max(a, b))

    still_to_meet = {p: sum(key(p, s) in unmet for s in small) for p in large}
    last_out = {p: -1 for p in large}
    for index, past in enumerate(history):
        for p in past.sat_out:
            if p in last_out:
                last_out[p] = index
    # Paired first: the most partners still to meet (sat out most this cycle), then whoever sat
    # out most recently, then the order given.
    order = {p: n for n, p in enumerate(large)}
    ranked = sorted(large, key=lambda p: (-still_to_meet[p], -last_out[p], order[p]))

    def extras(matching: dict[int, int]) -> dict[int, int]:
        # With trios, as many of the rest as possible join a pair, each with someone they have not
        # met this cycle (a maximum matching, so one early choice does not strand a later person).
        # The pairs to grow are tried most-partners-still-to-meet first, so that no one of the
        # smaller side is left with more partners to meet than rounds can hold.
        rest = [p for p in ranked if p not in matching]
        if not trios or not rest:
            return {}
        used = {key(p, s) for p, s in matching.items()}
        left_to_meet = {s: sum(key(p, s) in unmet - used for p in large) for s in matching.values()}
        hosts = sorted(matching.values(), key=lambda s: -left_to_meet[s])
        return _matching(rest, hosts, unmet)

    chosen: dict[int, int] | None = None
    joined: dict[int, int] = {}
    size = len(small)
    for tried, combo in enumerate(itertools.combinations(ranked, size)):
        if tried >= MAX_COMBINATIONS:
            break
        matching = _matching(combo, small, unmet)
        if len(matching) != size:
            continue
        more = extras(matching)
        if chosen is None or len(more) > len(joined):
            chosen, joined = matching, more
        if not trios or len(chosen) + len(joined) == len(large):
            break
    if chosen is None:
        # Nobody can be fully matched without a repeat: pair as many as the cycle allows.
        chosen = _matching(ranked, small, unmet)
        joined = extras(chosen)

    groups: dict[int, list[int]] = {s: [p] for p, s in chosen.items()}
    for p, s in joined.items():
        groups[s].append(p)
    left_over = [p for p in ranked if p not in chosen and p not in joined]
    ordered = [
        (*groups[s], s) if small is it else (s, *groups[s]) for s in small if s in groups
    ]  # marketing first in every group
    sat_out = tuple(left_over) + tuple(s for s in small if s not in groups)
    return RoundPlan(tuple(tuple(g) for g in ordered), sat_out)


# -- when rounds start ---------------------------------------------------------------------------


def _add_weeks_local(start: dt.datetime, weeks: int, zone: ZoneInfo) -> dt.datetime:
    """`start` moved by whole weeks on the wall clock of `zone` (09:00 stays 09:00 across DST)."""
    local = start.astimezone(zone).replace(tzinfo=None) + dt.timedelta(weeks=weeks)
    return local.replace(tzinfo=zone).astimezone(dt.UTC)


def round_window(ritual: Ritual, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The round of `ritual` that `now` falls in: (start, end), or None before the first.

    Rounds start at the ritual's first check-in time after pairing was switched on, then every
    `pairing_weeks` weeks at the same local time (DST-correct). A round ends when the next begins.
    """
    if not ritual.pairing_weeks or ritual.pairing_from is None:
        return None
    cadence = cadence_of(ritual)
    first = next_occurrences(cadence, ritual.pairing_from - dt.timedelta(seconds=1), 1)
    if not first or first[0] > now:
        return None
    zone = cadence.zone
    weeks = ritual.pairing_weeks
    # Jump close, then step: a year of weekly rounds is a handful of iterations, not 52.
    elapsed = (now - first[0]).days // (7 * weeks)
    start = _add_weeks_local(first[0], max(0, elapsed - 1) * weeks, zone)
    while (end := _add_weeks_local(start, weeks, zone)) <= now:
        start = end
    return start, end


# -- queries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Participant:
    person_id: int
    user_id: str
    side: Side


def pairing_rituals(session: Session) -> list[int]:
    """Active rituals with pairing on, in workspaces where Tandem is installed."""
    return list(
        session.scalars(
            select(Ritual.id)
            .join(Workspace, Workspace.id == Ritual.workspace_id)
            .where(
                Ritual.pairing_weeks > 0,
                Ritual.status == RitualStatus.ACTIVE,
                Workspace.uninstalled_at.is_(None),
            )
            .order_by(Ritual.id)
        )
    )


def participants(ritual: Ritual) -> tuple[list[Participant], list[Participant]]:
    """The ritual's marketing and IT members who take part (not opted out), in the order named."""
    marketing: list[Participant] = []
    it: list[Participant] = []
    for member in ritual.members:
        if not member.person.pairing or member.side not in (Side.MARKETING, Side.IT):
            continue
        part = Participant(member.person_id, member.person.slack_user_id, member.side)
        (marketing if member.side is Side.MARKETING else it).append(part)
    return marketing, it


def history(session: Session, ritual_id: int) -> list[PastRound]:
    """The ritual's past rounds, oldest first, as the algorithm reads them."""
    rounds = session.scalars(
        select(PairingRound)
        .where(PairingRound.ritual_id == ritual_id)
        .order_by(PairingRound.starts_at)
        .options(selectinload(PairingRound.pairings).selectinload(Pairing.members))
    ).all()
    sit_outs: dict[int, set[int]] = {}
    for round_id, person_id in session.execute(
        select(PairingSitOut.round_id, PairingSitOut.person_id)
        .join(PairingRound, PairingRound.id == PairingSitOut.round_id)
        .where(PairingRound.ritual_id == ritual_id)
    ):
        sit_outs.setdefault(round_id, set()).add(person_id)
    return [
        PastRound(
            tuple(
                frozenset(m.person_id for m in p.members)
                for p in r.pairings
                if p.status is not PairingStatus.SKIPPED
            ),
            frozenset(sit_outs.get(r.id, ())),
        )
        for r in rounds
    ]


def claim_round(
    session: Session,
    ritual_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    *,
    purpose: str,
    now: dt.datetime,
) -> int | None:
    """Insert the round's row; its id if this caller won it, None if any process had it already.

    The unique constraint on (ritual_id, starts_at) decides, as for check-ins (db/occurrences.py).
    """
    stmt = (
        upsert(session.get_bind().dialect.name, PairingRound)
        .values(
            ritual_id=ritual_id,
            starts_at=starts_at,
            ends_at=ends_at,
            nudge_at=starts_at + (ends_at - starts_at) / 2,
            purpose=purpose,
            claimed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["ritual_id", "starts_at"])
        .returning(PairingRound.id)
    )
    return session.execute(stmt).scalar_one_or_none()


def round_count(session: Session, ritual_id: int) -> int:
    return session.scalar(select(func.count(PairingRound.id)).where(PairingRound.ritual_id == ritual_id)) or 0


def current_round_of(session: Session, ritual_id: int, now: dt.datetime) -> PairingRound | None:
    """The ritual's round under way at `now` (started, not ended), if one was claimed."""
    return session.scalars(
        select(PairingRound)
        .where(
            PairingRound.ritual_id == ritual_id,
            PairingRound.starts_at <= now,
            PairingRound.ends_at > now,
        )
        .order_by(PairingRound.starts_at.desc())
    ).first()


def record_round(
    session: Session,
    round_id: int,
    groups: Sequence[Sequence[Participant]],
    sat_out: Sequence[int],
    prompt_keys: Sequence[str],
) -> list[int]:
    """Store a claimed round's pairings and sit-outs; the pairing ids, in the order given."""
    ids = []
    for group, prompt_key in zip(groups, prompt_keys, strict=True):
        pairing = Pairing(round_id=round_id, prompt_key=prompt_key)
        pairing.members = [PairingMember(person_id=p.person_id, side=p.side) for p in group]
        session.add(pairing)
        session.flush()
        ids.append(pairing.id)
    for person_id in sat_out:
        session.add(PairingSitOut(round_id=round_id, person_id=person_id))
    return ids


def claim_intro(session: Session, pairing_id: int, *, now: dt.datetime) -> bool:
    """Take a pairing's introduction for sending; False if another process (or run) has it."""
    result = session.execute(
        update(Pairing)
        .where(Pairing.id == pairing_id, Pairing.intro_status == IntroStatus.PENDING)
        .values(intro_status=IntroStatus.SENDING, intro_claimed_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def record_intro(
    session: Session,
    pairing_id: int,
    *,
    channel_id: str | None = None,
    ts: str | None = None,
    reason: str | None = None,
) -> None:
    values: dict[str, object] = (
        {"intro_status": IntroStatus.FAILED, "reason": (reason or "")[:300]}
        if reason is not None
        else {"intro_status": IntroStatus.SENT, "channel_id": channel_id, "message_ts": ts}
    )
    session.execute(update(Pairing).where(Pairing.id == pairing_id).values(**values))


def fail_stale_intros(session: Session, *, now: dt.datetime) -> None:
    """Introductions a process died while sending: recorded as failed, never sent twice."""
    session.execute(
        update(Pairing)
        .where(Pairing.intro_status == IntroStatus.SENDING, Pairing.intro_claimed_at < now - STALE_INTRO)
        .values(intro_status=IntroStatus.FAILED, reason="interrupted while sending (Tandem stopped)")
    )


def unsent_intros(session: Session, *, now: dt.datetime) -> list[int]:
    """Pairings of rounds under way whose introduction has not gone out yet (after a restart, too)."""
    return list(
        session.scalars(
            select(Pairing.id)
            .join(PairingRound, PairingRound.id == Pairing.round_id)
            .where(Pairing.intro_status == IntroStatus.PENDING, PairingRound.ends_at > now)
            .order_by(Pairing.id)
        )
    )


@dataclass(frozen=True)
class UnsentIntro:
    pairing_id: int
    nudge_at: dt.datetime
    members: tuple[tuple[int, str, str | None], ...]  # person id, Slack user id, timezone if known


def unsent_intro_facts(session: Session, *, now: dt.datetime) -> list[UnsentIntro]:
    """`unsent_intros` with what deciding when to send needs: the members' timezones."""
    ids = unsent_intros(session, now=now)
    found: dict[int, list[tuple[int, str, str | None]]] = {pid: [] for pid in ids}
    nudge_at: dict[int, dt.datetime] = {}
    for pid, when, person_id, user_id, zone in session.execute(
        select(Pairing.id, PairingRound.nudge_at, Person.id, Person.slack_user_id, Person.timezone)
        .join(PairingRound, PairingRound.id == Pairing.round_id)
        .join(PairingMember, PairingMember.pairing_id == Pairing.id)
        .join(Person, Person.id == PairingMember.person_id)
        .where(Pairing.id.in_(ids))
        .order_by(Pairing.id, PairingMember.id)
    ):
        found[pid].append((person_id, user_id, zone))
        nudge_at[pid] = when
    return [UnsentIntro(pid, nudge_at[pid], tuple(found[pid])) for pid in ids if pid in nudge_at]


def intro_due(
    now: dt.datetime, zones: Sequence[str | None], *, until: dt.datetime, hours: WorkingHours = DEFAULT
) -> bool:
    """Whether a pair's group DM may go out at `now`. One message reaches everyone in it, so it waits
    for an hour that is working hours for all of them, if there is one before `until` (the round's
    halfway point); when their days never overlap (Los Angeles and Berlin do not), it goes out in
    the working hours of any of them rather than not at all."""
    if all(hours.contains(now, zone) for zone in zones):
        return True
    at = now
    while (at := at + dt.timedelta(minutes=15)) < until:
        if all(hours.contains(at, zone) for zone in zones):
            return False  # a shared working hour is coming: wait for it
    return any(hours.contains(now, zone) for zone in zones)


def load_pairing(session: Session, pairing_id: int) -> Pairing | None:
    return session.scalars(
        select(Pairing)
        .where(Pairing.id == pairing_id)
        .options(
            selectinload(Pairing.members).selectinload(PairingMember.person),
            selectinload(Pairing.round),
        )
    ).first()


def ritual_of(session: Session, pairing: Pairing) -> Ritual | None:
    return session.get(Ritual, pairing.round.ritual_id)


def answer(session: Session, pairing: Pairing, status: PairingStatus, *, by: str, now: dt.datetime) -> None:
    pairing.status = status
    pairing.answered_by = by
    pairing.answered_at = now


@dataclass(frozen=True)
class NudgeDue:
    pairing_id: int
    person_id: int
    user_id: str
    timezone: str | None
    ends_at: dt.datetime


def nudges_due(session: Session, *, now: dt.datetime) -> list[NudgeDue]:
    """Members of unanswered, introduced pairings past their round's halfway point (and before its
    end) who have not been nudged yet. Whether it is working hours for each is the caller's call."""
    nudged = exists().where(
        PairingNudge.pairing_id == Pairing.id, PairingNudge.person_id == PairingMember.person_id
    )
    rows = session.execute(
        select(Pairing.id, Person.id, Person.slack_user_id, Person.timezone, PairingRound.ends_at)
        .join(PairingRound, PairingRound.id == Pairing.round_id)
        .join(Ritual, Ritual.id == PairingRound.ritual_id)
        .join(PairingMember, PairingMember.pairing_id == Pairing.id)
        .join(Person, Person.id == PairingMember.person_id)
        .where(
            Pairing.status == PairingStatus.PENDING,
            Pairing.intro_status == IntroStatus.SENT,
            PairingRound.nudge_at <= now,
            PairingRound.ends_at > now,
            Ritual.status == RitualStatus.ACTIVE,
            Person.pairing.is_(True),
            ~nudged,
        )
        .order_by(Pairing.id, PairingMember.id)
    )
    return [NudgeDue(*row) for row in rows]


def claim_nudge(session: Session, pairing_id: int, person_id: int, *, now: dt.datetime) -> bool:
    """Record the one nudge of a person for a pairing before it is sent; False if it was already."""
    stmt = (
        upsert(session.get_bind().dialect.name, PairingNudge)
        .values(pairing_id=pairing_id, person_id=person_id, sent_at=now)
        .on_conflict_do_nothing(index_elements=["pairing_id", "person_id"])
        .returning(PairingNudge.id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


@dataclass(frozen=True)
class RoundTally:
    """How one round went: pairs introduced, pairs that said they met."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    pairs: int
    met: int


def round_tallies(
    session: Session, ritual_id: int, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[RoundTally]:
    """Each round of the ritual (oldest first) started in [since, until): its pairs and how many met."""
    stmt = (
        select(
            PairingRound.starts_at,
            PairingRound.ends_at,
            func.count(Pairing.id),
            func.count(Pairing.id).filter(Pairing.status == PairingStatus.MET),
        )
        .join(Pairing, Pairing.round_id == PairingRound.id, isouter=True)
        .where(PairingRound.ritual_id == ritual_id)
        .group_by(PairingRound.id, PairingRound.starts_at, PairingRound.ends_at)
        .order_by(PairingRound.starts_at)
    )
    if since is not None:
        stmt = stmt.where(PairingRound.starts_at >= since)
    if until is not None:
        stmt = stmt.where(PairingRound.starts_at < until)
    return [RoundTally(*row) for row in session.execute(stmt)]


def latest_round_before(session: Session, ritual_id: int, at: dt.datetime) -> RoundTally | None:
    """The latest round that started before `at` (the one a check-in at `at` reports on)."""
    tallies = round_tallies(session, ritual_id, until=at)
    return tallies[-1] if tallies else None


@dataclass(frozen=True)
class PersonPairing:
    """One of a person's pairings, as their Home tab lists it."""

    pairing_id: int
    ritual_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    purpose: str
    status: PairingStatus
    partners: tuple[tuple[str, Side], ...]  # slack user id and side of the others


def pairings_of(session: Session, workspace_id: int, user_id: str, *, limit: int = 6) -> list[PersonPairing]:
    """A person's pairings, newest first."""
    person_id = session.scalar(
        select(Person.id).where(Person.workspace_id == workspace_id, Person.slack_user_id == user_id)
    )
    if person_id is None:
        return []
    pairings = session.scalars(
        select(Pairing)
        .join(PairingMember, PairingMember.pairing_id == Pairing.id)
        .join(PairingRound, PairingRound.id == Pairing.round_id)
        .where(PairingMember.person_id == person_id)
        .order_by(PairingRound.starts_at.desc(), Pairing.id.desc())
        .limit(limit)
        .options(
            selectinload(Pairing.members).selectinload(PairingMember.person),
            selectinload(Pairing.round),
        )
    ).all()
    names = dict(
        session.execute(
            select(Ritual.id, Ritual.name).where(Ritual.id.in_({p.round.ritual_id for p in pairings}))
        ).all()
    )
    return [
        PersonPairing(
            pairing_id=p.id,
            ritual_name=names.get(p.round.ritual_id, ""),
            starts_at=p.round.starts_at,
            ends_at=p.round.ends_at,
            purpose=p.round.purpose,
            status=p.status,
            partners=tuple((m.person.slack_user_id, m.side) for m in p.members if m.person_id != person_id),
        )
        for p in pairings
    ]
