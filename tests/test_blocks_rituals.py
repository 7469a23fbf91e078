"""Builders for rituals: the setup modal and its parsing, ritual messages, and the check-in message."""

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
from bot.blocks.checkin import (
    AgendaSection,
    CheckinContent,
    MissedCheckin,
    PulseFocus,
    build_checkin,
    focus_lines,
)
from bot.blocks.commitments import CommitmentView
from bot.blocks.rituals import (
    MAX_LISTED,
    SCOPE_CHANNEL,
    SCOPE_MINE,
    RitualSummary,
    build_confirmation,
    build_delete_confirmation,
    build_paused_dm,
    build_ritual_list,
    delete_confirmation_id,
    parse_skip_args,
)
from bot.blocks.setup import (
    DEFAULT_TIMEZONES,
    SetupForm,
    build_setup_modal,
    form_from_state_for_rebuild,
    parse_setup_metadata,
    parse_setup_rebuild,
    parse_setup_state,
    parse_setup_submission,
    parse_time,
    setup_ritual_id,
)
from db.cadence import Cadence, CadenceKind
from db.prompt_library import Theme

TODAY = dt.date(2026, 11, 23)

FORM = SetupForm(
    channel_id="C0123",
    name="Marketing and IT weekly",
    cadence_kind="weekly",
    weekday=1,
    time_of_day=dt.time(16, 30),
    timezone="Europe/Berlin",
    marketing=("UM1", "UM2"),
    it=("UI1",),
    themes=(Theme.DATA.value, Theme.BUDGET.value),
    pulse_enabled=True,
    pulse_anonymous=False,
)


# --------------------------------------------------------------------------- helpers


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
        elif kind == "plain_text_input":
            value = {"value": el.get("initial_value")}
        elif kind == "static_select":
            value = {"selected_option": el.get("initial_option")}
        elif kind == "multi_users_select":
            value = {"selected_users": el.get("initial_users", [])}
        elif kind in ("multi_static_select", "checkboxes"):
            value = {"selected_options": el.get("initial_options", [])}
        else:  # pragma: no cover - the modal uses no other element
            raise AssertionError(kind)
        state[block["block_id"]] = {el["action_id"]: {"type": kind, **value}}
    return state


def modal_dict(form: SetupForm, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("ritual_id", None)
    return build_setup_modal(form, **kwargs).to_dict()


def block_ids(view: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in view["blocks"]]


def select(value: str | None) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": None if value is None else {"value": value}}


def valid_state(form: SetupForm = FORM) -> dict[str, Any]:
    return state_for(modal_dict(form))


def set_field(state: dict[str, Any], block_id: str, action_id: str, **value: Any) -> dict[str, Any]:
    field = state[block_id][action_id]
    field.update(value)
    return state


def as_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]  # to_dict() also checks slack_sdk's length limits


def all_text(blocks: list[Block]) -> str:
    return json.dumps(as_dicts(blocks), ensure_ascii=False)


# --------------------------------------------------------------------------- setup modal


@pytest.mark.parametrize(
    "form",
    [
        FORM,
        dataclasses.replace(FORM, cadence_kind="every_n_weeks", interval_weeks=5, weekday=3),
        dataclasses.replace(FORM, cadence_kind="monthly", week_of_month=-1, weekday=4),
        dataclasses.replace(FORM, themes=(), pulse_enabled=False, pulse_anonymous=True),
        dataclasses.replace(FORM, timezone="America/Boise", time_of_day=dt.time(0, 5)),
    ],
)
def test_modal_round_trip(form: SetupForm) -> None:
    parsed, errors = parse_setup_state(valid_state(form), today=TODAY)
    assert errors == {}
    assert parsed == form
    assert form_from_state_for_rebuild(valid_state(form)) == form


