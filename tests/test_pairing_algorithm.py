"""The pairing algorithm alone (db/pairing.py): plain ints in, groups out, no database, no Slack."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Sequence

import pytest

from db.models import Ritual
from db.pairing import PastRound, RoundPlan, intro_due, plan_round, round_window, unmet_pairs

MARKETING = [1, 2, 3, 4, 5]
IT = [11, 12, 13]


def play(
    marketing: Sequence[int],
    it: Sequence[int],
    rounds: int,
    *,
    trios: bool = False,
    history: list[PastRound] | None = None,
) -> list[RoundPlan]:
    history = history if history is not None else []
    plans = []
    for _ in range(rounds):
        plan = plan_round(marketing, it, history, trios=trios)
        plans.append(plan)
        history.append(PastRound(tuple(frozenset(g) for g in plan.groups), frozenset(plan.sat_out)))
    return plans


def cross_pairs(group: Sequence[int], marketing: Sequence[int]) -> set[tuple[int, int]]:
    return {
        (min(a, b), max(a, b))
        for a, b in itertools.combinations(group, 2)
        if (a in marketing) != (b in marketing)
    }


def assert_no_repeat_before_all_met(
    plans: Sequence[RoundPlan], marketing: Sequence[int], it: Sequence[int]
) -> int:
    """Walk the pairs in order: a pair may meet again only once every possible pair has met since
    the last time the cycle started. Returns how many cycles completed."""
    every = {(min(m, i), max(m, i)) for m in marketing for i in it}
    met: set[tuple[int, int]] = set()
    cycles = 0
    for plan in plans:
        for group in plan.groups:
            for pair in cross_pairs(group, marketing):
                if pair in met:
                    assert met == every, f"{pair} met again while {sorted(every - met)} had not met"
                    met = set()
                    cycles += 1
                met.add(pair)
        if met == every:
            met, cycles = set(), cycles + 1
    return cycles


def test_a_year_of_weekly_rounds_meets_all_15_pairs_before_any_repeats() -> None:
    plans = play(MARKETING, IT, 52)
    for plan in plans:
        assert len(plan.groups) == 3 and len(plan.sat_out) == 2
        assert all(len(g) == 2 and g[0] in MARKETING and g[1] in IT for g in plan.groups)
    # 15 pairs, 3 a round: each cycle takes exactly 5 rounds, 10 complete in 52 weeks.
    assert assert_no_repeat_before_all_met(plans, MARKETING, IT) == 10
    for start in range(0, 50, 5):
        cycle = [frozenset(g) for plan in plans[start : start + 5] for g in plan.groups]
        assert len(set(cycle)) == 15


def test_sitting_out_is_fair_nobody_twice_before_everyone_once() -> None:
    plans = play(MARKETING, IT, 52)
    counts: Counter[int] = Counter({p: 0 for p in MARKETING})
    for n, plan in enumerate(plans):
        counts.update(plan.sat_out)
        for p in plan.sat_out:
            # Sitting out for the (k+1)-th time only when everyone else has sat out k times (at the
            # latest in the same round: two sit out each round, five take turns).
            assert all(counts[q] >= counts[p] - 1 for q in MARKETING), (n, p, dict(counts))
        assert max(counts.values()) - min(counts.values()) <= 1
        # Whoever sat out last is paired first.
        if n:
            assert not set(plan.sat_out) & set(plans[n - 1].sat_out)
    assert set(counts.values()) == {2 * 52 // 5, 2 * 52 // 5 + 1} or len(set(counts.values())) == 1


def test_the_smaller_side_is_always_paired_and_it_can_be_marketing() -> None:
    plans = play([1, 2], [11, 12, 13, 14], 8)
    for plan in plans:
        assert {g[0] for g in plan.groups} == {1, 2}  # marketing first in each group
        assert len(plan.sat_out) == 2
    # 8 pairs, 2 a round: a cycle every 4 rounds.
    assert assert_no_repeat_before_all_met(plans, [1, 2], [11, 12, 13, 14]) == 2


def test_even_sides_meet_everyone_in_as_many_rounds_as_people() -> None:
    people = [1, 2, 3, 4]
    plans = play(people, [11, 12, 13, 14], 4)
    assert all(not p.sat_out and len(p.groups) == 4 for p in plans)
    assert assert_no_repeat_before_all_met(plans, people, [11, 12, 13, 14]) == 1


def test_opted_out_people_are_simply_not_given_and_never_paired() -> None:
    history: list[PastRound] = []
    play(MARKETING, IT, 3, history=history)
    later = play([1, 2, 4, 5], IT, 10, history=history)  # 3 opted out
    assert all(3 not in g for plan in later for g in plan.groups)
    assert all(3 not in plan.sat_out for plan in later)


def test_a_skipped_pairing_did_not_meet_and_may_be_paired_again_in_the_cycle() -> None:
    first = plan_round(MARKETING, IT, [])
    skipped = first.groups[0]
    # The round is stored without the skipped pairing (db.pairing.history leaves skipped ones out).
    history = [PastRound(tuple(frozenset(g) for g in first.groups[1:]), frozenset(first.sat_out))]
    assert (min(skipped), max(skipped)) in unmet_pairs(MARKETING, IT, history)


def test_a_new_member_joins_the_current_cycle_without_breaking_the_rule() -> None:
    history: list[PastRound] = []
    plans = play(MARKETING, IT, 2, history=history)
    plans += play([*MARKETING, 6], IT, 20, history=history)
    assert assert_no_repeat_before_all_met(plans, [*MARKETING, 6], IT) >= 1
    assert any(6 in g for plan in plans[2:] for g in plan.groups)


def test_trios_seat_everyone_and_meet_all_pairs_in_three_rounds() -> None:
    plans = play(MARKETING, IT, 12, trios=True)
    for plan in plans:
        assert not plan.sat_out  # nobody sits out: the extra two join a pair
        assert sorted(len(g) for g in plan.groups) == [2, 3, 3]
        assert all(len([p for p in g if p in IT]) == 1 for g in plan.groups)
    # 15 pairs, 5 a round: a cycle every 3 rounds, and never a repeat within one.
    assert assert_no_repeat_before_all_met(plans, MARKETING, IT) == 4


@pytest.mark.parametrize(("marketing", "it"), [([], [11]), ([1], []), ([], [])])
def test_nobody_to_pair_across_makes_no_groups(marketing: list[int], it: list[int]) -> None:
    assert plan_round(marketing, it, []) == RoundPlan((), ())


def test_big_teams_still_plan_quickly_and_without_repeats() -> None:
    marketing, it = list(range(1, 31)), list(range(101, 118))
    plans = play(marketing, it, 35)
    assert all(len(p.groups) == 17 for p in plans)
    assert assert_no_repeat_before_all_met(plans, marketing, it) >= 1


def _ritual(weeks: int, since: dt.datetime) -> Ritual:
    return Ritual(
        cadence_kind="weekly",
        weekday=1,
        local_time=dt.time(9),
        timezone="Europe/Berlin",
        interval_weeks=1,
        week_of_month=1,
        pairing_weeks=weeks,
        pairing_from=since,
    )


def test_rounds_start_at_the_check_in_time_every_n_weeks_across_dst() -> None:
    since = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    ritual = _ritual(2, since)
    assert round_window(ritual, since) is None  # before the first check-in time
    first = dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC)  # Tuesday 09:00 CET
    assert round_window(ritual, first) == (first, dt.datetime(2026, 3, 17, 8, tzinfo=dt.UTC))
    # Berlin springs forward on 29 March: 09:00 is 07:00 UTC from then on.
    assert round_window(ritual, dt.datetime(2026, 4, 1, tzinfo=dt.UTC)) == (
        dt.datetime(2026, 3, 31, 7, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 14, 7, tzinfo=dt.UTC),
    )
    assert round_window(_ritual(0, since), first) is None


TUESDAY_8_05_UTC = dt.datetime(2026, 11, 17, 8, 5, tzinfo=dt.UTC)  # 09:05 Berlin, 00:05 Los Angeles


@pytest.mark.parametrize(
    ("zones", "due"),
    [
        (["Europe/Berlin", "Europe/Berlin"], True),  # working hours for both
        (["Europe/Berlin", "America/Los_Angeles"], True),  # their days never overlap: Berlin's will do
        (["America/Los_Angeles", "America/Los_Angeles"], False),  # midnight for both: wait
        (["Europe/Berlin", "Europe/London"], False),  # London starts at 09:00 UTC: wait for the overlap
        (["Europe/Berlin", None], False),  # unknown is UTC: 08:05, not yet
    ],
)
def test_an_introduction_waits_for_an_hour_the_pair_shares(zones: list[str | None], due: bool) -> None:
    halfway = TUESDAY_8_05_UTC + dt.timedelta(days=3, hours=12)
    assert intro_due(TUESDAY_8_05_UTC, zones, until=halfway) is due
