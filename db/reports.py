"""Insight from the pulses, wins and commitments: trends, exports, weak spots and drift.

Everything is computed in SQL from `pulse_tallies` (counts per question, side and score), so a
report reads a few rows per pulse through the (ritual_id, opened_at) index however many people
answered, and nothing here can reach an individual answer of an anonymous pulse.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Select, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from db.figures import SCORES, Figures
from db.models import (
    Commitment,
    Person,
    Pulse,
    PulseQuestion,
    PulseTally,
    PulseVote,
    Ritual,
    RitualMember,
    Side,
    Win,
)
from db.pulses import MIN_ANSWERS_FLOOR
from db.theme_questions import theme_question


@dataclass(frozen=True)
class PulsePoint:
    """One closed pulse of a ritual, reduced to what reports show."""

    pulse_id: int
    opened_at: dt.datetime
    anonymous: bool
    theme: str | None
    partner: dict[Side, Figures]  # each side's rating of the other
    level: dict[Side, Figures]
    level_all: Figures
    # The theme question this pulse asked (db.theme_questions key) and each side's answers to it:
    # the only source of theme scores. None and empty when it asked none.
    theme_question: str | None = None
    theme_scores: dict[Side, Figures] = field(default_factory=dict)
    team: dict[Side, int] | None = None  # members per side when it opened, if recorded

    @property
    def participation(self) -> dict[Side, int]:
        """People per side who answered anything (the largest count of any question they are asked)."""
        return {
            side: max(
                self.partner[side].count,
                self.level[side].count,
                self.theme_scores[side].count if side in self.theme_scores else 0,
            )
            for side in Side
        }

    @property
    def gap(self) -> float | None:
        mkt, it = self.partner[Side.MARKETING].average, self.partner[Side.IT].average
        return round(mkt - it, 2) if mkt is not None and it is not None else None

    @property
    def overall(self) -> float | None:
        """The partnership score: the mean of both sides' ratings of each other, when both are shown."""
        mkt, it = self.partner[Side.MARKETING].average, self.partner[Side.IT].average
        return round((mkt + it) / 2, 2) if mkt is not None and it is not None else None

    @property
    def withheld(self) -> bool:
        return any(f.count and f.average is None for f in self.partner.values())


def _figures_from_sums(count: int, weighted: int, distribution: tuple[int, ...], min_answers: int) -> Figures:
    if count < min_answers:
        return Figures(count, None, None)
    return Figures(count, round(weighted / count, 2), distribution)


_NO_ANSWERS = Figures(0, None, None)
_Sums = tuple[int, int, tuple[int, ...]]  # answers, sum of score × count, count of each score


def _side_figures(
    sums: Mapping[tuple[PulseQuestion, Side], _Sums], question: PulseQuestion, side: Side, min_answers: int
) -> Figures:
    found = sums.get((question, side))
    return _figures_from_sums(*found, min_answers) if found else _NO_ANSWERS


def shown_level_sides(
    level: Mapping[Side, Figures], level_all: Figures, min_answers: int
) -> dict[Side, Figures]:
    """The per-side figures of the level question that are safe to show beside the everyone figure.

    Everyone minus the sides shown is whatever the withheld sides answered. So when the withheld
    sides' answers together are fewer than the minimum (one or two people of "other", say), showing
    the other sides would give them away: then every side is withheld (their counts stay, counts
    alone tell nothing) and only the everyone figure, itself above the minimum, is shown. This is
    the rule the results thread applies (`bot.blocks.pulse._level_sides`); reports, charts and
    exports get their figures through `pulse_points`, which applies it here.
    """
    hidden = sum(f.count for f in level.values() if f.count and f.average is None)
    if level_all.average is not None and 0 < hidden < max(min_answers, MIN_ANSWERS_FLOOR):
        return {side: Figures(f.count, None, None) for side, f in level.items()}
    return dict(level)


