"""Builders for shared wins, commitments and the Home tab, and commitments in the check-in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot import ids
from bot.blocks.checkin import CheckinContent, build_checkin
from bot.blocks.commitments import (
    CHOICE_BY_ACTION,
    CommitForm,
    CommitmentView,
    build_commit_modal,
    build_commitment_confirmation,
    build_commitment_update,
    build_drop_modal,
    build_move_modal,
    build_nudge_dm,
    changed_commitment_id,
    commit_action_choice,
    commit_add_ritual_id,
    commit_choice_value,
    commit_modal_metadata,
    commitment_blocks,
    escape_within,
    latest_due,
    metadata_tampered,
    modal_values,
    parse_commit_choice,
    parse_commit_state,
    parse_drop_state,
    parse_move_state,
)
from bot.blocks.home import HomePulse, HomeRitual, build_home
from bot.blocks.rituals import RitualSummary
from bot.blocks.wins import (
    MAX_WIN_CHARS,
    CelebratedMessage,
    WinForm,
    WinsArgs,
    WinView,
    build_celebration,
    build_win_modal,
    build_wins_digest,
    build_withdrawn_win,
    celebration_channel,
    parse_celebrated_message,
    parse_period,
    parse_win_state,
    period_label,
    period_problem,
    split_wins_args,
    win_agenda_lines,
    win_button_id,
    win_modal_id,
    win_modal_tampered,
)
from db.figures import Figures, PulseResults
from db.models import Side

TODAY = dt.date(2026, 11, 23)
BERLIN = ZoneInfo("Europe/Berlin")
TIMES = "\N{MULTIPLICATION SIGN}"


# --------------------------------------------------------------------------- helpers


def as_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]  # to_dict() also checks slack_sdk's length limits


def all_text(blocks: list[Block]) -> str:
    return json.dumps(as_dicts(blocks), ensure_ascii=False)


def check_message(text: str, blocks: list[Block]) -> str:
    """Within Slack's message limits; returns the blocks as JSON for content checks."""
    dicts = as_dicts(blocks)
    assert text.strip()
    assert len(dicts) <= 50
    for d in dicts:
        if d["type"] == "header":
            assert len(d["text"]["text"]) <= 150
        if d["type"] == "section":
            assert len(d["text"]["text"]) <= 3000
        if d["type"] == "context":
            assert len(d["elements"]) <= 10 and all(len(e["text"]) <= 3000 for e in d["elements"])
    body = json.dumps(dicts, ensure_ascii=False)
    assert len(body) < 12_000
    return body


def state_for(view: dict[str, Any]) -> dict[str, Any]:
    """The `view.state.values` Slack would send if the user submitted `view` without touching it."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        el = block["element"]
        kind = el["type"]
        if kind == "conversations_select":
            value = {"selected_conversation": el.get("initial_conversation")}
        elif kind in ("plain_text_input", "url_text_input"):
            value = {"value": el.get("initial_value")}
        elif kind == "multi_users_select":
            value = {"selected_users": el.get("initial_users", [])}
        elif kind == "users_select":
            value = {"selected_user": el.get("initial_user")}
        elif kind == "datepicker":
            value = {"selected_date": el.get("initial_date")}
        else:  # pragma: no cover - the modals use no other element
            raise AssertionError(kind)
        state[block["block_id"]] = {el["action_id"]: {"type": kind, **value}}
    return state


def with_value(state: dict[str, Any], block_id: str, **value: Any) -> dict[str, Any]:
    """`state` with one input's value replaced, as Slack would send it after the user changed it."""
    ((action_id, old),) = state[block_id].items()
    return {**state, block_id: {action_id: {"type": old["type"], **value}}}


def input_block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


# --------------------------------------------------------------------------- the win modal

WIN_FORM = WinForm(
    what="Launched the <new> pricing page & its tracking, two weeks early",
    marketing=("UM1", "UM2"),
    it=("UI1",),
    outcome="Sign-ups +18% in week one",
    link="https://example.com/dash?a=1&b=2",
    channel_id="C0WINS",
)


def test_win_modal_round_trip() -> None:
    view = build_win_modal(WIN_FORM, win_id=None).to_dict()
    assert view["callback_id"] == ids.VIEW_WIN
    assert view["title"]["text"] == "Celebrate a win"
    assert win_modal_id(view["private_metadata"]) is None
    what = input_block(view, ids.BLOCK_WIN_WHAT)["element"]
    assert what["multiline"] is True and what["max_length"] == 3000
    hint = input_block(view, ids.BLOCK_WIN_MARKETING)["hint"]["text"]
    assert hint == "A shared win credits at least one person from each side."
    assert input_block(view, ids.BLOCK_WIN_OUTCOME)["optional"] is True
    assert input_block(view, ids.BLOCK_WIN_LINK)["optional"] is True
    channel = input_block(view, ids.BLOCK_WIN_CHANNEL)["element"]
    assert channel["initial_conversation"] == "C0WINS" and "default_to_current_conversation" not in channel

    form, errors = parse_win_state(state_for(view))
    assert errors == {}
    assert form == WIN_FORM

    edit = build_win_modal(WIN_FORM, win_id=12).to_dict()
    assert edit["title"]["text"] == "Edit win" and win_modal_id(edit["private_metadata"]) == 12
    assert parse_win_state(state_for(edit)) == (WIN_FORM, {})


