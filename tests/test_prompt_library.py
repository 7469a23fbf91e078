"""The built-in prompt library: content rules and the no-repeat rotation."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from db.prompt_library import (
    BUILTIN_PROMPTS,
    MAX_PRACTICE_LENGTH,
    MAX_TEXT_LENGTH,
    THEME_DESCRIPTIONS,
    THEME_TITLES,
    Prompt,
    PromptLike,
    Theme,
    choose_next_prompt,
    get_prompt,
    keys_used_in_current_cycle,
    parse_theme,
    prompts_for_themes,
)

SEEDS_DIR = Path(os.environ.get("TANDEM_SEEDS_DIR", "/work/shared/seeds"))
SHINGLE = 8


@dataclass(frozen=True)
class CustomPrompt:
    """Stands in for a workspace prompt row: string theme, "ws-N" key."""

    key: str
    theme: str
    text: str = "A workspace question?"


def run(candidates, cycles, history=None, **kwargs):
    """Pick `cycles * len(candidates)` prompts in a row, appending each to the history."""
    history = list(history or [])
    for _ in range(cycles * len(candidates)):
        history.append(choose_next_prompt(candidates, history, **kwargs).key)
    return history


def assert_full_cycles(history, keys):
    n = len(keys)
    assert len(history) % n == 0
    for start in range(0, len(history), n):
        assert sorted(history[start : start + n]) == sorted(keys), f"cycle at {start} repeats a prompt"


# --- Content ------------------------------------------------------------------------------------


def test_counts():
    assert len(BUILTIN_PROMPTS) >= 50
    assert len(Theme) >= 10
    per_theme = Counter(p.theme for p in BUILTIN_PROMPTS)
    for theme in Theme:
        assert per_theme[theme] >= 4, theme


def test_theme_slugs_titles_and_descriptions():
    for theme in Theme:
        assert re.fullmatch(r"[a-z][a-z0-9-]{1,19}", theme.value)
        assert THEME_TITLES[theme] and THEME_TITLES[theme] == theme.label
        assert THEME_DESCRIPTIONS[theme] and THEME_DESCRIPTIONS[theme] == theme.description
    assert set(THEME_TITLES) == set(Theme) == set(THEME_DESCRIPTIONS)
    assert len({t.casefold() for t in THEME_TITLES.values()}) == len(Theme)


def test_keys_unique_stable_and_named_after_theme():
    keys = [p.key for p in BUILTIN_PROMPTS]
    assert len(keys) == len(set(keys))
    for p in BUILTIN_PROMPTS:
        assert isinstance(p, Prompt) and isinstance(p, PromptLike)
        assert re.fullmatch(rf"{p.theme.value}-\d\d", p.key), p.key
        assert not p.key.startswith("ws-")  # reserved for workspace prompts


def test_lengths_and_punctuation():
    for p in BUILTIN_PROMPTS:
        assert 20 <= len(p.text) <= MAX_TEXT_LENGTH, p.key
        assert 20 <= len(p.practice) <= MAX_PRACTICE_LENGTH, p.key
        assert p.text.endswith(("?", ".")), p.key
        assert p.practice.endswith("."), p.key
        assert p.text == " ".join(p.text.split()), f"{p.key}: stray whitespace"
        assert p.practice == " ".join(p.practice.split()), f"{p.key}: stray whitespace"


@pytest.mark.parametrize("field", ["text", "practice"])
def test_no_slack_special_characters(field):
    for p in BUILTIN_PROMPTS:
        value = getattr(p, field)
        assert not set(value) & set("<>&*_~`"), f"{p.key}.{field}"
        assert value.isascii(), f"{p.key}.{field}"


def test_texts_are_distinct():
    assert len({p.text.casefold() for p in BUILTIN_PROMPTS}) == len(BUILTIN_PROMPTS)
    assert len({p.practice.casefold() for p in BUILTIN_PROMPTS}) == len(BUILTIN_PROMPTS)


def _words(text: str) -> list[str]:
    text = text.replace("\u2019", "'").replace("\u2018", "'").casefold()
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)


def _shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_shingle_helper():
    assert _shingles("One two three four five six seven eight nine") == {
        ("one", "two", "three", "four", "five", "six", "seven", "eight"),
        ("two", "three", "four", "five", "six", "seven", "eight", "nine"),
    }
    assert _words("CMO\u2019s turf, IT's role") == ["cmo's", "turf", "it's", "role"]


def test_nothing_copied_from_seed_articles():
    seeds = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.is_dir() else []
    if not seeds:
        pytest.skip(f"dev-only check: no seed articles in {SEEDS_DIR}")
    seed_shingles: set[tuple[str, ...]] = set()
    for path in seeds:
        seed_shingles |= _shingles(path.read_text(encoding="utf-8", errors="replace"))
    copied = [
        (p.key, " ".join(s))
        for p in BUILTIN_PROMPTS
        for field in (p.text, p.practice, THEME_DESCRIPTIONS[p.theme])
        for s in _shingles(field) & seed_shingles
    ]
    assert not copied


# --- Lookups ------------------------------------------------------------------------------------


def test_prompts_for_themes():
    data = prompts_for_themes([Theme.DATA])
    assert data and all(p.theme is Theme.DATA for p in data)
    both = prompts_for_themes([Theme.KPIS, Theme.DATA, Theme.DATA])
    assert {p.theme for p in both} == {Theme.DATA, Theme.KPIS}
    assert [p for p in BUILTIN_PROMPTS if p in both] == list(both)  # library order
    assert prompts_for_themes([]) == ()
    assert prompts_for_themes(["speed"]) == prompts_for_themes([Theme.SPEED])


def test_get_prompt():
    first = BUILTIN_PROMPTS[0]
    assert get_prompt(first.key) is first
    with pytest.raises(KeyError, match="ws-17"):
        get_prompt("ws-17")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data", Theme.DATA),
        ("  KPIs ", Theme.KPIS),
        ("Shared KPIs and incentives", Theme.KPIS),
        ("speed  VERSUS stability", Theme.SPEED),
        ("Message versus medium", Theme.MESSAGE),
    ],
)
def test_parse_theme(text, expected):
    assert parse_theme(text) is expected


@pytest.mark.parametrize("text", ["", "   ", "marketing", "data-01", "dat"])
def test_parse_theme_errors_list_valid_slugs(text):
    with pytest.raises(ValueError) as info:
        parse_theme(text)
    message = str(info.value)
    for theme in Theme:
        assert theme.value in message


# --- Rotation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [None, 0, 7, 12345])
def test_no_repeat_until_all_used_over_three_cycles(seed):
    candidates = prompts_for_themes([Theme.DATA, Theme.KPIS, Theme.CREDIT])
    keys = [p.key for p in candidates]
    history = run(candidates, 3, rng_seed=seed)
    assert_full_cycles(history, keys)
    n = len(keys)
    # Least recently used first: once established, every cycle walks the same order.
    assert history[:n] == history[n : 2 * n] == history[2 * n :]


def test_default_order_is_deterministic_and_interleaves_themes():
    candidates = prompts_for_themes([Theme.DATA, Theme.KPIS, Theme.CREDIT])
    first = run(candidates, 1)
    assert first == run(list(reversed(candidates)), 1)  # input order does not matter
    assert [get_prompt(k).theme for k in first[:3]] == [Theme.CREDIT, Theme.DATA, Theme.KPIS]
    assert first[:3] == ["credit-01", "data-01", "kpis-01"]


def test_seed_changes_order_but_is_reproducible():
    candidates = prompts_for_themes(list(Theme))
    default = run(candidates, 1)
    seeded = {seed: run(candidates, 1, rng_seed=seed) for seed in (1, 2, 3)}
    assert seeded[1] == run(candidates, 1, rng_seed=1)
    assert len({tuple(h) for h in [default, *seeded.values()]}) == 4
    # Seeded orders still interleave themes: the first len(Theme) picks cover every theme.
    for history in seeded.values():
        assert {get_prompt(k).theme for k in history[: len(Theme)]} == set(Theme)


def test_unknown_history_keys_are_ignored():
    candidates = prompts_for_themes([Theme.BUDGET])
    history = ["retired-01", "ws-99", "budget-01", "nonsense"]
    nxt = choose_next_prompt(candidates, history)
    assert nxt.key != "budget-01"
    assert keys_used_in_current_cycle([p.key for p in candidates], history) == {"budget-01"}


def test_cycle_restarts_after_completion():
    keys = ["a", "b", "c"]
    assert keys_used_in_current_cycle(keys, []) == set()
    assert keys_used_in_current_cycle(keys, ["a", "b"]) == {"a", "b"}
    assert keys_used_in_current_cycle(keys, ["a", "b", "c"]) == set()
    assert keys_used_in_current_cycle(keys, ["a", "a", "b", "c", "b"]) == {"b"}


def test_preferred_theme_respected_while_rotation_holds():
    candidates = prompts_for_themes([Theme.DATA, Theme.KPIS, Theme.SPEED])
    kpis = {p.key for p in candidates if p.theme is Theme.KPIS}
    history = run(candidates, 3, preferred_themes=["kpis"])
    assert_full_cycles(history, [p.key for p in candidates])
    n = len(candidates)
    for start in range(0, len(history), n):
        # Each cycle opens with every KPI prompt, then falls back to the normal order.
        assert set(history[start : start + len(kpis)]) == kpis


def test_preferred_themes_fall_through_in_order():
    candidates = prompts_for_themes([Theme.DATA, Theme.KPIS, Theme.SPEED])
    kpis = [p.key for p in candidates if p.theme is Theme.KPIS]
    # KPI prompts all used this cycle: the second preference applies, unknown themes are skipped.
    pick = choose_next_prompt(candidates, kpis, preferred_themes=["kpis", "nope", "speed", "data"])
    assert pick.theme is Theme.SPEED
    # No preference can be met: normal order.
    normal = choose_next_prompt(candidates, kpis)
    assert choose_next_prompt(candidates, kpis, preferred_themes=["kpis", "roles"]) == normal
    assert choose_next_prompt(candidates, kpis, preferred_themes=[]) == normal
    # Theme members work as preferences too.
    assert choose_next_prompt(candidates, [], preferred_themes=[Theme.SPEED]).theme is Theme.SPEED


def test_custom_prompts_mix_with_builtins():
    custom = [CustomPrompt("ws-17", "data"), CustomPrompt("ws-9", "data"), CustomPrompt("ws-3", "partners")]
    candidates = [*prompts_for_themes([Theme.DATA]), *custom]
    history = run(candidates, 3)
    assert_full_cycles(history, [c.key for c in candidates])
    data_order = [k for k in history[: len(candidates)] if k.startswith(("data-", "ws-17", "ws-9"))]
    assert data_order.index("ws-9") < data_order.index("ws-17")  # natural key order
    assert data_order[0] == "data-01"  # built-ins before workspace prompts of a theme
    pick = choose_next_prompt(candidates, [], preferred_themes=["partners"])
    assert pick == CustomPrompt("ws-3", "partners")
    assert isinstance(pick, PromptLike)


def test_prompt_added_mid_cycle_comes_up_before_any_repeat():
    base = list(prompts_for_themes([Theme.ROLES]))
    history = run(base, 1)
    history += [choose_next_prompt(base, history).key]  # second cycle started
    added = CustomPrompt("ws-1", "roles")
    candidates = [*base, added]
    nxt = choose_next_prompt(candidates, history)
    assert nxt is added
    history.append(nxt.key)
    # Afterwards rotation continues without repeats, least recently used first.
    more = run(candidates, 2, history=history)[len(history) :]
    assert_full_cycles(more, [c.key for c in candidates])
    assert more[0] == history[1]


def test_prompt_removed_mid_cycle_is_forgotten():
    candidates = list(prompts_for_themes([Theme.MESSAGE]))
    history = run(candidates, 1)[:-1]  # one prompt left in the cycle...
    remaining = next(c for c in candidates if c.key not in history)
    smaller = [c for c in candidates if c is not remaining]  # ...and it gets deleted
    # The cycle is complete without it, so a new one starts with the least recently used.
    assert choose_next_prompt(smaller, history).key == history[0]
    assert_full_cycles(run(smaller, 2, history=history)[len(history) :], [c.key for c in smaller])


def test_single_candidate_and_errors():
    only = [CustomPrompt("ws-1", "data")]
    assert run(only, 3) == ["ws-1"] * 3
    with pytest.raises(ValueError, match="no candidate"):
        choose_next_prompt([], [])
    with pytest.raises(ValueError, match="unique"):
        choose_next_prompt([CustomPrompt("ws-1", "data"), CustomPrompt("ws-1", "kpis")], [])


def test_choose_does_not_mutate_inputs():
    candidates = prompts_for_themes([Theme.VISION])
    history = ["vision-02"]
    choose_next_prompt(candidates, history, rng_seed=3, preferred_themes=["vision"])
    assert history == ["vision-02"]
    assert candidates == prompts_for_themes([Theme.VISION])


# --- `/tandem prompts` through the real app -------------------------------------------------------


def _prompt_rows(running_app):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from db.models import CustomPrompt as Row

    with running_app.services.database.read() as session:
        return [(p.id, p.removed_at) for p in session.scalars(select(Row).order_by(Row.id))]


def _add(running_app, **kwargs) -> str:  # type: ignore[no-untyped-def]
    added = running_app.slack.command(
        "prompts add data Which dashboard did nobody open last month, and why?", **kwargs
    ).json()
    assert "Added prompt `ws-" in added["text"]
    return added["text"].split("`")[1]


@pytest.mark.parametrize(
    "given",
    [
        "999999999999999999999",  # past every integer column (was HTTP 500)
        "ws-999999999999999999999",
        "2147483648",  # one past PostgreSQL's INTEGER
        "-1",
        "ws--1",
        "0",
        "ws-0",
        "banana",
        "ws-",
        "²",  # a digit to str.isdigit(), not to int()
        "1e3",
        "ws-1 ws-2",
        "",
    ],
)
def test_prompts_remove_answers_a_bad_id_and_removes_nothing(running_app, given: str) -> None:  # type: ignore[no-untyped-def]
    _add(running_app)
    before = _prompt_rows(running_app)
    response = running_app.slack.command(f"prompts remove {given}")
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "is not a prompt id" in answer["text"] and "/tandem prompts remove ws-12" in answer["text"]
    assert _prompt_rows(running_app) == before


def test_prompts_remove_an_unknown_id_in_range_is_no_such_prompt(running_app) -> None:  # type: ignore[no-untyped-def]
    key = _add(running_app)
    before = _prompt_rows(running_app)
    answer = running_app.slack.command("prompts remove ws-2147483647").json()
    assert "There is no prompt ws-2147483647 in this workspace" in answer["text"]
    assert _prompt_rows(running_app) == before
    assert "Removed" in running_app.slack.command(f"prompts remove {key.upper()}").json()["text"]
    gone = running_app.slack.command(f"prompts remove {key}").json()
    assert f"There is no prompt {key} in this workspace" in gone["text"]


def test_another_workspaces_prompt_cannot_be_seen_or_removed(running_app) -> None:  # type: ignore[no-untyped-def]
    key = _add(running_app)  # in the default workspace
    running_app.fake.add_user("U_ADMIN_B", is_admin=True)
    before = _prompt_rows(running_app)
    for user_id in ("U_ADMIN_B", "U_OUT"):
        for given in (key, key.removeprefix("ws-")):
            answer = running_app.slack.command(
                f"prompts remove {given}", team_id="T_OTHER", user_id=user_id
            ).json()
            assert f"There is no prompt {key} in this workspace" in answer["text"]
    listed = running_app.slack.command("prompts", team_id="T_OTHER").json()
    assert f"`{key}`" not in str(listed["blocks"]) and "no prompts of its own" in str(listed["blocks"])
    assert _prompt_rows(running_app) == before and before[0][1] is None
    # Its own workspace still sees it.
    assert f"`{key}`" in str(running_app.slack.command("prompts").json()["blocks"])


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("prompts add", "Give a theme and the prompt's text."),
        ("prompts add data", "Give a theme and the prompt's text."),
        ("prompts add data Why?", "at least a few words"),
        ("prompts add data " + "Why " * 100, "keep it to 280"),
        ("prompts add " + "x" * 5000 + " What one number would change our plan?", "Unknown theme"),
        ("prompts frobnicate", "I don't know `prompts frobnicate`"),
    ],
)
def test_prompts_add_and_unknown_actions_answer_with_an_example(running_app, args: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    answer = running_app.slack.command(args).json()
    assert problem in answer["text"] and "Try: `/tandem prompts" in answer["text"]
    assert len(answer["text"]) < 600
    assert _prompt_rows(running_app) == []


# --- sources, and the practices the library must cover ------------------------------------------


def test_at_least_80_prompts_over_at_least_12_themes():
    assert len(BUILTIN_PROMPTS) >= 80
    assert len({p.theme for p in BUILTIN_PROMPTS}) >= 12


def test_every_why_names_its_article_by_title_or_says_it_is_tandems_own():
    from db.prompt_library import Source

    for p in BUILTIN_PROMPTS:
        assert p.why.startswith(p.practice + " "), p.key
        if p.source is Source.TANDEM:
            assert p.why.endswith("Tandem's own advice."), p.key
        else:
            assert p.why.endswith(f"From “{p.source.value}”."), p.key


def test_source_titles_are_the_titles_of_the_articles():
    from db.prompt_library import Source

    seeds = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.is_dir() else []
    if not seeds:
        pytest.skip(f"seed articles not found in {SEEDS_DIR}")
    # An article's title is a line of its own near its top (one opens with a date first, one has a
    # no-break space in its title: whitespace is normalised).
    titles = {
        " ".join(line.split()) for path in seeds for line in path.read_text(encoding="utf-8").splitlines()[:5]
    }
    for source in Source:
        if source is not Source.TANDEM:
            assert source.value in titles, source.value


@pytest.mark.parametrize(
    "practice, words",
    [
        ("IT as revenue enabler, not cost centre", ("revenue enabler", "cost centre")),
        ("IT treating marketing as its customer", ("marketing as a customer",)),
        ("business first, marketing second", ("business first",)),
        ("attribution of marketing spend", ("which half",)),
        ("joint teams with sales and service, judged together", ("sales and service", "judged")),
        ("listen to IT, meet them where they are", ("listening to it", "meet")),
        ("the CIO learning marketing's challenges and aspirations", ("challenge", "ambition")),
        ("following up whether collaboration is at the right level", ("right level", "too much")),
    ],
)
def test_the_library_covers_the_practices_the_articles_stress(practice, words):
    found = [p.key for p in BUILTIN_PROMPTS if all(w in f"{p.text} {p.practice}".casefold() for w in words)]
    assert found, practice


def test_every_theme_has_a_mirrored_question_pair_grounded_in_an_article():
    from db.prompt_library import Source
    from db.theme_questions import THEME_QUESTIONS, question_for_theme, theme_question

    assert {q.theme for q in THEME_QUESTIONS} == set(Theme)
    assert len({q.key for q in THEME_QUESTIONS}) == len(THEME_QUESTIONS)
    for q in THEME_QUESTIONS:
        assert question_for_theme(q.theme.value) is q and theme_question(q.key) is q
        assert q.marketing != q.it and q.marketing.endswith("?") and q.it.endswith("?")
        assert q.source is not Source.TANDEM  # grounded in an article
        assert not set(q.marketing + q.it) & set("<>&*_~`")