@functools.cache
def _points_query(since: bool, until: bool, limit: bool) -> Select[Any]:
    """The statement behind `pulse_points`, built once per shape (values are bound parameters):
    building it is a good part of the cost of a check-in's preparation."""
    pulses = select(
        Pulse.id,
        Pulse.opened_at,
        Pulse.anonymous,
        Pulse.theme,
        Pulse.theme_question,
        Pulse.team_marketing,
        Pulse.team_it,
    ).where(Pulse.ritual_id == bindparam("ritual_id"), Pulse.closed_at.is_not(None))
    if since:
        pulses = pulses.where(Pulse.opened_at >= bindparam("since"))
    if until:
        pulses = pulses.where(Pulse.opened_at < bindparam("until"))
    if limit:
        pulses = pulses.order_by(Pulse.opened_at.desc()).limit(bindparam("limit", type_=Integer))
    chosen = pulses.subquery()
    sums = (
        select(
            PulseTally.pulse_id,
            PulseTally.question,
            PulseTally.side,
            func.sum(PulseTally.count).label("answers"),
            func.sum(PulseTally.score * PulseTally.count).label("weighted"),
            *(
                func.sum(case((PulseTally.score == s, PulseTally.count), else_=0)).label(f"score_{s}")
                for s in SCORES
            ),
        )
        .join(chosen, chosen.c.id == PulseTally.pulse_id)
        .where(PulseTally.count > 0)
        .group_by(PulseTally.pulse_id, PulseTally.question, PulseTally.side)
        .subquery()
    )
    return (
        select(
            chosen.c.id,
            chosen.c.opened_at,
            chosen.c.anonymous,
            chosen.c.theme,
            chosen.c.theme_question,
            chosen.c.team_marketing,
            chosen.c.team_it,
            sums.c.question,
            sums.c.side,
            sums.c.answers,
            sums.c.weighted,
            *(sums.c[f"score_{s}"] for s in SCORES),
        )
        .select_from(chosen)
        .outerjoin(sums, sums.c.pulse_id == chosen.c.id)
        .order_by(chosen.c.opened_at, chosen.c.id)
    )


def pulse_points(
    session: Session,
    ritual_id: int,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    min_answers: int = MIN_ANSWERS_FLOOR,
    limit: int | None = None,
) -> list[PulsePoint]:
    """Closed pulses of a ritual, oldest first, with figures from one indexed query over the tallies.

    The database sums the tallies per pulse, question and side (answers, the sum of score × count
    and the count of each score), so Python sees at most one row per pulse, question and side
    however many people answered; what is withheld for anonymity is decided here, once.
    """
    min_answers = max(min_answers, MIN_ANSWERS_FLOOR)
    query = _points_query(since is not None, until is not None, limit is not None)
    params = {"ritual_id": ritual_id, "since": since, "until": until, "limit": limit}
    rows = session.execute(query, {k: v for k, v in params.items() if v is not None}).all()
    meta: dict[int, tuple[dt.datetime, bool, str | None, str | None, dict[Side, int] | None]] = {}
    sums_of: dict[int, dict[tuple[PulseQuestion, Side], _Sums]] = defaultdict(dict)
    for row in rows:
        pulse_id, opened_at, anonymous, theme, asked, team_mkt, team_it = row[:7]
        question, side, answers, weighted, *dist = row[7:]
        team = (
            {Side.MARKETING: team_mkt, Side.IT: team_it}
            if team_mkt is not None and team_it is not None
            else None
        )
        meta.setdefault(pulse_id, (opened_at, anonymous, theme, asked, team))
        if question is not None:
            sums_of[pulse_id][(question, side)] = (int(answers), int(weighted), tuple(int(n) for n in dist))
    points = []
    for pulse_id, (opened_at, anonymous, theme, asked, team) in meta.items():
        c = sums_of[pulse_id]

        # Everyone's answer to the level question: at most three rows (one per side) to add up.
        level_rows = [c[(PulseQuestion.LEVEL, side)] for side in Side if (PulseQuestion.LEVEL, side) in c]
        level_all = _figures_from_sums(
            sum(r[0] for r in level_rows),
            sum(r[1] for r in level_rows),
            tuple(sum(r[2][k] for r in level_rows) for k in range(len(SCORES))),
            min_answers,
        )
        level = {s: _side_figures(c, PulseQuestion.LEVEL, s, min_answers) for s in Side}
        points.append(
            PulsePoint(
                pulse_id=pulse_id,
                opened_at=opened_at if opened_at.tzinfo else opened_at.replace(tzinfo=dt.UTC),
                anonymous=anonymous,
                theme=theme,
                partner={s: _side_figures(c, PulseQuestion.PARTNER, s, min_answers) for s in Side},
                level=shown_level_sides(level, level_all, min_answers),
                level_all=level_all,
                theme_question=asked,
                # Theme scores only from a theme question the pulse asked, never from its other answers.
                theme_scores=(
                    {s: _side_figures(c, PulseQuestion.THEME, s, min_answers) for s in Side} if asked else {}
                ),
                team=team,
            )
        )
    return points