def test_new_win_starts_in_the_current_conversation() -> None:
    view = build_win_modal(WinForm(), win_id=None).to_dict()
    channel = input_block(view, ids.BLOCK_WIN_CHANNEL)["element"]
    assert channel["default_to_current_conversation"] is True
    assert "initial_conversation" not in channel
    # A message longer than Slack's input allows (from the message shortcut) still opens the modal.
    long = build_win_modal(WinForm(what="x" * 5000), win_id=None).to_dict()
    assert len(input_block(long, ids.BLOCK_WIN_WHAT)["element"]["initial_value"]) == 3000
    assert win_modal_id("not json") is None and win_modal_id('{"win_id": true}') is None


def test_win_validation_errors_on_the_right_blocks() -> None:
    state = state_for(build_win_modal(WIN_FORM, win_id=None).to_dict())

    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_WHAT, value="a" * 3214))
    assert errors == {
        ids.BLOCK_WIN_WHAT: "That's 3,214 characters; keep the win to 2,500 so it fits in one celebration."
    }
    assert parse_win_state(with_value(state, ids.BLOCK_WIN_WHAT, value="a" * MAX_WIN_CHARS))[1] == {}
    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_WHAT, value="   \n "))
    assert list(errors) == [ids.BLOCK_WIN_WHAT]

    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_MARKETING, selected_users=[]))
    assert errors == {ids.BLOCK_WIN_MARKETING: "A shared win needs at least one person from marketing."}
    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_IT, selected_users=[]))
    assert errors == {ids.BLOCK_WIN_IT: "A shared win needs at least one person from IT."}
    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_IT, selected_users=["UI1", "UM2"]))
    assert list(errors) == [ids.BLOCK_WIN_IT] and "both sides" in errors[ids.BLOCK_WIN_IT]
    assert "<@" not in errors[ids.BLOCK_WIN_IT]  # modal errors are plain text

    for bad in ("example.com", "javascript:alert(1)", "ftp://example.com", "https://", "https://a b.com"):
        _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_LINK, value=bad))
        assert list(errors) == [ids.BLOCK_WIN_LINK], bad
    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_LINK, value="https://x.com/" + "a" * 600))
    assert list(errors) == [ids.BLOCK_WIN_LINK]
    form, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_LINK, value=None))
    assert errors == {} and form.link == ""

    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_OUTCOME, value="o" * 201))
    assert list(errors) == [ids.BLOCK_WIN_OUTCOME] and "201" in errors[ids.BLOCK_WIN_OUTCOME]
    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_CHANNEL, selected_conversation=None))
    assert errors == {ids.BLOCK_WIN_CHANNEL: "Pick the channel to celebrate in."}

    # Nothing at all: every required input says what it needs.
    _, errors = parse_win_state({})
    assert set(errors) == {
        ids.BLOCK_WIN_WHAT,
        ids.BLOCK_WIN_MARKETING,
        ids.BLOCK_WIN_IT,
        ids.BLOCK_WIN_CHANNEL,
    }


def test_win_state_of_the_wrong_shape_is_an_error_not_a_crash() -> None:
    state = state_for(build_win_modal(WIN_FORM, win_id=None).to_dict())
    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_MARKETING, selected_users="UM1"))
    assert errors == {ids.BLOCK_WIN_MARKETING: "Pick people from the list."}
    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_IT, selected_users=["UI1", 7, "<!here>"]))
    assert errors == {ids.BLOCK_WIN_IT: "Pick people from the list."}
    _, errors = parse_win_state(with_value(state, ids.BLOCK_WIN_CHANNEL, selected_conversation="D0DM"))
    assert errors == {ids.BLOCK_WIN_CHANNEL: "Pick the channel to celebrate in."}
    assert set(parse_win_state([])[1]) == {  # type: ignore[arg-type]
        ids.BLOCK_WIN_WHAT,
        ids.BLOCK_WIN_MARKETING,
        ids.BLOCK_WIN_IT,
        ids.BLOCK_WIN_CHANNEL,
    }


def test_win_payload_parsers() -> None:
    assert win_button_id("12") == 12
    assert [win_button_id(v) for v in ("-1", "0", "x", str(2**31), None, True)] == [None] * 6
    shortcut = {"channel": {"id": "C0WINS"}, "message": {"ts": "1.2", "text": "We did it"}}
    assert parse_celebrated_message(shortcut) == CelebratedMessage("C0WINS", "1.2", "We did it")
    assert parse_celebrated_message({"channel": "C0WINS", "message": {"ts": 1, "text": None}}) == (
        CelebratedMessage(None, None, "")
    )
    assert (
        parse_celebrated_message({"channel": {"id": "D0DM"}, "message": {"ts": "1.2"}}).channel_id == "D0DM"
    )
    assert celebration_channel("D0DM") is None and celebration_channel("G0PRIV") == "G0PRIV"


