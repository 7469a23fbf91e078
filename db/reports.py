"""Insight from the pulses, wins and commitments: trends, exports, weak spots and drift.

Everything is computed in SQL from `pulse_tallies` (counts per question, side and score), so a
report reads a few rows per pulse through the (ritual_id, opened_at) index however many people
answered, and nothing here can reach an individual answer of an anonymous pulse.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

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
from db.pulses import MIN_ANSWERS_FLOOR, SCORES, Figures


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

    @property
    def gap(self) -> float | None:
        mkt, it = self.partner[Side.MARKETING].average, self.partner[Side.IT].average
        return round(mkt - it, 2) if mkt is not None and it is not None else None

    @property
    def overall(self) -> float | None:
        """The partnership score: the mean of both sides' ratings of each other, when both are shown."""
        mkt, it = self.partner[Side.MARKETING].average, self.partner[Side.IT].average
        return round((mkt + it) / 2, 2) if mkt is not None and it is not None else None

    def partner_view(self) -> tuple[str, str]:
        """Both sides' ratings as text ("3.4/5", or "withheld" when too few answered)."""

        def shown(side: Side) -> str:
            avg = self.partner[side].average
            return f"{avg:.1f}/5" if avg is not None else "withheld (too few answers)"

        return shown(Side.MARKETING), shown(Side.IT)

    @property
    def withheld(self) -> bool:
        return any(f.count and f.average is None for f in self.partner.values())