# -- the written summary -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSummary:
    pulses: int
    gap_first: float | None
    gap_last: float | None
    best: tuple[str, float] | None  # (label, average)
    worst: tuple[str, float] | None
    wins: int
    commitments_done: int
    hidden_points: int
    # Each side's rating of the other at the first and the last pulse where both were shown (the
    # points the gap is measured between), so the summary can say where each side went.
    marketing_first: float | None = None
    marketing_last: float | None = None
    it_first: float | None = None
    it_last: float | None = None
    # The latest pulse's participation per side, and each side's team when it opened.
    participation: dict[Side, int] | None = None
    team: dict[Side, int] | None = None


EVERYONE = "everyone"  # the `side` of the level question's row for all answers together

QUESTION_LABELS = {
    (PulseQuestion.PARTNER, Side.MARKETING): "marketing's view of IT",
    (PulseQuestion.PARTNER, Side.IT): "IT's view of marketing",
    (PulseQuestion.LEVEL, None): "collaboration at the right level",
}


def summarise(
    session: Session, ritual: Ritual, points: list[PulsePoint], *, since: dt.datetime, until: dt.datetime
) -> ReportSummary:
    both = [p for p in points if p.gap is not None]
    gaps = [p.gap for p in both if p.gap is not None]
    averages: dict[str, list[float]] = defaultdict(list)
    for p in points:
        for side in (Side.MARKETING, Side.IT):
            average = p.partner[side].average
            if average is not None:
                averages[QUESTION_LABELS[(PulseQuestion.PARTNER, side)]].append(average)
        if p.level_all.average is not None:
            averages[QUESTION_LABELS[(PulseQuestion.LEVEL, None)]].append(p.level_all.average)
    means = {label: round(sum(v) / len(v), 2) for label, v in averages.items() if v}
    best = max(means.items(), key=lambda kv: kv[1]) if means else None
    worst = min(means.items(), key=lambda kv: kv[1]) if means else None
    wins = session.scalars(
        select(Win.id).where(
            Win.workspace_id == ritual.workspace_id,
            Win.withdrawn_at.is_(None),
            Win.draft.is_(False),
            (Win.ritual_id == ritual.id) | (Win.channel_id == ritual.channel_id),
            Win.created_at >= since,
            Win.created_at < until,
        )
    ).all()
    done = session.scalars(
        select(Commitment.id).where(
            Commitment.ritual_id == ritual.id,
            Commitment.status == "done",
            Commitment.closed_at >= since,
            Commitment.closed_at < until,
        )
    ).all()
    return ReportSummary(
        pulses=len(points),
        gap_first=gaps[0] if gaps else None,
        gap_last=gaps[-1] if gaps else None,
        best=best,
        worst=worst if worst != best else None,
        wins=len(wins),
        commitments_done=len(done),
        hidden_points=sum(1 for p in points if p.withheld),
        marketing_first=both[0].partner[Side.MARKETING].average if both else None,
        marketing_last=both[-1].partner[Side.MARKETING].average if both else None,
        it_first=both[0].partner[Side.IT].average if both else None,
        it_last=both[-1].partner[Side.IT].average if both else None,
        participation=points[-1].participation if points else None,
        team=points[-1].team if points else None,
    )


# -- exports -------------------------------------------------------------------------------------