def test_modal_shape() -> None:
    new = modal_dict(FORM)
    assert new["type"] == "modal"
    assert new["callback_id"] == ids.VIEW_SETUP
    assert new["title"]["text"] == "New check-in"
    assert new["submit"]["text"] == "Save"
    assert new["close"]["text"] == "Cancel"
    assert setup_ritual_id(new["private_metadata"]) is None
    edit = modal_dict(FORM, ritual_id=42)
    assert edit["title"]["text"] == "Edit check-in"
    assert setup_ritual_id(edit["private_metadata"]) == 42
    assert setup_ritual_id("") is None
    assert setup_ritual_id("not json") is None

    blocks = {b["block_id"]: b for b in new["blocks"]}
    channel = blocks[ids.BLOCK_SETUP_CHANNEL]["element"]
    assert channel["initial_conversation"] == "C0123"
    assert "default_to_current_conversation" not in channel
    assert channel["filter"] == {"include": ["public", "private"], "exclude_bot_users": True}
    assert blocks[ids.BLOCK_SETUP_NAME]["element"]["max_length"] == 80
    time_el = blocks[ids.BLOCK_SETUP_TIME]["element"]
    assert time_el["type"] == "plain_text_input"
    assert time_el["initial_value"] == "16:30"
    assert time_el["placeholder"]["text"] == "09:00"
    assert blocks[ids.BLOCK_SETUP_CADENCE]["dispatch_action"] is True
    assert blocks[ids.BLOCK_SETUP_CADENCE]["element"]["action_id"] == ids.ACTION_SETUP_CADENCE
    assert blocks[ids.BLOCK_SETUP_THEMES]["optional"] is True
    themes = blocks[ids.BLOCK_SETUP_THEMES]["element"]
    assert [o["text"]["text"] for o in themes["options"]] == [t.label for t in Theme]
    assert "who is on which side" in blocks[ids.BLOCK_SETUP_MARKETING]["hint"]["text"]
    assert "who is on which side" in blocks[ids.BLOCK_SETUP_IT]["hint"]["text"]

    # A brand-new form: no channel yet, so Slack pre-selects the current conversation if it can.
    empty = modal_dict(SetupForm(channel_id=None, name=""))
    first = empty["blocks"][0]["element"]
    assert first["default_to_current_conversation"] is True
    assert "initial_conversation" not in first
    by_id = {b["block_id"]: b["element"] for b in empty["blocks"]}
    assert "initial_value" not in by_id[ids.BLOCK_SETUP_NAME]
    assert "initial_users" not in by_id[ids.BLOCK_SETUP_MARKETING]
    assert "initial_options" not in by_id[ids.BLOCK_SETUP_THEMES]


def test_cadence_dependent_blocks() -> None:
    weekly = block_ids(modal_dict(FORM))
    assert ids.BLOCK_SETUP_INTERVAL not in weekly
    assert ids.BLOCK_SETUP_WEEK_OF_MONTH not in weekly

    every = modal_dict(dataclasses.replace(FORM, cadence_kind="every_n_weeks", interval_weeks=3))
    assert ids.BLOCK_SETUP_INTERVAL in block_ids(every)
    assert ids.BLOCK_SETUP_WEEK_OF_MONTH not in block_ids(every)
    interval = next(b for b in every["blocks"] if b["block_id"] == ids.BLOCK_SETUP_INTERVAL)["element"]
    assert [o["value"] for o in interval["options"]] == [str(n) for n in range(2, 9)]
    assert interval["initial_option"]["value"] == "3"

    monthly = modal_dict(dataclasses.replace(FORM, cadence_kind="monthly", week_of_month=-1))
    assert ids.BLOCK_SETUP_WEEK_OF_MONTH in block_ids(monthly)
    assert ids.BLOCK_SETUP_INTERVAL not in block_ids(monthly)
    week = next(b for b in monthly["blocks"] if b["block_id"] == ids.BLOCK_SETUP_WEEK_OF_MONTH)["element"]
    assert [o["text"]["text"] for o in week["options"]] == ["First", "Second", "Third", "Fourth", "Last"]
    assert week["initial_option"]["value"] == "-1"

    # The other blocks keep their ids, so Slack keeps what the user typed when the modal is rebuilt.
    assert [b for b in block_ids(monthly) if b != ids.BLOCK_SETUP_WEEK_OF_MONTH] == weekly


def test_rebuild_after_cadence_change() -> None:
    state = valid_state()
    state[ids.BLOCK_SETUP_CADENCE][ids.ACTION_SETUP_CADENCE] = select("monthly")
    state[ids.BLOCK_SETUP_TIME][ids.ACTION_SETUP_TIME]["value"] = "half past nine"  # not (yet) a time
    form = form_from_state_for_rebuild(state)
    assert form.cadence_kind == "monthly"
    assert form.week_of_month == 1  # the block was not shown yet: its default
    assert form.time_of_day == dt.time(9, 0)
    assert form.name == FORM.name and form.marketing == FORM.marketing
    assert ids.BLOCK_SETUP_WEEK_OF_MONTH in block_ids(modal_dict(form, ritual_id=7))

    # Anything at all, even nothing, gives a form with defaults.
    assert form_from_state_for_rebuild({}) == SetupForm(channel_id=None, name="")
    garbage = {ids.BLOCK_SETUP_WEEKDAY: {ids.ACTION_SETUP_WEEKDAY: select("nine")}, "x": 3}
    assert form_from_state_for_rebuild(garbage).weekday == 0


def timezone_element(view: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b["block_id"] == ids.BLOCK_SETUP_TIMEZONE)["element"]


def zone_values(element: dict[str, Any]) -> list[str]:
    return [o["value"] for g in element["option_groups"] for o in g["options"]]


def test_default_timezones_are_real_and_leave_room() -> None:
    assert len(DEFAULT_TIMEZONES) < 100
    assert len(set(DEFAULT_TIMEZONES)) == len(DEFAULT_TIMEZONES)
    for zone in DEFAULT_TIMEZONES:
        ZoneInfo(zone)