def test_months_of_the_wins_command() -> None:
    assert parse_period("", today=TODAY) == (2026, 11)
    assert parse_period("last-month", today=dt.date(2026, 1, 5)) == (2025, 12)
    assert parse_period("2026/03", today=TODAY) == (2026, 3)
    assert parse_period("Nov 2025", today=TODAY) == (2025, 11)
    for bad in ("2026-13", "2026-1²", "9999-12", "nov 99999999999", "0000-01", "soon"):
        assert parse_period(bad, today=TODAY) is None, bad
    assert period_label(2026, 11) == "November 2026"
    assert period_problem(" 2026-13 ") == "“2026-13” is not a month. Try 2026-11, november, or last-month."
    assert split_wins_args("Weekly sync last-month", today=TODAY) == WinsArgs("Weekly sync", "last-month")
    assert split_wins_args("Weekly sync november 2026", today=TODAY) == WinsArgs(
        "Weekly sync", "november 2026"
    )
    assert split_wins_args("Weekly sync", today=TODAY) == WinsArgs("Weekly sync", "")
    assert split_wins_args("Weekly sync 2026-13", today=TODAY) == WinsArgs(
        "Weekly sync 2026-13", "", ("2026-13", "Weekly sync")
    )


# --------------------------------------------------------------------------- celebration and digest


def win(i: int, **changes: Any) -> WinView:
    base = WinView(
        id=i,
        what=f"Win <{i}> & more",
        marketing=("UM1", f"UM{i % 3 + 2}"),
        it=(f"UI{i % 2 + 1}",),
        outcome=None,
        link=None,
        created_by="UM1",
        channel_id="C0WINS",
        created_local=dt.datetime(2026, 11, 1, 10, tzinfo=BERLIN) + dt.timedelta(hours=i),
    )
    return dataclasses.replace(base, **changes)