def question_rows(points: list[PulsePoint]) -> list[dict[str, object]]:
    """One row per pulse, question and side, plus everyone's answer to the level question: counts,
    average and distribution; what the results thread withholds stays blank here too."""
    rows: list[dict[str, object]] = []

    def row(p: PulsePoint, question: PulseQuestion, side: str, f: Figures) -> dict[str, object]:
        team = p.team.get(Side(side)) if p.team is not None and side != EVERYONE else None
        return {
            "team_size": team,
            "people_answered": p.participation[Side(side)] if side != EVERYONE else None,
            "theme": p.theme or "",
            "theme_question": (p.theme_question or "") if question is PulseQuestion.THEME else "",
            "pulse_date": p.opened_at.date().isoformat(),
            "pulse_id": p.pulse_id,
            "anonymous": "yes" if p.anonymous else "no",
            "question": question.value,
            "side": side,
            "answers": f.count,
            "average": "" if f.average is None else f"{f.average:.2f}",
            **{f"score_{s}": "" if f.distribution is None else f.distribution[s - 1] for s in SCORES},
            "withheld": "yes" if f.count and f.average is None else "no",
        }

    for p in points:
        asked = [(PulseQuestion.THEME, p.theme_scores)] if p.theme_question and p.theme_scores else []
        for question, figures in ((PulseQuestion.PARTNER, p.partner), (PulseQuestion.LEVEL, p.level), *asked):
            for side in Side:
                f = figures[side]
                if side is Side.OTHER and (not f.count or question is PulseQuestion.THEME):
                    continue
                rows.append(row(p, question, side.value, f))
        # `p.level` already hides every side when showing them beside this total would give
        # away a side with too few answers (see `shown_level_sides`).
        rows.append(row(p, PulseQuestion.LEVEL, EVERYONE, p.level_all))
    return rows


def win_rows(session: Session, ritual: Ritual, *, since: dt.datetime) -> list[dict[str, object]]:
    wins = session.scalars(
        select(Win)
        .where(
            Win.workspace_id == ritual.workspace_id,
            Win.withdrawn_at.is_(None),
            Win.draft.is_(False),
            (Win.ritual_id == ritual.id) | (Win.channel_id == ritual.channel_id),
            Win.created_at >= since,
        )
        .order_by(Win.created_at)
    ).all()
    return [
        {
            "date": w.created_at.date().isoformat(),
            "win": w.what,
            "outcome": w.outcome or "",
            "marketing": " ".join(c.user_id for c in w.credits if c.side is Side.MARKETING),
            "it": " ".join(c.user_id for c in w.credits if c.side is Side.IT),
            "link": w.link or "",
        }
        for w in wins
    ]


def commitment_rows(session: Session, ritual: Ritual, *, since: dt.datetime) -> list[dict[str, object]]:
    items = session.scalars(
        select(Commitment)
        .where(Commitment.ritual_id == ritual.id, Commitment.created_at >= since)
        .order_by(Commitment.created_at)
    ).all()
    return [
        {
            "created": c.created_at.date().isoformat(),
            "commitment": c.what,
            "marketing_owner": c.marketing_owner,
            "it_owner": c.it_owner,
            "due": c.due_date.isoformat(),
            "outcome": c.status.value,
            "closed": c.closed_at.date().isoformat() if c.closed_at else "",
            "reason": c.reason or "",
        }
        for c in items
    ]


def answer_rows(session: Session, ritual: Ritual, *, since: dt.datetime) -> list[dict[str, object]]:
    """Who answered what, for the ritual's non-anonymous pulses only (never anonymous ones)."""
    rows = session.execute(
        select(
            Pulse.opened_at,
            Pulse.id,
            Person.slack_user_id,
            PulseVote.side,
            PulseVote.question,
            PulseVote.score,
        )
        .join(PulseVote, PulseVote.pulse_id == Pulse.id)
        .join(Person, PulseVote.person_id == Person.id)
        .where(Pulse.ritual_id == ritual.id, Pulse.anonymous.is_(False), Pulse.opened_at >= since)
        .order_by(Pulse.opened_at, Person.slack_user_id, PulseVote.question)
    ).all()
    return [
        {
            "pulse_date": opened.date().isoformat(),
            "pulse_id": pulse_id,
            "user": user,
            "side": side.value,
            "question": question.value,
            "score": score,
        }
        for opened, pulse_id, user, side, question, score in rows
    ]


def is_member(session: Session, ritual_id: int, user_id: str) -> bool:
    return (
        session.scalar(
            select(RitualMember.id)
            .join(Person, RitualMember.person_id == Person.id)
            .where(RitualMember.ritual_id == ritual_id, Person.slack_user_id == user_id)
        )
        is not None
    )