@pytest.mark.parametrize("own", ["Europe/Berlin", "America/Boise", "Antarctica/Troll", "Etc/GMT+5", "UTC"])
def test_timezone_list_includes_own_zone(own: str) -> None:
    element = timezone_element(modal_dict(dataclasses.replace(FORM, timezone=own)))
    values = zone_values(element)
    assert own in values
    assert element["initial_option"]["value"] == own
    assert len(values) <= 100
    assert len(values) == len(set(values))
    assert all(len(g["options"]) <= 100 for g in element["option_groups"])
    assert "options" not in element


def test_timezone_list_is_capped_and_keeps_own_zone() -> None:
    import zoneinfo

    many = sorted(zoneinfo.available_timezones())[:150]
    element = timezone_element(
        modal_dict(dataclasses.replace(FORM, timezone="Pacific/Auckland"), timezones=many)
    )
    values = zone_values(element)
    assert len(values) == 100
    assert "Pacific/Auckland" in values
    assert all(len(g["options"]) <= 100 for g in element["option_groups"])


def test_unknown_own_timezone_is_not_offered() -> None:
    element = timezone_element(modal_dict(dataclasses.replace(FORM, timezone="Mars/Olympus")))
    assert "Mars/Olympus" not in zone_values(element)
    assert "initial_option" not in element


# --------------------------------------------------------------------------- validation

TOO_LONG = "x" * 81


@pytest.mark.parametrize(
    ("block_id", "action_id", "value", "expected_block", "message"),
    [
        (ids.BLOCK_SETUP_CHANNEL, ids.ACTION_SETUP_CHANNEL, {"selected_conversation": None},
         ids.BLOCK_SETUP_CHANNEL, "channel"),
        (ids.BLOCK_SETUP_NAME, ids.ACTION_SETUP_NAME, {"value": "   "}, ids.BLOCK_SETUP_NAME, "name"),
        (ids.BLOCK_SETUP_NAME, ids.ACTION_SETUP_NAME, {"value": TOO_LONG}, ids.BLOCK_SETUP_NAME, "80"),
        (ids.BLOCK_SETUP_TIME, ids.ACTION_SETUP_TIME, {"value": "25:00"}, ids.BLOCK_SETUP_TIME,
         "Enter a time like 09:00 or 4:30 pm."),
        (ids.BLOCK_SETUP_TIME, ids.ACTION_SETUP_TIME, {"value": None}, ids.BLOCK_SETUP_TIME,
         "Enter a time like 09:00 or 4:30 pm."),
        (ids.BLOCK_SETUP_TIMEZONE, ids.ACTION_SETUP_TIMEZONE, select("Mars/Olympus"), ids.BLOCK_SETUP_TIMEZONE,
         "Mars/Olympus"),
        (ids.BLOCK_SETUP_TIMEZONE, ids.ACTION_SETUP_TIMEZONE, select(None), ids.BLOCK_SETUP_TIMEZONE,
         "timezone"),
        (ids.BLOCK_SETUP_MARKETING, ids.ACTION_SETUP_MARKETING, {"selected_users": []},
         ids.BLOCK_SETUP_MARKETING, "Pick at least one person from marketing."),
        (ids.BLOCK_SETUP_IT, ids.ACTION_SETUP_IT, {"selected_users": []}, ids.BLOCK_SETUP_IT,
         "Pick at least one person from IT."),
        (ids.BLOCK_SETUP_IT, ids.ACTION_SETUP_IT, {"selected_users": ["UI1", "UM2"]}, ids.BLOCK_SETUP_IT,
         "both marketing and IT"),
        (ids.BLOCK_SETUP_WEEKDAY, ids.ACTION_SETUP_WEEKDAY, select("7"), ids.BLOCK_SETUP_WEEKDAY,
         "day of the week"),
        (ids.BLOCK_SETUP_WEEKDAY, ids.ACTION_SETUP_WEEKDAY, select(None), ids.BLOCK_SETUP_WEEKDAY,
         "day of the week"),
        (ids.BLOCK_SETUP_CADENCE, ids.ACTION_SETUP_CADENCE, select("daily"), ids.BLOCK_SETUP_CADENCE,
         "how often"),
    ],
)  # fmt: skip
def test_validation_errors_land_on_their_block(
    block_id: str, action_id: str, value: dict[str, Any], expected_block: str, message: str
) -> None:
    state = set_field(valid_state(), block_id, action_id, **value)
    _, errors = parse_setup_state(state, today=TODAY)
    assert list(errors) == [expected_block]
    assert message in errors[expected_block]