def _figures(counts: dict[int, int], min_answers: int) -> Figures:
    total = sum(counts.values())
    if total < min_answers:
        return Figures(total, None, None)
    return Figures(
        total,
        round(sum(s * n for s, n in counts.items()) / total, 2),
        tuple(counts.get(s, 0) for s in SCORES),
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
    """Closed pulses of a ritual, oldest first, with figures from one indexed query over the tallies."""
    min_answers = max(min_answers, MIN_ANSWERS_FLOOR)
    pulses = select(Pulse.id, Pulse.opened_at, Pulse.anonymous, Pulse.theme).where(
        Pulse.ritual_id == ritual_id, Pulse.closed_at.is_not(None)
    )
    if since is not None:
        pulses = pulses.where(Pulse.opened_at >= since)
    if until is not None:
        pulses = pulses.where(Pulse.opened_at < until)
    if limit is not None:
        pulses = pulses.order_by(Pulse.opened_at.desc()).limit(limit)
    chosen = pulses.subquery()
    rows = session.execute(
        select(
            chosen.c.id,
            chosen.c.opened_at,
            chosen.c.anonymous,
            chosen.c.theme,
            PulseTally.question,
            PulseTally.side,
            PulseTally.score,
            PulseTally.count,
        )
        .select_from(chosen)
        .outerjoin(PulseTally, (PulseTally.pulse_id == chosen.c.id) & (PulseTally.count > 0))
        .order_by(chosen.c.opened_at, chosen.c.id)
    ).all()
    meta: dict[int, tuple[dt.datetime, bool, str | None]] = {}
    counts: dict[int, dict[tuple[PulseQuestion, Side], dict[int, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for pulse_id, opened_at, anonymous, theme, question, side, score, count in rows:
        meta.setdefault(pulse_id, (opened_at, anonymous, theme))
        if question is not None:
            counts[pulse_id][(question, side)][score] = count
    points = []
    for pulse_id, (opened_at, anonymous, theme) in meta.items():
        c = counts[pulse_id]
        everyone: dict[int, int] = defaultdict(int)
        for side in Side:
            for score, n in c.get((PulseQuestion.LEVEL, side), {}).items():
                everyone[score] += n
        points.append(
            PulsePoint(
                pulse_id=pulse_id,
                opened_at=opened_at if opened_at.tzinfo else opened_at.replace(tzinfo=dt.UTC),
                anonymous=anonymous,
                theme=theme,
                partner={s: _figures(c.get((PulseQuestion.PARTNER, s), {}), min_answers) for s in Side},
                level={s: _figures(c.get((PulseQuestion.LEVEL, s), {}), min_answers) for s in Side},
                level_all=_figures(dict(everyone), min_answers),
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


QUESTION_LABELS = {
    (PulseQuestion.PARTNER, Side.MARKETING): "marketing's view of IT",
    (PulseQuestion.PARTNER, Side.IT): "IT's view of marketing",
    (PulseQuestion.LEVEL, None): "collaboration at the right level",
}


def summarise(
    session: Session, ritual: Ritual, points: list[PulsePoint], *, since: dt.datetime, until: dt.datetime
) -> ReportSummary:
    gaps = [p.gap for p in points if p.gap is not None]
    averages: dict[str, list[float]] = defaultdict(list)
    for p in points:
        for side in (Side.MARKETING, Side.IT):
            if p.partner[side].average is not None:
                averages[QUESTION_LABELS[(PulseQuestion.PARTNER, side)]].append(p.partner[side].average)  # type: ignore[arg-type]
        if p.level_all.average is not None:
            averages[QUESTION_LABELS[(PulseQuestion.LEVEL, None)]].append(p.level_all.average)
    means = {label: round(sum(v) / len(v), 2) for label, v in averages.items() if v}
    best = max(means.items(), key=lambda kv: kv[1]) if means else None
    worst = min(means.items(), key=lambda kv: kv[1]) if means else None
    wins = session.scalars(
        select(Win.id).where(
            Win.workspace_id == ritual.workspace_id,
            Win.withdrawn_at.is_(None),
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
    )


# -- exports -------------------------------------------------------------------------------------


def question_rows(points: list[PulsePoint]) -> list[dict[str, object]]:
    """One row per pulse, question and side: counts, average and distribution (withheld stay blank)."""
    rows: list[dict[str, object]] = []
    for p in points:
        for question, figures in ((PulseQuestion.PARTNER, p.partner), (PulseQuestion.LEVEL, p.level)):
            for side in Side:
                f = figures[side]
                if not f.count and side is Side.OTHER:
                    continue
                rows.append(
                    {
                        "pulse_date": p.opened_at.date().isoformat(),
                        "pulse_id": p.pulse_id,
                        "anonymous": "yes" if p.anonymous else "no",
                        "question": question.value,
                        "side": side.value,
                        "answers": f.count,
                        "average": "" if f.average is None else f"{f.average:.2f}",
                        **{
                            f"score_{s}": "" if f.distribution is None else f.distribution[s - 1]
                            for s in SCORES
                        },
                        "withheld": "yes" if f.count and f.average is None else "no",
                    }
                )
    return rows


def win_rows(session: Session, ritual: Ritual, *, since: dt.datetime) -> list[dict[str, object]]:
    wins = session.scalars(
        select(Win)
        .where(
            Win.workspace_id == ritual.workspace_id,
            Win.withdrawn_at.is_(None),
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
class WeakSpot:
    theme: str
    reason: str  # "chosen because IT rated the data partnership 2.4 last week, marketing 3.9"


def weak_spot(points: list[PulsePoint], *, theme_label, now: dt.datetime) -> WeakSpot | None:  # type: ignore[no-untyped-def]
    """The theme whose latest pulse scored lowest, or showed the widest gap (shown figures only)."""
    latest: dict[str, PulsePoint] = {}
    for p in points:
        if p.theme and (
            p.partner[Side.MARKETING].average is not None or p.partner[Side.IT].average is not None
        ):
            latest[p.theme] = p
    if not latest:
        return None

    def badness(p: PulsePoint) -> tuple[float, float]:
        shown = [f.average for f in (p.partner[Side.MARKETING], p.partner[Side.IT]) if f.average is not None]
        return (min(shown), -abs(p.gap or 0.0))

    theme, point = min(latest.items(), key=lambda kv: badness(kv[1]))
    mkt, it = point.partner[Side.MARKETING].average, point.partner[Side.IT].average
    when = _when(point.opened_at, now)
    label = theme_label(theme).lower()
    parts = []
    if it is not None and (mkt is None or it <= mkt):
        parts = [f"IT rated the {label} partnership {it:.1f} {when}"] + (
            [f"marketing {mkt:.1f}"] if mkt is not None else []
        )
    elif mkt is not None:
        parts = [f"marketing rated the {label} partnership {mkt:.1f} {when}"] + (
            [f"IT {it:.1f}"] if it is not None else []
        )
    return WeakSpot(theme, "chosen because " + ", ".join(parts))


def _when(at: dt.datetime, now: dt.datetime) -> str:
    days = (now - at).days
    if days < 7:
        return "this week" if days < 1 else "last week" if days >= 5 else f"{days} days ago"
    if days < 14:
        return "last week"
    return f"on {at:%-d %B}"


@dataclass(frozen=True)
class Drift:
    kind: str  # "falling" or "widening"
    values: tuple[float, float, float]


def detect_drift(points: list[PulsePoint]) -> Drift | None:
    """The overall score fell, or the gap widened, in each of the last two pulses."""
    shown = [p for p in points if p.overall is not None]
    if len(shown) < 3:
        return None
    a, b, c = shown[-3:]
    if a.overall > b.overall > c.overall:  # type: ignore[operator]
        return Drift("falling", (a.overall, b.overall, c.overall))  # type: ignore[arg-type]
    ga, gb, gc = (abs(p.gap or 0.0) for p in (a, b, c))
    if ga < gb < gc:
        return Drift("widening", (ga, gb, gc))
    return None
