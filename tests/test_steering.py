"""db.steering.choose_theme alone: plain values in, a theme out."""

from __future__ import annotations

import random

import pytest

from db.prompt_library import Theme
from db.steering import choose_theme

THEMES = sorted(t.value for t in Theme)


def test_a_rituals_first_theme_is_random_not_the_same_everywhere() -> None:
    firsts = {choose_theme(THEMES, [], {}, random.Random(seed)).theme for seed in range(40)}
    assert len(firsts) >= 8


def test_exploring_takes_the_theme_posted_least_recently() -> None:
    history = ["data", "kpis", "speed", "data", "kpis"]
    choice = choose_theme(["data", "kpis", "speed"], history, {}, random.Random(1))
    assert choice.theme == "speed" and not choice.follow_up


def test_a_weak_theme_is_followed_up_next_and_says_so() -> None:
    history = ["kpis", "data"]
    choice = choose_theme(THEMES, history, {"data": 3.0}, random.Random(1))
    assert choice.theme == "data" and choice.follow_up


def test_the_weakest_of_two_pending_follow_ups_goes_first_and_the_other_next() -> None:
    weak = {"data": 3.0, "credit": 2.5}
    first = choose_theme(THEMES, ["credit", "data"], weak, random.Random(1))
    assert first.theme == "data"
    second = choose_theme(THEMES, ["credit", "data", "data"], weak, random.Random(1))
    assert second.theme == "credit" and second.follow_up


@pytest.mark.parametrize("seed", range(5))
def test_no_theme_three_times_in_a_row_and_at_most_twice_in_n(seed: int) -> None:
    """Data always scores low: it is followed up, but never takes over the ritual."""
    rng, history = random.Random(seed), []
    for _ in range(4 * len(THEMES)):
        history.append(choose_theme(THEMES, history, {"data": 4.0}, rng).theme)
    for start in range(len(history) - 2):
        assert len(set(history[start : start + 3])) > 1
    n = len(THEMES)
    for start in range(len(history) - n + 1):
        window = history[start : start + n]
        assert window.count("data") <= 2
        # Every theme comes back within N check-ins plus the one follow-up in between.
    for start in range(len(history) - n):
        assert set(history[start : start + n + 1]) == set(THEMES)


def test_one_theme_is_all_there_is() -> None:
    assert choose_theme(["data"], ["data", "data"], {}, random.Random(1)).theme == "data"
    with pytest.raises(ValueError):
        choose_theme([], [], {}, random.Random(1))