def test_several_errors_at_once() -> None:
    state = valid_state()
    set_field(state, ids.BLOCK_SETUP_NAME, ids.ACTION_SETUP_NAME, value="")
    set_field(state, ids.BLOCK_SETUP_TIME, ids.ACTION_SETUP_TIME, value="teatime")
    set_field(state, ids.BLOCK_SETUP_MARKETING, ids.ACTION_SETUP_MARKETING, selected_users=[])
    _, errors = parse_setup_state(state, today=TODAY)
    assert set(errors) == {ids.BLOCK_SETUP_NAME, ids.BLOCK_SETUP_TIME, ids.BLOCK_SETUP_MARKETING}
    assert errors[ids.BLOCK_SETUP_TIME].startswith("“teatime” isn't a time of day.")


@pytest.mark.parametrize("interval", ["9", "1", "often"])
def test_interval_errors(interval: str) -> None:
    state = valid_state(dataclasses.replace(FORM, cadence_kind="every_n_weeks", interval_weeks=2))
    set_field(state, ids.BLOCK_SETUP_INTERVAL, ids.ACTION_SETUP_INTERVAL, selected_option={"value": interval})
    _, errors = parse_setup_state(state, today=TODAY)
    assert list(errors) == [ids.BLOCK_SETUP_INTERVAL]


@pytest.mark.parametrize("week", ["5", "0", "-2", "last"])
def test_week_of_month_errors(week: str) -> None:
    state = valid_state(dataclasses.replace(FORM, cadence_kind="monthly"))
    set_field(
        state, ids.BLOCK_SETUP_WEEK_OF_MONTH, ids.ACTION_SETUP_WEEK_OF_MONTH, selected_option={"value": week}
    )
    _, errors = parse_setup_state(state, today=TODAY)
    assert list(errors) == [ids.BLOCK_SETUP_WEEK_OF_MONTH]


def test_missing_cadence_detail_blocks_use_defaults() -> None:
    # The user switched to "every few weeks" and submitted before the modal was rebuilt.
    state = valid_state()
    state[ids.BLOCK_SETUP_CADENCE][ids.ACTION_SETUP_CADENCE] = select("every_n_weeks")
    form, errors = parse_setup_state(state, today=TODAY)
    assert errors == {}
    assert (form.cadence_kind, form.interval_weeks) == ("every_n_weeks", 2)


def test_valid_form_makes_a_cadence() -> None:
    state = valid_state(dataclasses.replace(FORM, cadence_kind="every_n_weeks", interval_weeks=4))
    # What people type is tidied: whitespace in the name, the time's spelling, duplicate picks.
    set_field(state, ids.BLOCK_SETUP_NAME, ids.ACTION_SETUP_NAME, value="  Marketing   and IT weekly ")
    set_field(state, ids.BLOCK_SETUP_TIME, ids.ACTION_SETUP_TIME, value="4:30 pm")
    set_field(
        state, ids.BLOCK_SETUP_MARKETING, ids.ACTION_SETUP_MARKETING, selected_users=["UM1", "UM2", "UM1"]
    )
    set_field(
        state,
        ids.BLOCK_SETUP_THEMES,
        ids.ACTION_SETUP_THEMES,
        selected_options=[{"value": "budget"}, {"value": "data"}, {"value": "no-such-theme"}],
    )
    form, errors = parse_setup_state(state, today=TODAY)
    assert errors == {}
    assert form.name == "Marketing and IT weekly"
    assert form.time_of_day == dt.time(16, 30)
    assert form.marketing == ("UM1", "UM2")
    assert form.themes == ("data", "budget")
    cadence = form.to_cadence(anchor=TODAY)
    assert cadence == Cadence(
        kind=CadenceKind.every_n_weeks,
        weekday=1,
        time_of_day=dt.time(16, 30),
        timezone="Europe/Berlin",
        interval_weeks=4,
        anchor=TODAY,
    )


def test_unchecked_checkboxes() -> None:
    state = valid_state(dataclasses.replace(FORM, pulse_enabled=True, pulse_anonymous=True))
    set_field(state, ids.BLOCK_SETUP_PULSE, ids.ACTION_SETUP_PULSE, selected_options=[])
    set_field(state, ids.BLOCK_SETUP_ANONYMOUS, ids.ACTION_SETUP_ANONYMOUS, selected_options=[])
    form, _ = parse_setup_state(state, today=TODAY)
    assert (form.pulse_enabled, form.pulse_anonymous) == (False, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:00", dt.time(9, 0)),
        ("09:00", dt.time(9, 0)),
        ("9", dt.time(9, 0)),
        ("9am", dt.time(9, 0)),
        ("9 AM", dt.time(9, 0)),
        ("9 a.m.", dt.time(9, 0)),
        ("4:30 pm", dt.time(16, 30)),
        ("4:30PM", dt.time(16, 30)),
        ("16.30", dt.time(16, 30)),
        ("16h30", dt.time(16, 30)),
        ("0930", dt.time(9, 30)),
        ("  7:05 ", dt.time(7, 5)),
        ("12am", dt.time(0, 0)),
        ("12pm", dt.time(12, 0)),
        ("12:15 am", dt.time(0, 15)),
        ("noon", dt.time(12, 0)),
        ("23:59", dt.time(23, 59)),
        ("0:00", dt.time(0, 0)),
    ],
)
def test_parse_time_accepts(text: str, expected: dt.time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "  ", "25:00", "24:00", "12:60", "13pm", "0am", "abc", "9:5", "930", "9:00:00", "-1:00", "9 xm"],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape("Enter a time like 09:00 or 4:30 pm.")):
        parse_time(text)


