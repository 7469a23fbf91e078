"""The pulse builders: button values, the channel message, results, and the privacy rules they keep."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.blocks import Block

from bot import ids
from bot.blocks.pulse import (
    ANSWER_ACTION_PATTERN,
    FORGOT_MEMBERSHIPS,
    FORGOT_OPEN_ANONYMOUS,
    FORGOT_REMINDERS,
    FORGOT_SIDE,
    FORGOT_VOTES,
    MEMBER_VOTES_SHOWN,
    SIDE_ACTION_PATTERN,
    AnswerClick,
    PulseView,
    answer_action_id,
    build_answer_confirmation,
    build_closed_notice,
    build_forget_confirmation,
    build_forget_done,
    build_member_votes,
    build_pulse_message,
    build_reminder_dm,
    build_results,
    build_side_question,
    decode_answer,
    encode_answer,
    forget_confirmed,
    parse_answer_click,
    parse_close_value,
    parse_reminders,
    parse_side,
    parse_side_action_id,
    participation_text,
    score_label,
    side_action_id,
    withheld_sentence,
)
from db.figures import Figures, PulseResults
from db.models import PulseQuestion, Side
from db.theme_questions import question_for_theme

BERLIN = ZoneInfo("Europe/Berlin")
CLOSES = dt.datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)
NASTY_NAME = "<!channel> Marketing & IT *weekly*"

OPEN = PulseView(
    pulse_id=42,
    ritual_name="Marketing & IT weekly",
    anonymous=True,
    answered=3,
    closes_at_local=CLOSES,
    closed=False,
    closed_at_local=None,
)
CLOSED = PulseView(
    pulse_id=42,
    ritual_name="Marketing & IT weekly",
    anonymous=True,
    answered=5,
    closes_at_local=CLOSES,
    closed=True,
    closed_at_local=CLOSES - dt.timedelta(hours=2),
)


# --------------------------------------------------------------------------- helpers


def dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    """Every block as Slack receives it; `to_dict()` also runs slack_sdk's own length checks."""
    return [b.to_dict() for b in blocks]


