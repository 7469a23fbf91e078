"""A pulse's figures as plain values: what the database counted, in the shape the builders show.

Kept apart from the queries in `db.pulses` so that `bot/blocks` can take these values without
importing anything that reads or writes the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.models import Side

SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Figures:
    """One side's answers to one question. `average` and `distribution` are None when withheld."""

    count: int
    average: float | None
    distribution: tuple[int, ...] | None  # how many answered 1, 2, 3, 4, 5


@dataclass(frozen=True)
class PulseResults:
    pulse_id: int
    anonymous: bool
    min_answers: int
    participation: dict[Side, int]  # people per side who answered anything
    partner: dict[Side, Figures]  # MARKETING: marketing's score of IT; IT: IT's score of marketing
    level: dict[Side, Figures]  # "is collaboration at the right level?" per side
    level_all: Figures  # the same question, everyone together
    gap: float | None  # marketing's score of IT minus IT's score of marketing
    previous: PulseResults | None = None
    # The theme question (a db.theme_questions key) and each side's answers to it; None: not asked.
    theme_question: str | None = None
    theme: dict[Side, Figures] | None = None
    # Members of each side when the pulse opened (participation is "5 of 6"); None: not recorded.
    team: dict[Side, int] | None = None

    @property
    def withheld(self) -> tuple[Side, ...]:
        """Sides whose figures are not shown because too few of them answered."""
        return tuple(
            side
            for side in (Side.MARKETING, Side.IT)
            if self.participation.get(side, 0) and self.partner[side].average is None
        )