def test_parse_time_message_quotes_short_input_only() -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_time("x" * 500)
    assert len(str(excinfo.value)) < 100


# --------------------------------------------------------------------------- ritual messages

BERLIN = ZoneInfo("Europe/Berlin")
NEXT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)


def summary(**changes: Any) -> RitualSummary:
    base = RitualSummary(
        id=12,
        name="R&D <sync>",
        channel_id="C0123",
        schedule="Every Tuesday at 09:00 (Europe/Berlin)",
        next_local=NEXT,
        status="active",
        paused_reason=None,
        marketing=("UM1", "UM2"),
        it=("UI1",),
    )
    return dataclasses.replace(base, **changes)


def test_confirmation() -> None:
    text, blocks = build_confirmation(summary(), created=True)
    body = all_text(blocks)
    assert "R&amp;D &lt;sync&gt;" in body and "<sync>" not in body
    assert "<@UM1>" in body and "<@UM2>" in body and "<@UI1>" in body
    assert "Every Tuesday at 09:00 (Europe/Berlin)" in body
    assert "Tue 1 Dec 2026, 09:00 CET" in body
    assert f"<!date^{int(NEXT.timestamp())}^{{date_long_pretty}} at {{time}}|" in body
    assert "<#C0123>" in body
    assert "set up" in text and "R&amp;D" in text and "<sync>" not in text

    _, edited = build_confirmation(summary(), created=False)
    assert "updated" in all_text(edited)


def test_ritual_list() -> None:
    text, blocks = build_ritual_list(
        [summary(), summary(id=13, name="Paused one", status="paused", paused_reason="not_in_channel")],
        scope=SCOPE_CHANNEL,
    )
    body = all_text(blocks)
    assert "Check-ins in this channel" in body and "Check-ins in this channel" in text
    assert "R&amp;D &lt;sync&gt;" in body
    assert "Paused: Tandem is no longer a member of the channel" in body
    assert "<!date^" in body

    _, mine = build_ritual_list([summary()], scope=SCOPE_MINE)
    assert "Your check-ins" in all_text(mine)

    with pytest.raises(ValueError):
        build_ritual_list([], scope="everything")


@pytest.mark.parametrize("scope", [SCOPE_CHANNEL, SCOPE_MINE])
def test_ritual_list_empty(scope: str) -> None:
    text, blocks = build_ritual_list([], scope=scope)
    assert f"`{ids.COMMAND} setup`" in all_text(blocks)
    assert f"{ids.COMMAND} setup" in text


def test_ritual_list_is_capped() -> None:
    many = [summary(id=i, name=f"Ritual {i} " + "n" * 500) for i in range(120)]
    text, blocks = build_ritual_list(many, scope=SCOPE_MINE)
    dicts = as_dicts(blocks)
    assert len(dicts) <= 50
    assert f"and {120 - MAX_LISTED} more" in json.dumps(dicts)
    assert len(json.dumps(dicts)) < 12_000
    assert len(text) < 4000


def test_delete_confirmation() -> None:
    text, blocks = build_delete_confirmation(summary())
    dicts = as_dicts(blocks)
    actions = next(b for b in dicts if b["type"] == "actions")
    assert actions["block_id"] == ids.BLOCK_RITUAL_DELETE_ACTIONS
    delete, keep = actions["elements"]
    assert (delete["action_id"], delete["value"], delete["style"]) == (
        ids.ACTION_RITUAL_DELETE_CONFIRM,
        "12",
        "danger",
    )
    assert delete["text"]["text"] == "Delete"
    assert (keep["action_id"], keep["text"]["text"]) == (ids.ACTION_RITUAL_DELETE_CANCEL, "Keep it")
    assert "Past check-ins are kept for reports." in json.dumps(dicts)
    assert "R&amp;D" in text


@pytest.mark.parametrize("reason", ["not_in_channel", "channel_not_found", "is_archived", "Something else"])
def test_paused_dm(reason: str) -> None:
    text, blocks = build_paused_dm("Weekly <sync>", "C0123", reason)
    body = all_text(blocks)
    assert "/invite @Tandem" in body
    assert f"{ids.COMMAND} resume Weekly &lt;sync&gt;" in body
    assert "<#C0123>" in body
    assert reason not in body or reason == "Something else"  # codes become plain words
    assert "Weekly &lt;sync&gt;" in text