def test_celebration() -> None:
    w = win(5, outcome="Sign-ups +18%", link="https://example.com/dash?a=1&b=2", edited=True)
    text, blocks = build_celebration(w)
    body = check_message(text, blocks)
    dicts = as_dicts(blocks)
    assert dicts[0]["type"] == "header" and dicts[0]["text"]["text"] == ":tada: Shared win!"
    assert "Win &lt;5&gt; &amp; more" in body
    assert "Marketing: <@UM1>, <@UM4> · IT: <@UI2>" in body
    assert ":chart_with_upwards_trend: Moved: *Sign-ups +18%*" in body
    assert "<https://example.com/dash?a=1&amp;b=2|example.com>" in body
    assert "Celebrated by <@UM1> · react to cheer them on" in body and "edited" in body
    buttons = [e for d in dicts if d["type"] == "actions" for e in d["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ids.ACTION_WIN_EDIT, "5"),
        (ids.ACTION_WIN_WITHDRAW, "5"),
    ]
    assert "confirm" in buttons[1]
    assert "<@UM1>" in text and "Win &lt;5&gt;" in text

    # No outcome, no link: no such lines.
    _, blocks = build_celebration(win(6))
    body = all_text(blocks)
    assert "Moved" not in body and ":link:" not in body and "edited" not in body

    # The longest accepted win, all of it control characters, still fits one section.
    text, blocks = build_celebration(
        win(7, what="<&>" * (MAX_WIN_CHARS // 3), marketing=tuple(f"U{i}" for i in range(80)))
    )
    body = check_message(text, blocks)
    assert "and 60 more" in body

    text, blocks = build_withdrawn_win(w)
    assert text == "This win was withdrawn by <@UM1>."
    assert all(d["type"] != "actions" for d in as_dicts(blocks))


def test_digest_with_wins() -> None:
    wins = [win(i, outcome=f"Outcome {i}" if i % 2 else None) for i in range(1, 41)]
    wins.append(win(99, withdrawn=True, what="Withdrawn one"))
    text, blocks = build_wins_digest("November 2026", wins, ritual_name="Marketing & IT weekly")
    body = check_message(text, blocks)
    assert "*40 shared wins* for Marketing &amp; IT weekly in November 2026." in body
    assert "Withdrawn one" not in body
    assert "*What they moved*" in body and "• Outcome 39" in body and "…and 10 more." in body
    # UM1 is credited in every win; the others by turns.
    assert f"Marketing: <@UM1> {TIMES}40, " in body
    assert f"IT: <@UI1> {TIMES}20, <@UI2> {TIMES}20" in body
    # Most recent first, capped with a count.
    assert body.index("Win &lt;40&gt;") < body.index("Win &lt;39&gt;")
    assert "Win &lt;25&gt;" not in body and "…and 25 more wins." in body
    assert text.startswith("40 shared wins for Marketing &amp; IT weekly in November 2026: Win &lt;40&gt;")

    text, blocks = build_wins_digest("November 2026", [win(1)], ritual_name=None)
    body = check_message(text, blocks)
    assert "*1 shared win* in November 2026." in body and "What they moved" not in body


def test_digest_without_wins() -> None:
    text, blocks = build_wins_digest("November 2026", [win(1, withdrawn=True)], ritual_name=None)
    body = check_message(text, blocks)
    sentence = "No shared wins recorded in November 2026 — the next check-in is a good moment to name one."
    assert text == sentence and sentence in body
    text, _ = build_wins_digest("November 2026", [], ritual_name="Weekly <sync>")
    assert text.startswith("No shared wins recorded for Weekly &lt;sync&gt; in November 2026")


def test_win_agenda_lines() -> None:
    assert win_agenda_lines([]) == ()
    lines = win_agenda_lines([win(1), win(2)])
    assert lines == (
        "Win &lt;2&gt; &amp; more — marketing: <@UM1>, <@UM4> · IT: <@UI1>",
        "Win &lt;1&gt; &amp; more — marketing: <@UM1>, <@UM3> · IT: <@UI2>",
    )
    lines = win_agenda_lines([win(i) for i in range(20)])
    assert len(lines) == 8 and lines[-1] == "…and 13 more wins"
    assert len(win_agenda_lines([win(i) for i in range(8)])) == 8  # exactly 8 fit: no "more" line


# --------------------------------------------------------------------------- the commitment modals

COMMIT_FORM = CommitForm(
    what="Agree the tracking plan for the spring campaign",
    marketing_owner="UM1",
    it_owner="UI1",
    due=dt.date(2026, 12, 1),
)


def test_commit_modal_round_trip() -> None:
    view = build_commit_modal(COMMIT_FORM, ritual_id=3).to_dict()
    assert view["callback_id"] == ids.VIEW_COMMIT and view["title"]["text"] == "Add a commitment"
    assert commit_modal_metadata(view["private_metadata"]) == (3, None)
    assert input_block(view, ids.BLOCK_COMMIT_DUE)["element"]["initial_date"] == "2026-12-01"
    assert parse_commit_state(state_for(view), today=TODAY) == (COMMIT_FORM, {})

    edit = build_commit_modal(COMMIT_FORM, ritual_id=None, commitment_id=9).to_dict()
    assert edit["title"]["text"] == "Edit commitment"
    assert commit_modal_metadata(edit["private_metadata"]) == (None, 9)

    empty = build_commit_modal(CommitForm(), ritual_id=None).to_dict()
    form, errors = parse_commit_state(state_for(empty), today=TODAY)
    assert form == CommitForm()
    assert set(errors) == {
        ids.BLOCK_COMMIT_WHAT,
        ids.BLOCK_COMMIT_MARKETING,
        ids.BLOCK_COMMIT_IT,
        ids.BLOCK_COMMIT_DUE,
    }


def test_commit_validation_errors() -> None:
    state = state_for(build_commit_modal(COMMIT_FORM, ritual_id=3).to_dict())

    _, errors = parse_commit_state(
        with_value(state, ids.BLOCK_COMMIT_DUE, selected_date="2026-11-22"), today=TODAY
    )
    assert errors == {ids.BLOCK_COMMIT_DUE: "The due date is in the past; pick today or later."}
    form, errors = parse_commit_state(
        with_value(state, ids.BLOCK_COMMIT_DUE, selected_date="2026-11-23"), today=TODAY
    )
    assert errors == {} and form.due == TODAY  # today is fine
    _, errors = parse_commit_state(with_value(state, ids.BLOCK_COMMIT_DUE, selected_date="soon"), today=TODAY)
    assert list(errors) == [ids.BLOCK_COMMIT_DUE]

    _, errors = parse_commit_state(with_value(state, ids.BLOCK_COMMIT_IT, selected_user="UM1"), today=TODAY)
    assert errors == {ids.BLOCK_COMMIT_IT: "One owner from each side: pick two different people."}
    _, errors = parse_commit_state(
        with_value(state, ids.BLOCK_COMMIT_MARKETING, selected_user=None), today=TODAY
    )
    assert list(errors) == [ids.BLOCK_COMMIT_MARKETING]

    _, errors = parse_commit_state(with_value(state, ids.BLOCK_COMMIT_WHAT, value="w" * 501), today=TODAY)
    assert list(errors) == [ids.BLOCK_COMMIT_WHAT] and "501" in errors[ids.BLOCK_COMMIT_WHAT]


def test_move_and_drop_modals() -> None:
    view = build_move_modal(9, "Agree <the> plan", dt.date(2026, 11, 20)).to_dict()
    assert view["callback_id"] == ids.VIEW_COMMIT_MOVE
    assert commit_modal_metadata(view["private_metadata"]) == (None, 9)
    assert "Agree &lt;the&gt; plan" in json.dumps(view)
    state = state_for(view)
    # Submitting the old, past date is refused; a new one is read back.
    assert parse_move_state(state, today=TODAY) == (
        None,
        {ids.BLOCK_COMMIT_MOVE_DUE: "The due date is in the past; pick today or later."},
    )
    moved = with_value(state, ids.BLOCK_COMMIT_MOVE_DUE, selected_date="2026-12-08")
    assert parse_move_state(moved, today=TODAY) == (dt.date(2026, 12, 8), {})
    missing = with_value(state, ids.BLOCK_COMMIT_MOVE_DUE, selected_date=None)
    assert list(parse_move_state(missing, today=TODAY)[1]) == [ids.BLOCK_COMMIT_MOVE_DUE]

    view = build_drop_modal(9, "Agree the plan").to_dict()
    assert view["callback_id"] == ids.VIEW_COMMIT_DROP
    assert commit_modal_metadata(view["private_metadata"]) == (None, 9)
    state = state_for(view)
    assert list(parse_drop_state(state)[1]) == [ids.BLOCK_COMMIT_DROP_REASON]
    dropped = with_value(state, ids.BLOCK_COMMIT_DROP_REASON, value="  Campaign\nmoved  ")
    assert parse_drop_state(dropped) == ("Campaign moved", {})
    too_long = with_value(state, ids.BLOCK_COMMIT_DROP_REASON, value="r" * 301)
    assert list(parse_drop_state(too_long)[1]) == [ids.BLOCK_COMMIT_DROP_REASON]


def test_commit_choices() -> None:
    assert commit_choice_value("done", 12) == "done:12"
    assert parse_commit_choice("done:12") == ("done", 12)
    assert parse_commit_choice("drop:7") == ("drop", 7)
    assert CHOICE_BY_ACTION[ids.ACTION_COMMIT_MOVE] == "move"
    for bad in ("done", "done:", "done:0", "done:-1", "finish:3", "done:12:1", " done:12", "done:\uff11"):
        with pytest.raises(ValueError):
            parse_commit_choice(bad)
    with pytest.raises(ValueError):
        commit_choice_value("finish", 1)
    with pytest.raises(ValueError):
        commit_choice_value("done", 0)


def test_commit_actions_read_menus_and_buttons_alike() -> None:
    menu = {"action_id": ids.ACTION_COMMIT_MENU, "selected_option": {"value": "move:12"}}
    assert commit_action_choice(menu) == ("move", 12)
    assert commit_action_choice({"action_id": ids.ACTION_COMMIT_DROP, "value": "12"}) == ("drop", 12)
    for bad in (
        {"action_id": ids.ACTION_COMMIT_MENU, "selected_option": {"value": 12}},
        {"action_id": ids.ACTION_COMMIT_MENU, "selected_option": "done:12"},
        {"action_id": ids.ACTION_COMMIT_MENU},
        {"action_id": ids.ACTION_COMMIT_DONE, "value": "-12"},
        {"action_id": ids.ACTION_COMMIT_DONE, "value": str(2**31)},
        {"action_id": ids.ACTION_COMMIT_DONE, "value": True},
        {"action_id": "something_else", "value": "12"},
        "done:12",
        None,
    ):
        assert commit_action_choice(bad) is None, bad
    assert commit_add_ritual_id("3") == 3
    assert commit_add_ritual_id("3x") is None and commit_add_ritual_id(None) is None


def test_tampered_modal_metadata_is_told_apart_from_none() -> None:
    new = build_commit_modal(CommitForm(), ritual_id=None).to_dict()["private_metadata"]
    assert not metadata_tampered(new, "ritual_id", "commitment_id")
    assert not metadata_tampered("", "ritual_id") and not metadata_tampered(None, "ritual_id")
    assert not metadata_tampered('{"ritual_id": 3}', "ritual_id")
    for bad in ('{"ritual_id": "x"}', '{"ritual_id": -3}', '{"ritual_id": true}', "[3]", "not json", "{}"):
        assert metadata_tampered(bad, "ritual_id"), bad
    move = build_move_modal(9, "Plan", dt.date(2026, 12, 1)).to_dict()["private_metadata"]
    assert changed_commitment_id(move) == 9
    assert changed_commitment_id('{"commitment_id": "9"}') == 9  # digits are ids, as everywhere
    assert changed_commitment_id('{"commitment_id": 9.5}') is None and changed_commitment_id("") is None
    assert win_modal_tampered('{"win_id": "x"}') and not win_modal_tampered('{"win_id": null}')


def test_due_dates_are_bounded_to_five_years() -> None:
    assert latest_due(TODAY) == dt.date(2031, 11, 23)
    assert latest_due(dt.date(2028, 2, 29)) == dt.date(2033, 2, 28)
    state = state_for(build_commit_modal(COMMIT_FORM, ritual_id=None).to_dict())
    for due in ("2031-11-24", "9999-12-31"):
        _, errors = parse_commit_state(
            with_value(state, ids.BLOCK_COMMIT_DUE, selected_date=due), today=TODAY
        )
        assert errors == {
            ids.BLOCK_COMMIT_DUE: "Pick a date within 5 years, by Sun 23 Nov 2031 at the latest."
        }
    ok = with_value(state, ids.BLOCK_COMMIT_DUE, selected_date="2031-11-23")
    assert parse_commit_state(ok, today=TODAY)[1] == {}
    move = state_for(build_move_modal(9, "Plan", dt.date(2026, 12, 1)).to_dict())
    far = with_value(move, ids.BLOCK_COMMIT_MOVE_DUE, selected_date="9999-12-31")
    assert list(parse_move_state(far, today=TODAY)[1]) == [ids.BLOCK_COMMIT_MOVE_DUE]


def test_commit_state_of_the_wrong_shape_is_an_error_not_a_crash() -> None:
    _, errors = parse_commit_state({"x": 1, ids.BLOCK_COMMIT_IT: [], ids.BLOCK_COMMIT_DUE: None}, today=TODAY)
    assert set(errors) == {
        ids.BLOCK_COMMIT_WHAT,
        ids.BLOCK_COMMIT_MARKETING,
        ids.BLOCK_COMMIT_IT,
        ids.BLOCK_COMMIT_DUE,
    }
    state = state_for(build_commit_modal(COMMIT_FORM, ritual_id=None).to_dict())
    form, errors = parse_commit_state(
        with_value(state, ids.BLOCK_COMMIT_MARKETING, selected_user="<@UM1>"), today=TODAY
    )
    assert (
        errors == {ids.BLOCK_COMMIT_MARKETING: "Pick someone from the list."} and form.marketing_owner is None
    )
    assert parse_commit_state("not a mapping", today=TODAY)[1]  # type: ignore[arg-type]
    assert parse_drop_state([])[1] and parse_move_state(None, today=TODAY)[1]  # type: ignore[arg-type]
    assert modal_values({"state": {"values": "x"}}) == {} and modal_values(None) == {}


# --------------------------------------------------------------------------- commitment messages


def commitment(i: int, **changes: Any) -> CommitmentView:
    base = CommitmentView(
        id=i,
        what=f"Commitment <{i}>",
        marketing_owner="UM1",
        it_owner="UI1",
        due=dt.date(2026, 12, 1) + dt.timedelta(days=i % 30),
        status="open",
        overdue=False,
        created_by="UM1",
    )
    return dataclasses.replace(base, **changes)


def test_commitment_blocks() -> None:
    items = [
        commitment(2),
        commitment(1, overdue=True, due=dt.date(2026, 11, 20)),
        commitment(3, status="done"),
    ]
    items.append(commitment(2))  # a repeat is shown once
    dicts = as_dicts(commitment_blocks(items, limit=10))
    assert len(dicts) == 2
    assert dicts[0]["text"]["text"] == (
        "• Commitment &lt;1&gt; — <@UM1> and <@UI1>, due Fri 20 Nov 2026 · :warning: overdue"
    )
    menu = dicts[0]["accessory"]
    assert menu["type"] == "overflow" and menu["action_id"] == ids.ACTION_COMMIT_MENU
    assert [parse_commit_choice(o["value"]) for o in menu["options"]] == [
        ("done", 1),
        ("move", 1),
        ("drop", 1),
    ]

    dicts = as_dicts(commitment_blocks([commitment(i) for i in range(1, 41)], limit=5))
    assert len(dicts) == 6 and dicts[-1]["elements"][0]["text"] == "…and 35 more open commitments."
    assert as_dicts(commitment_blocks([commitment(i) for i in range(1, 3)], limit=0)) == [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "…and 2 more open commitments."}]}
    ]
    assert commitment_blocks([commitment(1, status="dropped")], limit=5) == []