# -- weak spots and drift ------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeMeasure:
    """A theme's latest measurement: the theme question a pulse asked and what each side answered.

    Only a theme question that was asked measures a theme; the partner question of a pulse that
    happened to follow a check-in on that theme says nothing about it.
    """

    theme: str
    question: str  # the db.theme_questions key the pulse asked
    pulse_id: int
    opened_at: dt.datetime
    marketing: float | None  # marketing's average answer (its rating of IT); None: withheld or none
    it: float | None  # IT's average answer (its rating of marketing)

    @property
    def gap(self) -> float | None:
        if self.marketing is None or self.it is None:
            return None
        return round(self.marketing - self.it, 2)

    def weakness(self) -> tuple[float, float]:
        """(5 - the lowest score shown, GAP_WEIGHT × the gap when both sides are shown), on one scale
        (0: fine, 4: as bad as it gets)."""
        shown = [a for a in (self.marketing, self.it) if a is not None]
        low = 5.0 - min(shown) if shown else 0.0
        gap = GAP_WEIGHT * abs(self.gap) if self.gap is not None else 0.0
        return low, min(gap, 4.0)

    @property
    def weakest(self) -> float:
        return max(self.weakness())


# How a gap weighs against a low score. A score can fall four points (5 to 1) but the two sides'
# averages rarely sit more than two apart, so a gap counts double: a gap of 1.5 points is as weak
# a spot as a score of 2.0, and a gap of 1 (wide enough to lead the agenda) as a score of 3.
GAP_WEIGHT = 2.0
# A measurement this weak (a side's score of 3.0 or lower, or a gap of 1 point or more) earns its
# theme a follow-up check-in.
WEAK = 2.0


def theme_measures(points: list[PulsePoint]) -> dict[str, ThemeMeasure]:
    """Each theme's latest measurement (points oldest first), from theme questions actually asked and
    answered with at least one side's figures shown."""
    latest: dict[str, ThemeMeasure] = {}
    for p in points:
        if not p.theme or p.theme_question is None or theme_question(p.theme_question) is None:
            continue
        mkt, it = (
            p.theme_scores[s].average if s in p.theme_scores else None for s in (Side.MARKETING, Side.IT)
        )
        if mkt is None and it is None:
            continue
        latest[p.theme] = ThemeMeasure(p.theme, p.theme_question, p.pulse_id, p.opened_at, mkt, it)
    return latest


@dataclass(frozen=True)
class WeakSpot:
    """The weakest measured theme, and which criterion made it so (the words are bot.blocks.report's)."""

    measure: ThemeMeasure
    widest_gap: bool  # True: the gap between the sides; False: the lowest score

    @property
    def theme(self) -> str:
        return self.measure.theme


def spot_of(measure: ThemeMeasure) -> WeakSpot:
    low, gap = measure.weakness()
    return WeakSpot(measure, widest_gap=gap > low and measure.gap is not None)


def weak_spot(points: list[PulsePoint], *, themes: Collection[str] | None = None) -> WeakSpot | None:
    """The theme (of `themes`, if given) whose latest theme question scored lowest or showed the
    widest gap, when that is weak enough to aim at (see WEAK); None when nothing is."""
    measured = [
        m
        for m in theme_measures(points).values()
        if m.weakest >= WEAK and (themes is None or m.theme in themes)
    ]
    if not measured:
        return None
    # The worse criterion first, the other breaks ties; the theme's name makes it deterministic.
    worst = max(measured, key=lambda m: (m.weakest, min(m.weakness()), m.theme))
    return spot_of(worst)


@dataclass(frozen=True)
class Drift:
    kind: str  # "falling" or "widening"
    values: tuple[float, float, float]


def detect_drift(points: list[PulsePoint]) -> Drift | None:
    """The overall score fell, or the gap widened, in each of the last two pulses."""
    shown = [(p, overall) for p in points if (overall := p.overall) is not None]
    if len(shown) < 3:
        return None
    (a, oa), (b, ob), (c, oc) = shown[-3:]
    if oa > ob > oc:
        return Drift("falling", (oa, ob, oc))
    ga, gb, gc = (abs(p.gap or 0.0) for p in (a, b, c))
    if ga < gb < gc:
        return Drift("widening", (ga, gb, gc))
    return None


def claim_drift_alert(session: Session, ritual_id: int, pulse_id: int) -> bool:
    """Mark the ritual's drift as alerted for `pulse_id`; False when it already was (a rerun, or a
    second process). The conditional UPDATE is the claim: commit it before sending anything."""
    claimed = session.execute(
        update(Ritual)
        .where(
            Ritual.id == ritual_id,
            (Ritual.drift_alerted_pulse_id.is_(None)) | (Ritual.drift_alerted_pulse_id != pulse_id),
        )
        .values(drift_alerted_pulse_id=pulse_id)
        .returning(Ritual.id)
    ).scalar_one_or_none()
    return claimed is not None