# --------------------------------------------------------------------------- check-in message

CHECKIN = CheckinContent(
    ritual_name="Marketing & IT weekly",
    local_date=dt.date(2026, 12, 1),
    timezone="Europe/Berlin",
    prompt_text="Which <data> do we collect but never use?",
    prompt_theme_label="Data and analytics",
    prompt_why="you haven't talked about data for a while",
    missed=(),
    marketing=("UM1",),
    it=("UI1", "UI2"),
)


def test_checkin_message() -> None:
    text, blocks = build_checkin(CHECKIN)
    dicts = as_dicts(blocks)
    assert dicts[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Marketing & IT weekly · Tue 1 Dec 2026", "emoji": True},
    }
    body = json.dumps(dicts)
    assert ":speech_balloon: *Prompt*" in body
    assert "Which &lt;data&gt; do we collect but never use?" in body
    assert "Why this prompt: you haven't talked about data for a while (Data and analytics)" in body
    assert "<@UM1>" in body and "<@UI1>" in body and "<@UI2>" in body
    assert "Discuss in the thread :thread:" in body
    # Nothing to report: no agenda headings at all.
    assert "Missed" not in body
    assert len(dicts) == 5
    assert "Marketing &amp; IT weekly" in text and "Tue 1 Dec 2026" in text and "&lt;data&gt;" in text


def test_checkin_agenda_shows_only_sections_with_content() -> None:
    content = dataclasses.replace(
        CHECKIN,
        missed=(dt.date(2026, 11, 17), dt.date(2026, 11, 10), dt.date(2026, 11, 3)),
        agenda_items=(
            AgendaSection("Open actions", ()),
            AgendaSection("Blank lines", ("", "   ")),
            AgendaSection("Wins", ("Launched <the> site",)),
            AgendaSection("Mentions", ("<@UM1> owns the brief",), mrkdwn=True),
        ),
    )
    _, blocks = build_checkin(content)
    body = all_text(blocks)
    assert "Open actions" not in body and "Blank lines" not in body
    assert "*Wins*\\n• Launched &lt;the&gt; site" in body
    assert "• <@UM1> owns the brief" in body
    assert (
        "The check-ins of Tue 3 Nov 2026, Tue 10 Nov 2026 and Tue 17 Nov 2026 were not posted while Tandem was offline."
        in body
    )
    order = [b.get("text", {}).get("text", "") for b in as_dicts(blocks)]
    missed_at = next(i for i, t in enumerate(order) if "Missed check-ins" in t)
    wins_at = next(i for i, t in enumerate(order) if "*Wins*" in t)
    assert missed_at < wins_at


def test_checkin_one_missed_and_other_year() -> None:
    _, blocks = build_checkin(dataclasses.replace(CHECKIN, missed=(dt.date(2026, 11, 24),)))
    assert "The check-in of Tue 24 Nov 2026 was not posted" in all_text(blocks)
    content = dataclasses.replace(CHECKIN, local_date=dt.date(2027, 1, 5), missed=(dt.date(2026, 12, 29),))
    _, blocks = build_checkin(content)
    assert "Tue 29 Dec 2026" in all_text(blocks)


def test_checkin_missed_lines_say_how_each_was_lost() -> None:
    content = dataclasses.replace(
        CHECKIN,
        missed=(
            MissedCheckin(dt.date(2026, 11, 3)),
            MissedCheckin(
                dt.date(2026, 11, 10), failed=True, reason="Slack refused the message (internal_error)"
            ),
            MissedCheckin(
                dt.date(2026, 11, 17), failed=True, reason="Slack refused the message (internal_error)"
            ),
            MissedCheckin(
                dt.date(2026, 11, 24), failed=True, reason="interrupted while posting (Tandem stopped)"
            ),
            dt.date(2026, 10, 27),  # a bare date: missed while offline
        ),
    )
    _, blocks = build_checkin(content)
    body = all_text(blocks)
    assert (
        "The check-ins of Tue 27 Oct 2026 and Tue 3 Nov 2026 were not posted while Tandem was offline."
        in body
    )
    assert (
        "The check-ins of Tue 10 Nov 2026 and Tue 17 Nov 2026 could not be posted: "
        "Slack refused the message (internal_error)." in body
    )
    assert (
        "The check-in of Tue 24 Nov 2026 could not be posted: interrupted while posting (Tandem stopped)."
        in body
    )
    # A failed check-in is not said to have been missed "while Tandem was offline".
    assert body.count("while Tandem was offline") == 1