def check_limits(text: str, blocks: list[Block]) -> list[dict[str, Any]]:
    """Block Kit's limits (see /work/shared/SLACK_FACTS.md), checked on the JSON Slack would get."""
    assert text.strip()
    out = dicts(blocks)
    assert 0 < len(out) <= 50
    action_ids = []
    for block in out:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        elif block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        elif block["type"] == "context":
            assert len(block["elements"]) <= 10
        elif block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for el in block["elements"]:
                assert len(el["text"]["text"]) <= 75
                assert len(el.get("value", "")) <= 2000
                assert len(el["action_id"]) <= 255
                action_ids.append(el["action_id"])
        assert len(block.get("block_id", "")) <= 255
    # Slack refuses a message with two equal action_ids (or block_ids).
    assert len(action_ids) == len(set(action_ids))
    block_ids = [b["block_id"] for b in out if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    assert len(json.dumps(out, ensure_ascii=False)) < 12_000  # msg_blocks_too_long at ~13k
    return out


def all_text(out: list[dict[str, Any]]) -> str:
    return json.dumps(out, ensure_ascii=False)


def section_texts(out: list[dict[str, Any]]) -> str:
    """Section texts with real newlines, for line-anchored searches (the JSON escapes them)."""
    return "\n".join(b["text"]["text"] for b in out if b["type"] == "section")


def buttons(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [el for b in out if b["type"] == "actions" for el in b["elements"]]


def answer_buttons(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [el for el in buttons(out) if ANSWER_ACTION_PATTERN.match(el["action_id"])]


def fig(*distribution: int) -> Figures:
    """Figures shown in full, as db.pulses computes them."""
    total = sum(distribution)
    average = round(sum(s * n for s, n in zip(range(1, 6), distribution, strict=True)) / total, 2)
    return Figures(total, average, tuple(distribution))


def withheld(count: int) -> Figures:
    return Figures(count, None, None)


NONE = Figures(0, None, None)


def results(
    *,
    mkt: Figures = NONE,
    it: Figures = NONE,
    other: Figures = NONE,
    level_mkt: Figures = NONE,
    level_it: Figures = NONE,
    level_other: Figures = NONE,
    level_all: Figures | None = None,
    previous: PulseResults | None = None,
    min_answers: int = 3,
) -> PulseResults:
    partner = {Side.MARKETING: mkt, Side.IT: it, Side.OTHER: other}
    level = {Side.MARKETING: level_mkt, Side.IT: level_it, Side.OTHER: level_other}
    if level_all is None:
        dists = [f.distribution for f in level.values() if f.distribution is not None]
        total = sum(f.count for f in level.values())
        if total == 0:
            level_all = NONE
        elif total < min_answers:
            level_all = withheld(total)
        else:  # tests with withheld sides pass `level_all`; here every side is shown
            assert all(f.distribution is not None for f in level.values() if f.count)
            level_all = fig(*(sum(d[i] for d in dists) for i in range(5)))
    gap = None
    if mkt.average is not None and it.average is not None:
        gap = round(mkt.average - it.average, 2)
    return PulseResults(
        pulse_id=7,
        anonymous=True,
        min_answers=min_answers,
        participation={side: max(partner[side].count, level[side].count) for side in Side},
        partner=partner,
        level=level,
        level_all=level_all,
        gap=gap,
        previous=previous,
    )


# Marketing's view of IT 3.4, IT's view of marketing 4.1: marketing rates IT lower, gap 0.7.
MKT_34 = fig(0, 0, 3, 2, 0)  # 17 / 5 = 3.4
IT_41 = fig(0, 0, 2, 5, 3)  # 41 / 10 = 4.1
FULL = results(mkt=MKT_34, it=IT_41, level_mkt=fig(0, 1, 3, 1, 0), level_it=fig(1, 1, 4, 3, 1))


# --------------------------------------------------------------------------- ids and values


def test_encode_decode_round_trip() -> None:
    for pulse_id in (1, 42, ids.MAX_ROW_ID):
        for question in PulseQuestion:
            for score in range(1, 6):
                value = encode_answer(pulse_id, question, score)
                assert len(value) <= 2000
                assert decode_answer(value) == (pulse_id, question, score)
    assert encode_answer(42, PulseQuestion.PARTNER, 4) == "42:partner:4"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "42",
        "42:partner",
        "42:partner:",
        "42:partner:0",
        "42:partner:6",
        "42:partner:-1",
        "42:partner:3.0",
        "42:partner:3:1",
        "x:partner:3",
        "0:partner:3",
        f"{ids.MAX_ROW_ID + 1}:partner:3",  # past the database's integer range
        "99999999999999999999999:partner:3",
        "042:partner:3",
        "+42:partner:3",
        " 42:partner:3",
        "42:partner:3\n",
        "4_2:partner:3",
        "42:level:٣",  # an Arabic-Indic digit: int() would accept it
        "42:PARTNER:3",
        "42:other:3",
        '{"pulse": 42}',
        "1" * 19 + ":level:3",
    ],
)
def test_decode_rejects_malformed_values(value: str) -> None:
    with pytest.raises(ValueError):
        decode_answer(value)


def test_decode_rejects_non_strings() -> None:
    with pytest.raises(ValueError):
        decode_answer(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pulse_id", "question", "score"),
    [
        (0, PulseQuestion.PARTNER, 3),
        (-1, PulseQuestion.PARTNER, 3),
        ("42", PulseQuestion.PARTNER, 3),
        (True, PulseQuestion.PARTNER, 3),
        (42, "partner", 3),
        (42, PulseQuestion.LEVEL, 0),
        (42, PulseQuestion.LEVEL, 6),
        (42, PulseQuestion.LEVEL, True),
    ],
)
def test_encode_rejects_what_decode_would_refuse(pulse_id: Any, question: Any, score: Any) -> None:
    with pytest.raises(ValueError):
        encode_answer(pulse_id, question, score)


def test_action_ids() -> None:
    made = {answer_action_id(q, s) for q in PulseQuestion for s in range(1, 6)}
    assert len(made) == 5 * len(PulseQuestion)
    assert all(ANSWER_ACTION_PATTERN.match(a) and a.startswith("pulse_answer:") for a in made)
    assert answer_action_id(PulseQuestion.LEVEL, 5) == "pulse_answer:level:5"
    for side in Side:
        action_id = side_action_id(side)
        assert SIDE_ACTION_PATTERN.match(action_id)
        assert parse_side_action_id(action_id) is side
    assert side_action_id(Side.MARKETING) == "pulse_side:marketing"
    for bad in ("pulse_side", "pulse_side:", "pulse_side:sales", "pulse_answer:marketing", "marketing"):
        with pytest.raises(ValueError):
            parse_side_action_id(bad)
    # Nothing else Tandem registers may be caught by the answer or side listeners.
    for name in dir(ids):
        value = getattr(ids, name)
        if name.startswith(("ACTION_", "BLOCK_")) and isinstance(value, str):
            assert not ANSWER_ACTION_PATTERN.match(value)
            assert not SIDE_ACTION_PATTERN.match(value)


def test_every_button_value_parses_back_with_its_parser() -> None:
    _, blocks = build_pulse_message(OPEN)
    close = next(b for b in buttons(dicts(blocks)) if b["action_id"] == ids.ACTION_PULSE_CLOSE)
    assert parse_close_value(close["value"]) == 42
    _, asked = build_side_question(42, PulseQuestion.LEVEL, 4)
    for side_button in buttons(dicts(asked)):
        click = parse_answer_click({**side_button, "action_ts": "1700000000.000200"}, side_question=True)
        assert click == AnswerClick(
            42,
            PulseQuestion.LEVEL,
            4,
            "1700000000.000200",
            parse_side(side_button["action_id"].split(":")[1]),
        )
    _, forget = build_forget_confirmation()
    values = {b["action_id"]: b["value"] for b in buttons(dicts(forget))}
    assert forget_confirmed(values[ids.ACTION_FORGET_CONFIRM])
    assert not forget_confirmed(values[ids.ACTION_FORGET_CANCEL])


@pytest.mark.parametrize(
    "value", ["abc", "0", "-5", "99999999999999999999", "", " ", "1.5", None, True, 2**31, [42]]
)
def test_close_values_that_name_no_pulse(value: Any) -> None:
    assert parse_close_value(value) is None


@pytest.mark.parametrize(
    "action",
    [
        {"value": "42:partner:3", "action_ts": "abc"},
        {"value": "42:partner:3", "action_ts": "1e9"},
        {"value": "42:partner:3", "action_ts": 17},
        {"value": "99999999999999999999:partner:3", "action_ts": "1.0"},
        {"value": None, "action_ts": "1.0"},
        {"value": 42, "action_ts": "1.0"},
    ],
)
def test_unreadable_clicks(action: dict[str, Any]) -> None:
    assert parse_answer_click(action) is None


def test_side_clicks_need_a_known_side() -> None:
    value = encode_answer(42, PulseQuestion.PARTNER, 3)
    for action_id in ("pulse_side:sales", "pulse_side:", "pulse_answer:partner:3", None):
        assert parse_answer_click({"action_id": action_id, "value": value}, side_question=True) is None
    assert parse_answer_click({"action_id": "pulse_side:it", "value": value}) == AnswerClick(
        42,
        PulseQuestion.PARTNER,
        3,
        "0",  # no action_ts: the oldest click, and no side from an answer button
    )


def test_command_arguments() -> None:
    assert parse_side(" IT ") is Side.IT and parse_side("finance") is None
    assert parse_reminders("On") is True and parse_reminders("off") is False and parse_reminders("") is None


def test_score_labels() -> None:
    assert score_label(PulseQuestion.PARTNER, 4) == "4 (Good)"
    assert score_label(PulseQuestion.LEVEL, 5) == "5 (Just right)"
    with pytest.raises(ValueError):
        score_label(PulseQuestion.LEVEL, 0)


# --------------------------------------------------------------------------- the channel message


def test_open_message_has_ten_unique_answer_buttons_and_no_figures() -> None:
    text, blocks = build_pulse_message(OPEN)
    out = check_limits(text, blocks)
    answers = answer_buttons(out)
    assert len(answers) == 10
    assert len({b["action_id"] for b in answers}) == 10
    decoded = {decode_answer(b["value"]) for b in answers}
    assert decoded == {(42, q, s) for q in (PulseQuestion.PARTNER, PulseQuestion.LEVEL) for s in range(1, 6)}
    # Each question's buttons sit in their own block, under the ids the listeners read.
    by_block = {b["block_id"]: b for b in out if b["type"] == "actions" and "block_id" in b}
    assert {el["value"].split(":")[1] for el in by_block[ids.BLOCK_PULSE_PARTNER]["elements"]} == {"partner"}
    assert {el["value"].split(":")[1] for el in by_block[ids.BLOCK_PULSE_LEVEL]["elements"]} == {"level"}
    assert [el["text"]["text"] for el in by_block[ids.BLOCK_PULSE_PARTNER]["elements"]] == [
        "1 Poor",
        "2 Fair",
        "3 OK",
        "4 Good",
        "5 Great",
    ]

    body = all_text(out)
    assert "Pulse: Marketing &amp; IT weekly" in body
    assert (
        "Marketing: how well does IT partner with you? · IT: how well does marketing partner with you?"
        in body
    )
    assert "Is collaboration between marketing and IT at the right level?" in body
    assert "Anonymous: nobody, not even admins, can see who answered what." in body
    assert "3 people have answered so far · closes <!date^" in body
    # Never an average while open.
    assert not re.search(r"\d\.\d", body + text)
    assert "/ 5" not in body and "/5" not in text

    close = [el for el in buttons(out) if el["action_id"] == ids.ACTION_PULSE_CLOSE]
    assert len(close) == 1 and close[0]["value"] == "42" and "confirm" in close[0]
    assert "Marketing &amp; IT weekly" in text and "3 people have answered so far" in text


def test_open_message_counts_and_privacy_wording() -> None:
    _, blocks = build_pulse_message(PulseView(1, "X", False, 0, CLOSES, False, None))
    body = all_text(dicts(blocks))
    assert "Not anonymous: the ritual's members can see who answered what." in body
    assert "Nobody has answered yet" in body
    _, blocks = build_pulse_message(PulseView(1, "X", True, 1, CLOSES, False, None))
    assert "1 person has answered so far" in all_text(dicts(blocks))


def test_open_message_escapes_the_ritual_name() -> None:
    text, blocks = build_pulse_message(PulseView(1, NASTY_NAME * 20, True, 0, CLOSES, False, None))
    out = check_limits(text, blocks)
    assert "<!channel>" not in all_text(out) and "<!channel>" not in text
    assert "&lt;!channel&gt;" in all_text(out)


def test_closed_message_has_no_answer_buttons() -> None:
    text, blocks = build_pulse_message(CLOSED)
    out = check_limits(text, blocks)
    assert buttons(out) == []
    body = all_text(out)
    assert "This pulse closed on <!date^" in body
    assert "Results are in the thread." in body
    assert "5 people answered." in body
    assert "closed on Tue 1 Dec 2026, 07:00 CET" in text and "5 people answered" in text
    assert not re.search(r"\d\.\d", body)


def test_answer_confirmation() -> None:
    text, blocks = build_answer_confirmation(PulseQuestion.PARTNER, 4, changed=False, anonymous=True)
    body = all_text(check_limits(text, blocks))
    assert text.startswith("You answered 4 (Good) to “How well does the other side partner with yours?”.")
    assert "You can change it by clicking again until the pulse closes." in text
    assert "never shown with your name" in body

    text, blocks = build_answer_confirmation(PulseQuestion.LEVEL, 2, changed=True, anonymous=False)
    body = all_text(check_limits(text, blocks))
    assert "You changed your answer to 2 (Not really)" in text
    assert "members can see your answer" in body


def test_closed_notice() -> None:
    notice = build_closed_notice(CLOSES)
    assert notice.startswith("This pulse closed on Tue 1 Dec 2026, 09:00 CET.")


def test_side_question_carries_the_pending_answer() -> None:
    text, blocks = build_side_question(42, PulseQuestion.LEVEL, 3)
    out = check_limits(text, blocks)
    assert text == "Before I count your answer: are you in marketing, IT or other?"
    side_buttons = buttons(out)
    assert [b["action_id"] for b in side_buttons] == [
        "pulse_side:marketing",
        "pulse_side:it",
        "pulse_side:other",
    ]
    assert [b["text"]["text"] for b in side_buttons] == ["Marketing", "IT", "Other"]
    assert all(decode_answer(b["value"]) == (42, PulseQuestion.LEVEL, 3) for b in side_buttons)
    assert "/tandem role marketing|it|other" in all_text(out)


def test_reminder_dm_has_the_same_buttons() -> None:
    text, blocks = build_reminder_dm(OPEN, "C0123")
    out = check_limits(text, blocks)
    _, channel_blocks = build_pulse_message(OPEN)
    same = [(b["action_id"], b["value"]) for b in answer_buttons(dicts(channel_blocks))]
    assert [(b["action_id"], b["value"]) for b in answer_buttons(out)] == same
    assert not any(b["action_id"] == ids.ACTION_PULSE_CLOSE for b in buttons(out))
    body = all_text(out)
    assert "<#C0123>" in body and "<#C0123>" in text
    assert "closes <!date^" in body and "Tue 1 Dec 2026, 09:00 CET" in text
    assert "Don't want these? `/tandem reminders off`" in body
    assert not re.search(r"\d\.\d", body)

    text, blocks = build_reminder_dm(CLOSED, "C0123")
    assert buttons(check_limits(text, blocks)) == []


# --------------------------------------------------------------------------- results


def test_results_show_both_views_and_the_gap() -> None:
    text, blocks = build_results(FULL, ritual_name="Marketing & IT weekly")
    out = check_limits(text, blocks)
    body = all_text(out)
    assert "Pulse results: Marketing &amp; IT weekly" in body
    assert "Answered: marketing 5 · IT 10" in body and "other teams" not in body.split("Answered:")[1][:40]
    assert "Marketing's view of IT: *3.4* / 5" in body
    assert "IT's view of marketing: *4.1* / 5" in body
    assert "*Gap: 0.7* — marketing rates IT lower than IT rates marketing." in body
    assert "Everyone: *3.1* / 5" in body  # (1 + 2*2 + 7*3 + 4*4 + 5) / 15 = 47 / 15
    assert "Marketing: *3.0* / 5" in body and "IT: *3.2* / 5" in body
    # Distributions: counts per score and a sparkline, in monospace.
    assert "```" in body
    assert re.search(r"Marketing\s+0\s+0\s+3\s+2\s+0\s+··█▆·", body)
    assert re.search(r"IT\s+0\s+0\s+2\s+5\s+3\s+··▄█▅", body)
    assert re.search(r"Everyone\s+1\s+2\s+7\s+4\s+1", body)
    assert "▲" not in body and "▼" not in body  # no previous pulse
    assert text == (
        "Pulse results for Marketing &amp; IT weekly: Marketing's view of IT 3.4/5; "
        "IT's view of marketing 4.1/5; gap 0.7: marketing rates IT lower than IT rates marketing; "
        "right level 3.1/5 (everyone)."
    )


def test_gap_wording_follows_its_sign() -> None:
    higher = results(mkt=IT_41, it=MKT_34)
    _, blocks = build_results(higher, ritual_name="X")
    assert "*Gap: 0.7* — marketing rates IT higher than IT rates marketing." in all_text(dicts(blocks))
    same = results(mkt=MKT_34, it=MKT_34)
    _, blocks = build_results(same, ritual_name="X")
    assert "*Gap: 0.0* — marketing and IT rate each other the same." in all_text(dicts(blocks))


def test_a_withheld_side_is_a_sentence_not_figures() -> None:
    r = results(
        mkt=MKT_34,
        it=withheld(2),
        level_mkt=fig(0, 1, 3, 1, 0),
        level_it=withheld(2),
        level_all=fig(0, 1, 5, 1, 0),
    )
    text, blocks = build_results(r, ritual_name="X")
    out = check_limits(text, blocks)
    body = all_text(out)
    sentence = "too few answers from IT to show without identifying people"
    assert sentence == withheld_sentence(Side.IT)
    assert f"IT's view of marketing: {sentence}" in body
    assert "Marketing's view of IT: *3.4* / 5" in body
    assert "Gap:" not in body and "gap 0" not in text
    assert sentence in text
    assert not re.search(r"^IT +\d", section_texts(out), re.MULTILINE)  # no IT distribution row
    assert re.search(r"^Marketing +0 +0 +3 +2 +0", section_texts(out), re.MULTILINE)


def test_both_partner_sides_withheld_shows_no_gap() -> None:
    r = results(
        mkt=withheld(1),
        it=withheld(2),
        level_mkt=withheld(1),
        level_it=withheld(2),
        level_all=fig(0, 1, 1, 1, 0),
    )
    text, blocks = build_results(r, ritual_name="X")
    out = check_limits(text, blocks)
    body = all_text(out)
    assert "too few answers from marketing to show without identifying people" in body
    assert "too few answers from IT to show without identifying people" in body
    assert "Gap:" not in body and "gap" not in text
    assert not re.search(r"view of [^:]+: \*", body)  # no partner figure at all
    assert "Everyone: *3.0* / 5" in body  # three answers together are enough for everyone's figure
    assert not re.search(r"^(Marketing|IT) +\d", section_texts(out), re.MULTILINE)  # no per-side rows
    assert "too few answers from marketing to show without identifying people" in text


def test_level_sides_are_not_broken_out_when_they_would_reveal_a_withheld_side() -> None:
    # Everyone (6) minus marketing (5) would be IT's single answer.
    r = results(
        mkt=MKT_34,
        it=withheld(1),
        level_mkt=fig(0, 1, 3, 1, 0),
        level_it=withheld(1),
        level_all=fig(0, 1, 3, 1, 1),
    )
    text, blocks = build_results(r, ritual_name="X")
    out = check_limits(text, blocks)
    body = all_text(out)
    assert "Everyone: *3.3* / 5" in body
    assert "Marketing: *3.0* / 5" not in body
    assert "Not broken down by side this time: with too few answers from IT" in body
    # Marketing's level distribution is not shown either (its partner row still is).
    assert not re.search(r"^Marketing +0 +1 +3 +1 +0", section_texts(out), re.MULTILINE)
    assert re.search(r"^Everyone +0 +1 +3 +1 +1", section_texts(out), re.MULTILINE)


def test_previous_pulse_deltas() -> None:
    before = results(
        mkt=fig(1, 1, 2, 1, 0),  # 2.6
        it=fig(0, 0, 1, 3, 1),  # 4.0
        level_mkt=fig(0, 2, 3, 0, 0),  # 2.6
        level_it=withheld(2),
        level_all=fig(0, 3, 3, 1, 0),
    )
    r = results(
        mkt=MKT_34, it=IT_41, level_mkt=fig(0, 1, 3, 1, 0), level_it=fig(1, 1, 4, 3, 1), previous=before
    )
    text, blocks = build_results(r, ritual_name="X")
    body = all_text(check_limits(text, blocks))
    assert "Marketing's view of IT: *3.4* / 5 (▲ 0.8)" in body
    assert "IT's view of marketing: *4.1* / 5 (▲ 0.1)" in body
    assert "It narrowed by 0.7 since the previous pulse." in body  # |2.6 - 4.0| = 1.4 -> 0.7
    assert "Marketing: *3.0* / 5 (▲ 0.4)" in body
    assert "IT: *3.2* / 5" in body
    assert "IT: *3.2* / 5 (" not in body  # IT's level was withheld last time: no delta
    assert "Everyone: *3.1* / 5 (▲ 0.4)" in body  # 19 / 7 = 2.71 shown as 2.7, 47 / 15 = 3.13 as 3.1
    assert "▲▼: change since the previous pulse." in body

    down = results(mkt=fig(1, 1, 2, 1, 0), it=IT_41, previous=results(mkt=MKT_34, it=IT_41))
    body = all_text(dicts(build_results(down, ritual_name="X")[1]))
    assert "Marketing's view of IT: *2.6* / 5 (▼ 0.8)" in body
    assert "IT's view of marketing: *4.1* / 5 (no change)" in body
    assert "It widened by 0.8 since the previous pulse." in body


def test_results_with_no_answers() -> None:
    text, blocks = build_results(results(), ritual_name="X")
    body = all_text(check_limits(text, blocks))
    assert "Nobody answered this pulse." in body
    assert text == "Pulse results for X: nobody answered this pulse."
    assert "Gap" not in body


def test_results_never_name_anyone() -> None:
    _, blocks = build_results(FULL, ritual_name="X")
    assert "<@" not in all_text(dicts(blocks))


# --------------------------------------------------------------------------- who answered what


def test_member_votes_groups_per_person() -> None:
    votes = [
        ("U1", Side.MARKETING, PulseQuestion.PARTNER, 4),
        ("U1", Side.MARKETING, PulseQuestion.LEVEL, 3),
        ("U2", Side.IT, PulseQuestion.LEVEL, 5),
        ("U<3>", Side.OTHER, PulseQuestion.PARTNER, 1),
    ]
    text, blocks = build_member_votes(votes)
    body = all_text(check_limits(text, blocks))
    assert "<@U1> (marketing): rates IT 4 (Good) · right level 3 (Partly)" in body
    assert "<@U2> (IT): right level 5 (Just right)" in body
    assert "<@U&lt;3&gt;>" in body
    assert text == "Who answered what in this pulse: 3 people."


def test_member_votes_are_capped() -> None:
    votes = [(f"U{i:03}", Side.IT, PulseQuestion.LEVEL, 1 + i % 5) for i in range(60)]
    text, blocks = build_member_votes(votes)
    body = all_text(check_limits(text, blocks))
    assert body.count("<@U") == MEMBER_VOTES_SHOWN
    assert "…and 15 more." in body
    text, blocks = build_member_votes([])
    assert "Nobody has answered" in text
    check_limits(text, blocks)


# --------------------------------------------------------------------------- forget-me


def test_forget_confirmation() -> None:
    text, blocks = build_forget_confirmation()
    out = check_limits(text, blocks)
    assert [b["action_id"] for b in buttons(out)] == [ids.ACTION_FORGET_CONFIRM, ids.ACTION_FORGET_CANCEL]
    assert "Anonymous answers were never linked to you" in all_text(out)


def test_forget_done() -> None:
    # The shape db.people.forget_person returns: the side by name, zero counts included.
    done = build_forget_done({FORGOT_SIDE: "marketing", FORGOT_REMINDERS: 1, FORGOT_VOTES: 3})
    assert done.startswith(
        "Done: I deleted your side (marketing), your reminder setting and 3 non-anonymous answers."
    )
    assert "Anonymous answers were never linked to you" in done
    assert "so there is nothing to delete there." in done
    done = build_forget_done(
        {FORGOT_SIDE: 1, FORGOT_VOTES: 0, FORGOT_OPEN_ANONYMOUS: 2, FORGOT_MEMBERSHIPS: 1}, side=Side.IT
    )
    assert done.startswith(
        "Done: I deleted your side (IT), 2 answers to anonymous pulses still open (taken out of their counts) "
        "and your place in 1 check-in."
    )
    assert "1 non-anonymous answer." in build_forget_done({FORGOT_VOTES: 1})
    assert build_forget_done({}).startswith("Done: Tandem had nothing stored about you.")
    assert "2 &lt;things&gt;" in build_forget_done({"<things>": 2})
    assert "your side (&lt;b&gt;)" in build_forget_done({FORGOT_SIDE: "<b>"})


# --------------------------------------------------------------------------- the theme question


def test_a_pulse_with_a_theme_asks_its_mirrored_pair_with_five_more_buttons() -> None:
    data = question_for_theme("data")
    assert data is not None
    view = dataclasses.replace(OPEN, theme_question=data)
    text, blocks = build_pulse_message(view)
    out = check_limits(text, blocks)
    assert len(answer_buttons(out)) == 15
    by_block = {b["block_id"]: b for b in out if b["type"] == "actions" and "block_id" in b}
    assert {decode_answer(el["value"]) for el in by_block[ids.BLOCK_PULSE_THEME]["elements"]} == {
        (42, PulseQuestion.THEME, s) for s in range(1, 6)
    }
    body = all_text(out)
    assert "Marketing: How well does IT make customer data usable for marketing?" in body
    assert "IT: How clearly does marketing say what data it needs?" in body
    assert "Three one-click questions" in text
    # The reminder DM carries the same three questions.
    dm_text, dm_blocks = build_reminder_dm(view, "C0123")
    assert len(answer_buttons(check_limits(dm_text, dm_blocks))) == 15


def test_results_show_each_sides_answer_to_the_theme_question_in_its_own_words() -> None:
    figures = dataclasses.replace(
        FULL,
        theme_question="data-q1",
        theme={
            Side.MARKETING: Figures(5, 4.2, (0, 0, 1, 2, 2)),
            Side.IT: Figures(10, None, None),
            Side.OTHER: Figures(0, None, None),
        },
        team={Side.MARKETING: 6, Side.IT: 12},
    )
    text, blocks = build_results(figures, ritual_name="Weekly")
    body = all_text(check_limits(text, blocks))
    assert "Answered: marketing 5 of 6 (83%) · IT 10 of 12 (83%)" in body
    assert "*Data and analytics*" in body
    assert "Marketing, “How well does IT make customer data usable for marketing?”: *4.2* / 5" in body
    assert "IT, “How clearly does marketing say what data it needs?”: too few answers from IT" in body


def test_participation_is_shown_against_each_sides_team() -> None:
    answered = {Side.MARKETING: 5, Side.IT: 4, Side.OTHER: 1}
    assert (
        participation_text(answered, {Side.MARKETING: 6, Side.IT: 6})
        == "marketing 5 of 6 (83%) · IT 4 of 6 (67%) · other teams 1"
    )
    assert participation_text({Side.MARKETING: 2}, None) == "marketing 2 · IT 0"
