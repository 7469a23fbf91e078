"""Which theme a ritual's next check-in takes: aimed at a weak spot, exploring the rest.

Pure Python: plain values in, a choice out; the use case (bot.usecases.checkins) reads the history
and the measurements. The rules, in order:

1. No theme more than twice in a row.
2. Follow-up: a theme whose latest theme question came back weak (db.reports.WEAK: a side's score
   of 3.0 or lower, or a gap of a point or more) comes next, the weakest first, unless it already
   ran twice in the last N check-ins (N = the ritual's number of themes). So a low score is
   followed up at the next check-in (the one after, if two are pending), and one theme cannot take
   over the ritual however it scores.
3. Otherwise explore: the theme posted least recently, themes never posted first, ties at random
   (so a ritual's first check-in is random, not the same prompt in every workspace).

Exploring walks the themes in the order they were last posted, so each theme comes back within N
check-ins plus the follow-ups in between (at most one extra per weak theme every N check-ins).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ThemeChoice", "choose_theme"]


@dataclass(frozen=True)
class ThemeChoice:
    theme: str
    follow_up: bool  # True: aimed at a weak measurement; False: exploring


def choose_theme(
    themes: Sequence[str],
    history: Sequence[str],
    weak: Mapping[str, float],
    rng: random.Random,
) -> ThemeChoice:
    """The next check-in's theme.

    `themes`: the ritual's themes that have prompts; `history`: the themes of its posted check-ins,
    oldest first; `weak`: themes whose latest measurement is weak enough to follow up, with how weak
    (higher is weaker). Raises ValueError for no themes.
    """
    if not themes:
        raise ValueError("no themes to choose from")
    ordered = sorted(set(themes))
    if len(ordered) == 1:
        return ThemeChoice(ordered[0], follow_up=ordered[0] in weak)
    twice = history[-1] if len(history) >= 2 and history[-1] == history[-2] else None
    allowed = [t for t in ordered if t != twice]
    window = list(history[-len(ordered) :])
    followable = [t for t in allowed if t in weak and window.count(t) < 2]
    if followable:
        return ThemeChoice(max(followable, key=lambda t: (weak[t], t)), follow_up=True)
    last_posted = {t: i for i, t in enumerate(history)}
    oldest = min(last_posted.get(t, -1) for t in allowed)
    return ThemeChoice(rng.choice([t for t in allowed if last_posted.get(t, -1) == oldest]), follow_up=False)