def test_commitment_messages() -> None:
    c = commitment(4)
    text, blocks = build_commitment_confirmation(c)
    body = check_message(text, blocks)
    assert "<@UM1> (marketing) and <@UI1> (IT)" in body and "due Sat 5 Dec 2026" in body
    assert "Commitment &lt;4&gt;" in text and "<@UM1> and <@UI1>" in text and "Sat 5 Dec 2026" in text

    done = build_commitment_update(dataclasses.replace(c, status="done"), by="UI1")
    assert done.startswith(":white_check_mark: <@UI1> marked “Commitment &lt;4&gt;” done")
    moved = build_commitment_update(dataclasses.replace(c, due=dt.date(2026, 12, 8)), by="UM1")
    assert moved == ":calendar: <@UM1> moved “Commitment &lt;4&gt;” to Tue 8 Dec 2026."
    dropped = build_commitment_update(
        dataclasses.replace(c, status="dropped", reason="No <budget>"), by="UM1"
    )
    assert dropped == ":wastebasket: <@UM1> dropped “Commitment &lt;4&gt;”: No &lt;budget&gt;"

    text, blocks = build_nudge_dm(dataclasses.replace(c, overdue=True), "C0CHAN")
    body = check_message(text, blocks)
    assert "was due Sat 5 Dec 2026, agreed in <#C0CHAN>" in body
    buttons = [e for d in as_dicts(blocks) if d["type"] == "actions" for e in d["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ids.ACTION_COMMIT_DONE, "4"),
        (ids.ACTION_COMMIT_MOVE, "4"),
        (ids.ACTION_COMMIT_DROP, "4"),
    ]
    assert "agreed in" not in all_text(build_nudge_dm(c, None)[1])


def test_escape_within_never_splits_an_entity() -> None:
    assert escape_within("a&b", 10) == "a&amp;b"
    cut = escape_within("&" * 100, 12)
    assert cut == "&amp;&amp;…" and len(cut) <= 12


# --------------------------------------------------------------------------- check-in with commitments

CHECKIN = CheckinContent(
    ritual_name="Marketing & IT weekly",
    local_date=dt.date(2026, 12, 1),
    timezone="Europe/Berlin",
    prompt_text="Which data do we collect but never use?",
    prompt_theme_label="Data and analytics",
    prompt_why="you haven't talked about data for a while",
    missed=(),
    marketing=("UM1",),
    it=("UI1",),
)


def test_checkin_with_commitments_and_add_button() -> None:
    content = dataclasses.replace(
        CHECKIN, commitments=(commitment(1), commitment(2, status="done")), ritual_id=3
    )
    text, blocks = build_checkin(content)
    body = check_message(text, blocks)
    dicts = as_dicts(blocks)
    assert ":pushpin: *Open commitments*" in body and "Commitment &lt;1&gt;" in body
    assert "Commitment &lt;2&gt;" not in body
    assert dicts[-1]["type"] == "actions"
    assert [(e["action_id"], e["value"]) for e in dicts[-1]["elements"]] == [(ids.ACTION_COMMIT_ADD, "3")]
    # Commitments come after the agenda and before the people.
    texts = [d.get("text", {}).get("text", "") for d in dicts]
    assert texts.index(":pushpin: *Open commitments*") < next(
        i for i, t in enumerate(texts) if "Marketing:" in t
    )

    # Without a ritual id or open commitments, the message is as before.
    _, blocks = build_checkin(dataclasses.replace(CHECKIN, commitments=(commitment(1, status="done"),)))
    assert len(blocks) == 5 and "Open commitments" not in all_text(blocks)


def test_checkin_with_absurd_commitments_stays_within_limits() -> None:
    from bot.blocks.checkin import AgendaSection

    many = tuple(commitment(i, what="<&>" * 200, overdue=i % 2 == 0) for i in range(1, 500))
    content = dataclasses.replace(
        CHECKIN,
        prompt_text="<&>" * 2000,
        prompt_why="W" * 5000,
        missed=tuple(dt.date(2026, 1, 1) + dt.timedelta(weeks=i) for i in range(50)),
        marketing=tuple(f"UM{i:09d}" for i in range(200)),
        it=tuple(f"UI{i:09d}" for i in range(200)),
        agenda_items=tuple(AgendaSection("T" * 500, ("&<>" + "y" * 497,) * 200) for _ in range(40)),
        commitments=many,
        ritual_id=3,
    )
    text, blocks = build_checkin(content)
    body = check_message(text, blocks)
    assert "more open commitments." in body
    assert as_dicts(blocks)[-1]["elements"][0]["action_id"] == ids.ACTION_COMMIT_ADD

    # With room to spare, the check-in shows up to 10 and counts the rest.
    text, blocks = build_checkin(dataclasses.replace(CHECKIN, commitments=many[:30], ritual_id=3))
    body = check_message(text, blocks)
    assert body.count('"overflow"') == 10 and "…and 20 more open commitments." in body


# --------------------------------------------------------------------------- the Home tab


def fig(*dist: int) -> Figures:
    n = sum(dist)
    return Figures(n, sum((i + 1) * c for i, c in enumerate(dist)) / n, tuple(dist))


def results(partner_mkt: Figures, partner_it: Figures) -> PulseResults:
    none = Figures(0, None, None)
    partner = {Side.MARKETING: partner_mkt, Side.IT: partner_it, Side.OTHER: none}
    level = {side: none for side in Side}
    mkt, it = partner_mkt.average, partner_it.average
    return PulseResults(
        pulse_id=1,
        anonymous=True,
        min_answers=3,
        participation={side: partner[side].count for side in Side},
        partner=partner,
        level=level,
        level_all=none,
        gap=round(mkt - it, 2) if mkt is not None and it is not None else None,
    )


def ritual(i: int, **changes: Any) -> HomeRitual:
    summary = RitualSummary(
        id=i,
        name=f"Ritual <{i}>",
        channel_id=f"C{i:04d}",
        schedule="Every Tuesday at 09:00",
        next_local=dt.datetime(2026, 12, 1, 9, tzinfo=BERLIN),
        status="active",
        paused_reason=None,
        marketing=("UM1",),
        it=("UI1",),
    )
    summary = dataclasses.replace(summary, **changes)
    nxt = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC) + dt.timedelta(days=i)
    return HomeRitual(summary, None if summary.status == "paused" else nxt)


