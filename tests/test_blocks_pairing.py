"""The pairing builders alone: plain values in, Block Kit out (within Slack's limits)."""

from __future__ import annotations

import datetime as dt
import json

from bot import ids
from bot.blocks.pairing import (
    HomePairing,
    Intro,
    IntroPerson,
    answered_line,
    build_intro,
    build_nudge,
    home_pairing_blocks,
    pairing_agenda_section,
    pairing_button_id,
    pairing_report_lines,
    parse_pairing_args,
)
from db.models import PairingStatus, Side

BERLIN = dt.timezone(dt.timedelta(hours=1))
END = dt.datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)


def intro(title: str = "Head of <Growth> & Brand") -> Intro:
    return Intro(
        pairing_id=42,
        ritual_name="Marketing + IT",
        people=(IntroPerson("U_M1", Side.MARKETING, title), IntroPerson("U_I1", Side.IT, "")),
        purpose="data",
        prompt="Bring one question about customers you cannot answer alone.",
        ends_local=END,
    )


def test_the_intro_names_both_sides_escapes_titles_and_carries_the_pairing_id() -> None:
    text, blocks = build_intro(intro())
    shown = json.dumps(blocks)
    assert "<@U_M1> and <@U_I1>" in text and "A data question I can't answer alone" in text
    assert "(Marketing, Head of &lt;Growth&gt; &amp; Brand)" in shown
    assert "<@U_I1> (IT)" in shown  # no title set: the side alone
    assert "before Tuesday 24 November" in shown
    actions = next(b for b in blocks if b.get("block_id") == ids.BLOCK_PAIRING_ACTIONS)
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        (ids.ACTION_PAIRING_MET, "42"),
        (ids.ACTION_PAIRING_SKIP, "42"),
    ]


def test_an_answered_intro_shows_who_answered_instead_of_the_buttons() -> None:
    _, blocks = build_intro(intro(), answered=answered_line("U_I1", PairingStatus.MET))
    shown = json.dumps(blocks)
    assert "<@U_I1> marked this one-to-one as met" in shown and ids.ACTION_PAIRING_MET not in shown


def test_a_very_long_title_is_cut() -> None:
    _, blocks = build_intro(intro("x" * 500))
    assert "x" * 100 not in json.dumps(blocks) and "x" * 99 in json.dumps(blocks)


def test_the_nudge_asks_about_the_partner_with_the_buttons() -> None:
    text, blocks = build_nudge(7, ["U_I1"], "shadow")
    assert text == "Halfway through the round: have you met <@U_I1> yet?"
    assert "Shadow each other for an hour" in json.dumps(blocks) and '"7"' in json.dumps(blocks)


def test_parsers_take_only_what_the_builders_wrote() -> None:
    assert pairing_button_id("42") == 42
    assert [pairing_button_id(v) for v in ("0", "-1", "4x", "", None, True, "2147483648")] == [None] * 7
    assert (parse_pairing_args(" ON "), parse_pairing_args("off"), parse_pairing_args("maybe")) == (
        True,
        False,
        None,
    )


def test_agenda_home_and_report_lines() -> None:
    section = pairing_agenda_section(6, 4)
    assert section is not None and section.lines == ("One-to-ones this round: 4 of 6 pairs met",)
    assert pairing_agenda_section(0, 0) is None
    home = home_pairing_blocks(
        [
            HomePairing(
                "Weekly", (("U_I2", Side.IT),), "show", PairingStatus.PENDING, END, END, current=True
            ),
            HomePairing("Weekly", (("U_I1", Side.IT),), "goals", PairingStatus.MET, END, END, current=False),
        ]
    )
    shown = json.dumps([b.to_dict() for b in home])
    assert "*This round:* <@U_I2> (IT)" in shown and "<@U_I1> (IT), met" in shown
    assert home_pairing_blocks([]) == []
    report = pairing_report_lines(
        [(dt.date(2026, 11, 17), 6, 4), (dt.date(2026, 11, 24), 6, 6), (dt.date(2026, 12, 1), 0, 0)]
    )
    assert report.splitlines() == [
        "One-to-ones: 10 of 12 pairs met (83%).",
        "• 17 Nov: 4 of 6 met (67%)",
        "• 24 Nov: 6 of 6 met (100%)",
    ]
    assert pairing_report_lines([]) == ""