def test_checkin_missed_lines_escape_and_cut_reasons() -> None:
    many = tuple(
        MissedCheckin(
            dt.date(2026, 1, 6) + dt.timedelta(weeks=i),
            failed=True,
            reason=f"<b>reason {i}</b> & " + "x" * 400,
        )
        for i in range(6)
    )
    _, blocks = build_checkin(dataclasses.replace(CHECKIN, missed=many))
    body = all_text(blocks)
    assert "&lt;b&gt;reason 0&lt;/b&gt; &amp;" in body and "<b>" not in body
    assert "…and 3 more check-ins that were not posted." in body
    check_limits(blocks)


def check_limits(blocks: list[Block]) -> None:
    dicts = as_dicts(blocks)
    assert len(dicts) <= 50
    for d in dicts:
        if d["type"] == "header":
            assert len(d["text"]["text"]) <= 150
        if d["type"] == "section":
            assert len(d["text"]["text"]) <= 3000
        if d["type"] == "context":
            assert all(len(e["text"]) <= 3000 for e in d["elements"])
    assert len(json.dumps(dicts, ensure_ascii=False)) < 12_000


def test_checkin_absurd_inputs_stay_within_limits() -> None:
    line = "&<>" + "y" * 497
    content = CheckinContent(
        ritual_name="N" * 500,
        local_date=dt.date(2026, 12, 1),
        timezone="Europe/Berlin",
        prompt_text="<&>" * 2000,
        prompt_theme_label="L" * 500,
        prompt_why="W" * 5000,
        missed=tuple(dt.date(2026, 1, 1) + dt.timedelta(weeks=i) for i in range(50)),
        marketing=tuple(f"UM{i:09d}" for i in range(200)),
        it=tuple(f"UI{i:09d}" for i in range(200)),
        agenda_items=(
            # Trusted mrkdwn first, so its cut is exercised too (only 8 sections are shown).
            AgendaSection("Marked up", ("<@U1> " + "z" * 600,) * 200, mrkdwn=True),
            *(AgendaSection("T" * 500, (line,) * 200) for _ in range(40)),
        ),
    )
    text, blocks = build_checkin(content)
    check_limits(blocks)
    body = all_text(blocks)
    assert "…and" in body and "more" in body
    assert "and 45 more were not posted" in body
    assert "…and 39 more agenda sections that did not fit." in body
    assert text.startswith("N" * 149 + "… · Tue 1 Dec 2026: &lt;&amp;&gt;")
    assert len(text) <= 1000
    # Cuts never leave half an entity behind.
    for d in as_dicts(blocks):
        t = d.get("text", {}).get("text", "") if d["type"] == "section" else ""
        for piece in t.split("&")[1:]:
            assert piece.startswith(("amp;", "lt;", "gt;")), piece[:10]


def test_checkin_mrkdwn_lines_are_cut_between_tokens() -> None:
    long_line = "x" * 290 + " <@U123456789> after"
    content = dataclasses.replace(CHECKIN, agenda_items=(AgendaSection("Owners", (long_line,), mrkdwn=True),))
    _, blocks = build_checkin(content)
    body = all_text(blocks)
    assert "<@U12" not in body  # the mention would have been cut in half, so it is left out whole
    assert "x" * 290 + " …" in body


# --------------------------------------------------------------------------- parsers of what comes back


@pytest.mark.parametrize(
    ("metadata", "ritual_id", "tampered"),
    [
        (json.dumps({"ritual_id": None}), None, False),
        (json.dumps({"ritual_id": 42}), 42, False),
        (json.dumps({"ritual_id": "42"}), 42, False),
        ("", None, False),  # no metadata at all: a new ritual
        (None, None, False),
        ("not json", None, True),
        ("[]", None, True),
        ("{}", None, True),
        (json.dumps({"ritual_id": "1; drop"}), None, True),
        (json.dumps({"ritual_id": -1}), None, True),
        (json.dumps({"ritual_id": 2**31}), None, True),
        (json.dumps({"ritual_id": True}), None, True),
        ("x" * 4000, None, True),
    ],
)
def test_setup_metadata_is_read_once_and_garbage_is_told_apart(
    metadata: str | None, ritual_id: int | None, tampered: bool
) -> None:
    target = parse_setup_metadata(metadata)
    assert (target.ritual_id, target.tampered) == (ritual_id, tampered)
    assert setup_ritual_id(metadata) == ritual_id


def test_a_setup_submission_with_garbage_metadata_or_no_state_is_errors_not_an_exception() -> None:
    view = modal_dict(FORM, ritual_id=None)
    good = parse_setup_submission({**view, "state": {"values": state_for(view)}}, today=TODAY)
    assert (good.ritual_id, good.errors) == (None, {})
    garbage = parse_setup_submission(
        {**view, "state": {"values": state_for(view)}, "private_metadata": "[]"}, today=TODAY
    )
    assert (
        list(garbage.errors) == [ids.BLOCK_SETUP_NAME]
        and "no longer exists" in garbage.errors[ids.BLOCK_SETUP_NAME]
    )
    for broken in (None, [], "view", {"state": None}, {"state": {"values": "x"}}):
        submission = parse_setup_submission(broken, today=TODAY)
        assert ids.BLOCK_SETUP_CHANNEL in submission.errors and ids.BLOCK_SETUP_NAME in submission.errors