def check_home(view: View) -> tuple[list[dict[str, Any]], str]:
    out = view.to_dict()  # slack_sdk checks the view's limits (100 blocks among them)
    assert out["type"] == "home"
    assert len(out["blocks"]) <= 100
    for d in out["blocks"]:
        if d["type"] == "section":
            assert len(d["text"]["text"]) <= 3000
        if d["type"] == "header":
            assert len(d["text"]["text"]) <= 150
    return out["blocks"], json.dumps(out["blocks"], ensure_ascii=False)


def test_home_with_some_data() -> None:
    withheld = Figures(2, None, None)
    pulses = [
        HomePulse(
            "Ritual <1>",
            results(fig(0, 0, 3, 2, 0), fig(0, 0, 0, 5, 2)),
            dt.datetime(2026, 11, 24, 17, tzinfo=BERLIN),
        ),
        HomePulse(
            "Ritual <2>", results(fig(0, 0, 3, 2, 0), withheld), dt.datetime(2026, 11, 20, 17, tzinfo=BERLIN)
        ),
    ]
    view = build_home(
        user_id="UM1",
        rituals=[ritual(2), ritual(1), ritual(3, status="paused", paused_reason="not_in_channel")],
        pulses=pulses,
        commitments=[commitment(1, overdue=True), commitment(2)],
        wins=[win(1, outcome="Sign-ups +18%"), win(2), win(3, withdrawn=True)],
    )
    blocks, body = check_home(view)
    assert "Hi <@UM1>!" in body and "1 commitment is past due" in body
    actions = next(b for b in blocks if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [
        ids.ACTION_HOME_NEW_RITUAL,
        ids.ACTION_HOME_NEW_WIN,
        ids.ACTION_HOME_NEW_COMMIT,
    ]
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert headers == [
        "Your check-ins",
        "Latest pulses",
        "Your open commitments",
        "Wins you were credited in",
    ]
    # Check-ins: soonest first, paused last, the next time in the user's timezone.
    assert body.index("Ritual &lt;1&gt;* in") < body.index("Ritual &lt;2&gt;* in") < body.index("Paused:")
    assert "Next: Wed 2 Dec 2026, 08:00 UTC" in body
    assert "Tandem is no longer a member of the channel" in body
    # Pulses: both views and the gap; a withheld side is a sentence, never a number.
    assert "Marketing's view of IT 3.4/5 · IT's view of marketing 4.3/5" in body
    assert "Gap 0.9: marketing rates IT lower than IT rates marketing" in body
    assert "IT's view of marketing: too few answers from IT to show without identifying people" in body
    assert body.index("Ritual &lt;1&gt;* · closed Tue 24 Nov 2026") < body.index(
        "Ritual &lt;2&gt;* · closed Fri 20 Nov 2026"
    )
    # Commitments with their menus; wins most recent first, withdrawn ones left out.
    assert sum(1 for b in blocks if b.get("accessory", {}).get("type") == "overflow") == 2
    assert body.index("Win &lt;2&gt;") < body.index("Win &lt;1&gt;") and "Win &lt;3&gt;" not in body
    assert ":chart_with_upwards_trend: Sign-ups +18%" in body


def test_home_empty_states() -> None:
    blocks, body = check_home(build_home(user_id="U1", rituals=[], pulses=[], commitments=[], wins=[]))
    assert "You're not part of any check-in yet" in body
    assert "No pulse results yet" in body
    assert "Nothing open." in body
    assert "No wins credited to you yet" in body
    assert "past due" not in body
    assert len(blocks) == 14


def test_home_with_huge_data_stays_within_100_blocks() -> None:
    pulse = results(fig(0, 0, 3, 2, 0), fig(0, 0, 0, 5, 2))
    view = build_home(
        user_id="UM1",
        rituals=[ritual(i, name="N" * 500 + "<&>") for i in range(300)],
        pulses=[
            HomePulse("P" * 300, pulse, dt.datetime(2026, 11, 1, tzinfo=BERLIN) + dt.timedelta(hours=i))
            for i in range(200)
        ],
        commitments=[commitment(i, what="<&>" * 200, overdue=True) for i in range(1, 1000)],
        wins=[
            win(i, what="<&>" * 1000, outcome="o" * 200, marketing=tuple(f"U{j}" for j in range(50)))
            for i in range(500)
        ],
        wins_total=537,
    )
    blocks, body = check_home(view)
    assert len(blocks) <= 100
    assert "…and 290 more check-ins." in body
    assert "…and 194 more pulses." in body
    assert "…and 984 more open commitments." in body
    assert "…and 527 more wins." in body
    assert "999 commitments are past due" in body
    assert len(body) < 100_000


def test_home_shows_each_sides_participation_against_its_team() -> None:
    with_team = dataclasses.replace(
        results(fig(0, 0, 3, 2, 0), fig(0, 0, 0, 3, 1)), team={Side.MARKETING: 6, Side.IT: 6}
    )
    view = build_home(
        user_id="UM1",
        rituals=[],
        pulses=[HomePulse("Weekly", with_team, dt.datetime(2026, 11, 24, 17, tzinfo=BERLIN))],
        commitments=[],
        wins=[],
    )
    body = json.dumps(view.to_dict(), ensure_ascii=False)
    assert "answered: marketing 5 of 6 (83%) · IT 4 of 6 (67%)" in body