def test_a_cadence_change_is_read_from_whatever_view_comes_with_it() -> None:
    view = {**modal_dict(FORM, ritual_id=7), "id": "V9", "hash": "h1"}
    rebuild = parse_setup_rebuild({**view, "state": {"values": state_for(view)}})
    assert rebuild is not None and (rebuild.view_id, rebuild.hash, rebuild.ritual_id) == ("V9", "h1", 7)
    assert rebuild.form.name == FORM.name
    assert parse_setup_rebuild(None) is None and parse_setup_rebuild({"id": 5}) is None
    odd = parse_setup_rebuild({"id": "V9", "hash": 3, "private_metadata": "nope", "state": "x"})
    assert odd is not None and (odd.hash, odd.ritual_id, odd.form.channel_id) == (None, None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12),
        (12, 12),
        ("abc", None),
        ("-1", None),
        ("0", None),
        ("99999999999999999999999", None),
        (None, None),
    ],
)
def test_delete_confirmation_value(value: object, expected: int | None) -> None:
    assert delete_confirmation_id(value) == expected


def test_the_delete_confirmation_carries_what_its_parser_reads() -> None:
    _, blocks = build_delete_confirmation(summary())
    (actions,) = [b for b in as_dicts(blocks) if b["type"] == "actions"]
    assert delete_confirmation_id(actions["elements"][0]["value"]) == 12


@pytest.mark.parametrize(
    ("args", "name", "on", "other", "problem"),
    [
        ("Weekly sync 2026-12-22", "Weekly sync", dt.date(2026, 12, 22), None, None),
        ("2026-12-1", "", dt.date(2026, 12, 1), None, None),
        ("Weekly sync", "Weekly sync", None, None, None),
        ("", "", None, None, None),
        ("Weekly sync 2026-13-45", "Weekly sync 2026-13-45", None, None, "is not a date"),
        ("Weekly sync 9999-12-31", "Weekly sync 9999-12-31", None, None, "more than five years ahead"),
        ("Weekly sync 2031-11-25", "Weekly sync 2031-11-25", None, None, "more than five years ahead"),
        ("Weekly sync 2031-11-20", "Weekly sync", dt.date(2031, 11, 20), None, None),
        ("Weekly sync 0001-01-01", "Weekly sync", dt.date(1, 1, 1), None, None),  # "in the past": the db's
        ("Weekly sync 24.12.2026", "Weekly sync 24.12.2026", None, "24.12.2026", None),
        ("Weekly sync 24 December 2026", "Weekly sync 24 December 2026", None, "24 December 2026", None),
    ],
)
def test_skip_arguments(
    args: str, name: str, on: dt.date | None, other: str | None, problem: str | None
) -> None:
    parsed = parse_skip_args(args, today=TODAY)
    assert (parsed.name, parsed.on, parsed.other_date) == (name, on, other)
    if problem is None:
        assert parsed.problem is None
    else:
        assert parsed.problem is not None and problem in parsed.problem


def _commitment(what: str, due: dt.date) -> CommitmentView:
    return CommitmentView(
        id=1,
        what=what,
        marketing_owner="UM",
        it_owner="UI",
        due=due,
        status="open",
        overdue=False,
        created_by="UM",
    )


def test_focus_leads_with_the_widest_gap_or_the_lowest_score_then_commitments_due() -> None:
    day = dt.date(2026, 12, 1)
    gap = PulseFocus(marketing_view=2.0, it_view=4.0, level=3.5, gap=-2.0)
    assert focus_lines(gap, (), day) == (
        "Widest gap in the last pulse: 2.0 points between marketing's view of IT (2.0) and IT's view "
        "of marketing (4.0).",
    )
    close = PulseFocus(marketing_view=3.0, it_view=3.5, level=2.5, gap=-0.5)
    assert focus_lines(close, (), day) == (
        "Lowest in the last pulse: collaboration at the right level, 2.5/5.",
    )
    withheld = PulseFocus(marketing_view=None, it_view=None, level=None, gap=None)
    assert focus_lines(withheld, (), day) == ()
    due = [_commitment(f"c{i}", day - dt.timedelta(days=i)) for i in range(5)]
    later = _commitment("later", day + dt.timedelta(days=1))
    assert focus_lines(None, (*due, later), day) == (
        "Commitment due Tue 1 Dec 2026: c0",
        "Commitment overdue since Tue 1 Dec 2026: c1",
        "Commitment overdue since Mon 30 Nov 2026: c2",
        "…and 2 more commitments due",
    )
