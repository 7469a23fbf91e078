"""The modal that sets up or edits a ritual, and the parsing of what Slack sends back from it.

Building and parsing live together so that every input the modal shows is read back with the same
block and action ids (from :mod:`bot.ids`). Both directions are pure: no Slack calls, no database.
Whatever Slack sends back is read here once, including a tampered view (non-JSON metadata, missing
blocks, wrongly typed values): it becomes a form and inline errors, never an exception. The use
case (bot.usecases.channels) checks separately that Tandem can post in the chosen channel; the
words for what it finds are in bot.blocks.channels.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    Option,
    OptionGroup,
    PlainTextInputElement,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot import ids
from bot.blocks.written_answers import DEFAULT_LEAD_HOURS, LEAD_CHOICES
from db.cadence import LAST_WEEK, MAX_INTERVAL_WEEKS, MIN_INTERVAL_WEEKS, WEEKDAY_NAMES, Cadence
from db.prompt_library import Theme

__all__ = [
    "CADENCE_KINDS",
    "DEFAULT_TIMEZONES",
    "MAX_NAME_LENGTH",
    "SetupForm",
    "SetupRebuild",
    "SetupSubmission",
    "SetupTarget",
    "build_setup_modal",
    "form_from_state_for_rebuild",
    "new_setup_form",
    "parse_setup_metadata",
    "parse_setup_rebuild",
    "parse_setup_state",
    "parse_setup_submission",
    "parse_time",
    "setup_gone_error",
    "setup_refusal_error",
    "setup_ritual_id",
]

MAX_NAME_LENGTH = 80
# Slack shows at most 100 options in one select, across all its option groups.
_MAX_SELECT_OPTIONS = 100

CADENCE_KINDS: dict[str, str] = {
    "weekly": "Every week",
    "every_n_weeks": "Every few weeks",
    "monthly": "Once a month",
}
_WEEKS_OF_MONTH: dict[int, str] = {1: "First", 2: "Second", 3: "Third", 4: "Fourth", LAST_WEEK: "Last"}
_PULSE = "pulse"
_ANONYMOUS = "anonymous"
_TRIOS = "trios"
_LEADS_DIGEST = "leads_digest"
_WRITTEN = "written"
_COMMENTS = "comments"

# Common IANA zones, west to east within each region. Fewer than 100, so the user's own zone can always
# be added without going over Slack's 100 options (a test checks both).
DEFAULT_TIMEZONES: tuple[str, ...] = (
    "UTC",
    # Americas
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Vancouver",
    "America/Tijuana",
    "America/Denver",
    "America/Phoenix",
    "America/Edmonton",
    "America/Chicago",
    "America/Winnipeg",
    "America/Mexico_City",
    "America/Guatemala",
    "America/Costa_Rica",
    "America/Bogota",
    "America/Lima",
    "America/Panama",
    "America/New_York",
    "America/Toronto",
    "America/Detroit",
    "America/Havana",
    "America/Caracas",
    "America/Santo_Domingo",
    "America/Puerto_Rico",
    "America/Halifax",
    "America/La_Paz",
    "America/Manaus",
    "America/Santiago",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Montevideo",
    # Europe
    "Atlantic/Reykjavik",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Madrid",
    "Europe/Paris",
    "Europe/Brussels",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Zurich",
    "Europe/Rome",
    "Europe/Vienna",
    "Europe/Prague",
    "Europe/Warsaw",
    "Europe/Copenhagen",
    "Europe/Oslo",
    "Europe/Stockholm",
    "Europe/Budapest",
    "Europe/Belgrade",
    "Europe/Athens",
    "Europe/Bucharest",
    "Europe/Sofia",
    "Europe/Helsinki",
    "Europe/Tallinn",
    "Europe/Riga",
    "Europe/Vilnius",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Europe/Moscow",
    # Africa
    "Africa/Casablanca",
    "Africa/Accra",
    "Africa/Lagos",
    "Africa/Algiers",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    # Asia
    "Asia/Jerusalem",
    "Asia/Beirut",
    "Asia/Riyadh",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Karachi",
    "Asia/Tashkent",
    "Asia/Kolkata",
    "Asia/Colombo",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Ho_Chi_Minh",
    "Asia/Jakarta",
    "Asia/Kuala_Lumpur",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Hong_Kong",
    "Asia/Shanghai",
    "Asia/Taipei",
    "Asia/Seoul",
    "Asia/Tokyo",
    # Australia and the Pacific
    "Australia/Perth",
    "Australia/Darwin",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Pacific/Auckland",
    "Pacific/Fiji",
)

# Region of a zone by its first path segment; the order here is the order of the option groups.
_REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("UTC", ("UTC", "Etc")),
    ("Americas", ("America", "US", "Canada", "Brazil", "Chile", "Mexico")),
    ("Europe", ("Europe", "Atlantic")),
    ("Africa", ("Africa",)),
    ("Asia", ("Asia", "Indian")),
    ("Australia and Pacific", ("Australia", "Pacific", "Antarctica")),
)
_OTHER_REGION = "Other"
# Honolulu is in Pacific/ but people look for it next to the other US zones.
_REGION_OVERRIDES = {"Pacific/Honolulu": "Americas"}


# How long a pulse can stay open, by hours; it closes at the next check-in at the latest.
PULSE_WINDOWS: Final[Mapping[int, str]] = {
    4: "4 hours",
    8: "8 hours",
    24: "1 day",
    48: "2 days",
    72: "3 days",
    168: "1 week",
}
DEFAULT_PULSE_WINDOW_HOURS = 24
# Weeks between one-to-one rounds; 0 is off (the default).
PAIRING_CHOICES: Final[Mapping[int, str]] = {
    0: "Off",
    1: "Every week",
    2: "Every 2 weeks",
    4: "Every 4 weeks",
}


@dataclass(frozen=True)
class SetupForm:
    """Everything the setup modal asks for, as plain values (what it shows, and what it returns)."""

    channel_id: str | None
    name: str
    cadence_kind: str = "weekly"  # "weekly" | "every_n_weeks" | "monthly"
    interval_weeks: int = MIN_INTERVAL_WEEKS  # every_n_weeks only: 2..8
    week_of_month: int = 1  # monthly only: 1..4, or -1 for the last
    weekday: int = 0  # 0 = Monday
    time_of_day: dt.time = dt.time(9, 0)
    timezone: str = "UTC"
    marketing: tuple[str, ...] = ()  # Slack user ids
    it: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()  # Theme slugs; empty means every theme
    pulse_enabled: bool = True
    pulse_anonymous: bool = True
    pulse_window_hours: int = DEFAULT_PULSE_WINDOW_HOURS
    pulse_comments: bool = False  # anonymous pulses offer "Add a comment"
    pairing_weeks: int = 0  # cross-team one-to-ones: 0 (off), 1, 2 or 4 weeks between rounds
    pairing_trios: bool = False
    leads_digest: bool = True  # the monthly digest DMed to the two leads
    # Written check-ins: members are DMed the prompt this many hours before each check-in.
    written_answers: bool = False
    written_lead_hours: int = DEFAULT_LEAD_HOURS

    def to_cadence(self, *, anchor: dt.date) -> Cadence:
        """The schedule this form describes; `anchor` is only used by every_n_weeks (first date on/after it).

        Raises ValueError with a user-facing message when the values do not make a schedule.
        """
        return Cadence(
            kind=self.cadence_kind,  # type: ignore[arg-type]  # Cadence validates and converts the string
            weekday=self.weekday,
            time_of_day=self.time_of_day,
            timezone=self.timezone,
            interval_weeks=self.interval_weeks,
            week_of_month=self.week_of_month,
            anchor=anchor,
        )


# --------------------------------------------------------------------------- time of day

_TIME_EXAMPLE = "Enter a time like 09:00 or 4:30 pm."
_TIME_RE = re.compile(
    r"""^(?P<hour>\d{1,2})
        (?:\s*[:.h]\s*(?P<minute>\d{2}))?
        \s*(?P<meridiem>[ap])?(?(meridiem)\.?\s*m?\.?)$""",
    re.IGNORECASE | re.VERBOSE,
)
_MILITARY_RE = re.compile(r"^(?P<hour>\d{2})(?P<minute>\d{2})$")  # "0930", "1630"
_NAMED_TIMES = {"noon": dt.time(12, 0), "midday": dt.time(12, 0), "midnight": dt.time(0, 0)}


def parse_time(text: str) -> dt.time:
    """A wall-clock time from what people type: "9:00", "09:00", "9am", "4:30 pm", "16.30", "16h30", "0930".

    Raises ValueError with a message that can be shown to the user as is.
    """
    cleaned = " ".join(text.split()).lower()
    if not cleaned:
        raise ValueError(_TIME_EXAMPLE)
    if cleaned in _NAMED_TIMES:
        return _NAMED_TIMES[cleaned]
    match = _TIME_RE.match(cleaned) or _MILITARY_RE.match(cleaned)
    if match is not None:
        hour = int(match["hour"])
        minute = int(match["minute"] or 0)
        meridiem = match.groupdict().get("meridiem")
        # On a 12-hour clock only 1..12 exist; 12am is midnight and 12pm is noon.
        hour_ok = 1 <= hour <= 12 if meridiem else hour <= 23
        if meridiem:
            hour = hour % 12 + (12 if meridiem == "p" else 0)
        if hour_ok and minute <= 59:
            return dt.time(hour, minute)
    shown = text.strip() if len(text.strip()) <= 20 else text.strip()[:19] + "…"
    raise ValueError(f"“{shown}” isn't a time of day. {_TIME_EXAMPLE}")


# --------------------------------------------------------------------------- building the modal


def _option(value: str, label: str) -> Option:
    return Option(value=value, label=label)


def _region(zone: str) -> str:
    if zone in _REGION_OVERRIDES:
        return _REGION_OVERRIDES[zone]
    prefix = zone.split("/", 1)[0]
    for region, prefixes in _REGIONS:
        if prefix in prefixes:
            return region
    return _OTHER_REGION


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _timezone_groups(own: str, timezones: Sequence[str] | None) -> tuple[list[OptionGroup], Option | None]:
    """Option groups by region, always containing `own` (when it is a real zone); ≤ 100 options in all."""
    zones = list(dict.fromkeys(DEFAULT_TIMEZONES if timezones is None else timezones))
    own_is_zone = _is_zone(own)
    if own_is_zone and own not in zones:
        zones.append(own)
    if len(zones) > _MAX_SELECT_OPTIONS:
        # Drop from the end of the offered list, but never the user's own zone.
        extra = len(zones) - _MAX_SELECT_OPTIONS
        kept_reversed = []
        for zone in reversed(zones):
            if extra and zone != own:
                extra -= 1
                continue
            kept_reversed.append(zone)
        zones = kept_reversed[::-1]
    by_region: dict[str, list[Option]] = {}
    initial = None
    for zone in zones:
        option = _option(zone, zone)
        by_region.setdefault(_region(zone), []).append(option)
        if zone == own:
            initial = option
    order = [region for region, _ in _REGIONS] + [_OTHER_REGION]
    groups = [OptionGroup(label=region, options=by_region[region]) for region in order if region in by_region]
    return groups, initial if own_is_zone else None


def _select(
    action_id: str, options: Sequence[Option], selected: str | None, placeholder: str
) -> StaticSelectElement:
    initial = next((o for o in options if o.value == selected), None)
    return StaticSelectElement(
        action_id=action_id, placeholder=placeholder, options=list(options), initial_option=initial
    )


def _checkbox(action_id: str, value: str, label: str, checked: bool) -> CheckboxesElement:
    option = _option(value, label)
    return CheckboxesElement(
        action_id=action_id, options=[option], initial_options=[option] if checked else None
    )


def build_setup_modal(
    form: SetupForm, *, ritual_id: int | None, timezones: Sequence[str] | None = None
) -> View:
    """The setup modal (`ritual_id` None) or the edit modal, showing `form`'s values.

    Only the cadence input that applies is shown (interval for every_n_weeks, week of the month for
    monthly); the cadence select dispatches an action so the listener can rebuild the modal with
    :func:`form_from_state_for_rebuild` when it changes. `timezones` replaces the built-in list of
    zones offered; the form's own timezone is always added.
    """
    channel = ConversationSelectElement(
        action_id=ids.ACTION_SETUP_CHANNEL,
        placeholder="Pick a channel",
        initial_conversation=form.channel_id,
        # Without a channel yet, start from the conversation the modal was opened in, if Slack knows it.
        default_to_current_conversation=None if form.channel_id else True,
        filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
    )
    blocks: list[Block] = [
        InputBlock(
            block_id=ids.BLOCK_SETUP_CHANNEL,
            label="Channel",
            element=channel,
            hint="Check-ins are posted here. If Tandem is not in the channel yet, invite it with /invite @Tandem.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_NAME,
            label="Name",
            element=PlainTextInputElement(
                action_id=ids.ACTION_SETUP_NAME,
                placeholder="Marketing and IT weekly",
                initial_value=form.name or None,
                max_length=MAX_NAME_LENGTH,
            ),
            hint="Shown on every check-in, and how you refer to it in commands such as /tandem pause.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_CADENCE,
            label="How often",
            element=_select(
                ids.ACTION_SETUP_CADENCE,
                [_option(kind, label) for kind, label in CADENCE_KINDS.items()],
                form.cadence_kind,
                "Pick how often",
            ),
            dispatch_action=True,
        ),
    ]
    if form.cadence_kind == "every_n_weeks":
        blocks.append(
            InputBlock(
                block_id=ids.BLOCK_SETUP_INTERVAL,
                label="Every",
                element=_select(
                    ids.ACTION_SETUP_INTERVAL,
                    [
                        _option(str(n), f"{n} weeks")
                        for n in range(MIN_INTERVAL_WEEKS, MAX_INTERVAL_WEEKS + 1)
                    ],
                    str(form.interval_weeks),
                    "Pick a number of weeks",
                ),
                hint="The first check-in is on the next matching day.",
            )
        )
    elif form.cadence_kind == "monthly":
        blocks.append(
            InputBlock(
                block_id=ids.BLOCK_SETUP_WEEK_OF_MONTH,
                label="Week of the month",
                element=_select(
                    ids.ACTION_SETUP_WEEK_OF_MONTH,
                    [_option(str(w), label) for w, label in _WEEKS_OF_MONTH.items()],
                    str(form.week_of_month),
                    "Pick a week",
                ),
                hint="For example the first Tuesday, or the last Friday of each month.",
            )
        )
    groups, initial_zone = _timezone_groups(form.timezone, timezones)
    blocks += [
        InputBlock(
            block_id=ids.BLOCK_SETUP_WEEKDAY,
            label="Day",
            element=_select(
                ids.ACTION_SETUP_WEEKDAY,
                [_option(str(i), day) for i, day in enumerate(WEEKDAY_NAMES)],
                str(form.weekday),
                "Pick a day",
            ),
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_TIME,
            label="Time",
            # A text input rather than a timepicker: people type "9am" or "16.30", and a wrong
            # time gets an inline error that says what would work.
            element=PlainTextInputElement(
                action_id=ids.ACTION_SETUP_TIME,
                placeholder="09:00",
                initial_value=f"{form.time_of_day:%H:%M}",
                max_length=20,
            ),
            hint="For example 09:00, 9am or 4:30 pm, in the timezone below.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_TIMEZONE,
            label="Timezone",
            element=StaticSelectElement(
                action_id=ids.ACTION_SETUP_TIMEZONE,
                placeholder="Pick a timezone",
                option_groups=groups,
                initial_option=initial_zone,
            ),
            hint="Check-ins follow this timezone's clock, including daylight saving changes.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_MARKETING,
            label="Marketing members",
            element=UserMultiSelectElement(
                action_id=ids.ACTION_SETUP_MARKETING,
                placeholder="Pick people from marketing",
                initial_users=list(form.marketing) or None,
            ),
            hint="This is also how Tandem learns who is on which side.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_IT,
            label="IT members",
            element=UserMultiSelectElement(
                action_id=ids.ACTION_SETUP_IT,
                placeholder="Pick people from IT",
                initial_users=list(form.it) or None,
            ),
            hint="This is also how Tandem learns who is on which side.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_THEMES,
            label="Prompt themes",
            element=_themes_select(form.themes),
            optional=True,
            hint="Leave empty to rotate through every theme.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_PULSE,
            label="Pulse",
            element=_checkbox(
                ids.ACTION_SETUP_PULSE, _PULSE, "Collect a pulse with each check-in", form.pulse_enabled
            ),
            optional=True,
            hint="Marketing and IT each give a quick rating, so you can see how the partnership is going.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_ANONYMOUS,
            label="Privacy",
            element=_checkbox(
                ids.ACTION_SETUP_ANONYMOUS, _ANONYMOUS, "Keep pulse answers anonymous", form.pulse_anonymous
            ),
            optional=True,
            hint="When ticked, pulse results never show who answered what.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_COMMENTS,
            label="Comments",
            element=_checkbox(
                ids.ACTION_SETUP_COMMENTS,
                _COMMENTS,
                "Allow anonymous comments on pulses",
                form.pulse_comments,
            ),
            optional=True,
            hint="Anonymous pulses only. Comments show in the results by side, without names, "
            "and only for a side with enough answers.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_PULSE_WINDOW,
            label="Pulse stays open for",
            element=_select(
                ids.ACTION_SETUP_PULSE_WINDOW,
                [_option(str(hours), label) for hours, label in PULSE_WINDOWS.items()],
                str(form.pulse_window_hours),
                "How long people can answer",
            ),
            hint="It closes earlier if the next check-in comes first; the results go into the check-in's thread.",
        ),
        *_pairing_blocks(form),
        _leads_digest_block(form),
        *_written_blocks(form),
    ]
    return View(
        type="modal",
        callback_id=ids.VIEW_SETUP,
        title="New check-in" if ritual_id is None else "Edit check-in",
        submit="Save",
        close="Cancel",
        private_metadata=json.dumps({"ritual_id": ritual_id}),
        blocks=blocks,
    )


def _pairing_blocks(form: SetupForm) -> list[InputBlock]:
    """Cross-team one-to-ones: how often rounds start (off by default), and trios for uneven sides."""
    return [
        InputBlock(
            block_id=ids.BLOCK_SETUP_PAIRING,
            label="One-to-ones",
            element=_select(
                ids.ACTION_SETUP_PAIRING,
                [_option(str(weeks), label) for weeks, label in PAIRING_CHOICES.items()],
                str(form.pairing_weeks if form.pairing_weeks in PAIRING_CHOICES else 0),
                "How often",
            ),
            optional=True,
            hint="Each round pairs every marketing member with an IT member for a 30-minute one-to-one.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_PAIRING_TRIOS,
            label="Uneven sides",
            element=_checkbox(
                ids.ACTION_SETUP_PAIRING_TRIOS,
                _TRIOS,
                "Make trios instead of sitting people out",
                form.pairing_trios,
            ),
            optional=True,
            hint="Otherwise people take turns sitting a round out; whoever sat out last is paired first.",
        ),
    ]


def _leads_digest_block(form: SetupForm) -> InputBlock:
    return InputBlock(
        block_id=ids.BLOCK_SETUP_LEADS_DIGEST,
        label="Monthly digest to the leads",
        element=_checkbox(
            ids.ACTION_SETUP_LEADS_DIGEST,
            _LEADS_DIGEST,
            "DM the two leads a digest of each month",
            form.leads_digest,
        ),
        optional=True,
        hint="On the month's first working day: scores, gap, participation, wins, commitments and a focus.",
    )


def _written_blocks(form: SetupForm) -> list[InputBlock]:
    """Written check-ins: off by default; the question goes out this long before each check-in."""
    return [
        InputBlock(
            block_id=ids.BLOCK_SETUP_WRITTEN,
            label="Written answers",
            element=_checkbox(
                ids.ACTION_SETUP_WRITTEN,
                _WRITTEN,
                "Collect written answers before each check-in",
                form.written_answers,
            ),
            optional=True,
            hint="Each member gets the check-in's question by DM and answers in a few lines; "
            "the answers are posted, with names, in the check-in's thread.",
        ),
        InputBlock(
            block_id=ids.BLOCK_SETUP_WRITTEN_LEAD,
            label="Ask for written answers",
            element=_select(
                ids.ACTION_SETUP_WRITTEN_LEAD,
                [_option(str(hours), label) for hours, label in LEAD_CHOICES.items()],
                str(
                    form.written_lead_hours if form.written_lead_hours in LEAD_CHOICES else DEFAULT_LEAD_HOURS
                ),
                "How long before",
            ),
            optional=True,
            hint="DMs arrive in each person's working hours, never after the check-in.",
        ),
    ]


def _written_lead(state: Mapping[str, Any]) -> int | None:
    hours = _int(_selected(state, ids.BLOCK_SETUP_WRITTEN_LEAD, ids.ACTION_SETUP_WRITTEN_LEAD))
    return hours if hours in LEAD_CHOICES else None


def _pairing_weeks(state: Mapping[str, Any]) -> int:
    weeks = _int(_selected(state, ids.BLOCK_SETUP_PAIRING, ids.ACTION_SETUP_PAIRING))
    return weeks if weeks is not None and weeks in PAIRING_CHOICES else 0


def _themes_select(selected: Sequence[str]) -> StaticMultiSelectElement:
    options = [_option(theme.value, theme.label) for theme in Theme]
    initial = [o for o in options if o.value in selected]
    return StaticMultiSelectElement(
        action_id=ids.ACTION_SETUP_THEMES,
        placeholder="All themes",
        options=options,
        initial_options=initial or None,  # Slack rejects an empty initial_options list
    )


@dataclass(frozen=True)
class SetupTarget:
    """What a setup modal saves, as its `private_metadata` says: a new ritual, or the one it edits."""

    ritual_id: int | None  # None: a new ritual
    # The metadata is there but not what `build_setup_modal` wrote (not JSON, not an object, no
    # "ritual_id", or an id that is no row id): nothing is saved, since it may have been meant as an edit.
    tampered: bool = False


def parse_setup_metadata(private_metadata: object) -> SetupTarget:
    """Read the modal's `private_metadata` (`{"ritual_id": int | null}`), whatever was sent.

    No metadata at all is a new ritual; anything else must be what `build_setup_modal` wrote.
    """
    if private_metadata is None or private_metadata == "":
        return SetupTarget(None)
    metadata = ids.parse_metadata(private_metadata)
    if "ritual_id" not in metadata:
        return SetupTarget(None, tampered=True)
    if metadata["ritual_id"] is None:
        return SetupTarget(None)
    ritual_id = ids.parse_row_id(metadata["ritual_id"])
    return SetupTarget(ritual_id, tampered=ritual_id is None)


def setup_ritual_id(private_metadata: str | None) -> int | None:
    """The ritual id stored in the modal's `private_metadata`: None for a new ritual (or for metadata
    Tandem did not write, which is good enough for rebuilding the modal; a submission is refused)."""
    return parse_setup_metadata(private_metadata).ritual_id


def new_setup_form(channel_id: str | None, timezone: str) -> SetupForm:
    """The form for a new ritual: the channel it was asked from (not a DM), Tuesday 09:00 in `timezone`."""
    return SetupForm(
        channel_id=channel_id if channel_id and channel_id[0] in "CG" else None,
        name="Marketing + IT check-in",
        weekday=1,
        timezone=timezone,
    )


# --------------------------------------------------------------------------- parsing the state

_Missing = object()


def _field(state: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any] | None:
    block = state.get(block_id) if isinstance(state, Mapping) else None
    value = block.get(action_id) if isinstance(block, Mapping) else None
    return value if isinstance(value, Mapping) else None


def _list(value: object) -> list[Any]:
    """A list from the payload, or nothing (a tampered string or number is not a list of choices)."""
    return value if isinstance(value, list) else []


def _channel(state: Mapping[str, Any]) -> str | None:
    field = _field(state, ids.BLOCK_SETUP_CHANNEL, ids.ACTION_SETUP_CHANNEL) or {}
    channel_id = field.get("selected_conversation")
    return channel_id if isinstance(channel_id, str) and channel_id else None


def _selected(state: Mapping[str, Any], block_id: str, action_id: str) -> str | object | None:
    """A static select's value; `_Missing` when the block is not in the state at all."""
    field = _field(state, block_id, action_id)
    if field is None:
        return _Missing
    option = field.get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) else None


def _selected_values(state: Mapping[str, Any], block_id: str, action_id: str) -> list[str] | None:
    field = _field(state, block_id, action_id)
    if field is None:
        return None
    options = _list(field.get("selected_options"))
    return [o["value"] for o in options if isinstance(o, Mapping) and isinstance(o.get("value"), str)]


def _users(state: Mapping[str, Any], block_id: str, action_id: str) -> tuple[str, ...]:
    field = _field(state, block_id, action_id)
    users = _list(field.get("selected_users") if field else None)
    # Keep the order people were picked in, once each.
    return tuple(dict.fromkeys(u for u in users if isinstance(u, str) and u))


def _text(state: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    field = _field(state, block_id, action_id)
    value = field.get("value") if field else None
    return value if isinstance(value, str) else None


def _int(raw: str | object | None) -> int | None:
    if not isinstance(raw, str):
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _themes(values: Sequence[str] | None) -> tuple[str, ...]:
    chosen = set(values or ())
    # Theme order, so the same choice always compares equal whatever order it was picked in.
    return tuple(theme.value for theme in Theme if theme.value in chosen)


def _checked(state: Mapping[str, Any], block_id: str, action_id: str, value: str, default: bool) -> bool:
    values = _selected_values(state, block_id, action_id)
    return default if values is None else value in values


def form_from_state_for_rebuild(state_values: Mapping[str, Any]) -> SetupForm:
    """The form as far as it is filled in, for rebuilding the modal when the cadence changes.

    Never fails: anything missing or not (yet) valid falls back to the form's default.
    """
    s = state_values
    defaults = SetupForm(channel_id=None, name="")
    kind = _selected(s, ids.BLOCK_SETUP_CADENCE, ids.ACTION_SETUP_CADENCE)
    interval = _int(_selected(s, ids.BLOCK_SETUP_INTERVAL, ids.ACTION_SETUP_INTERVAL))
    week = _int(_selected(s, ids.BLOCK_SETUP_WEEK_OF_MONTH, ids.ACTION_SETUP_WEEK_OF_MONTH))
    weekday = _int(_selected(s, ids.BLOCK_SETUP_WEEKDAY, ids.ACTION_SETUP_WEEKDAY))
    zone = _selected(s, ids.BLOCK_SETUP_TIMEZONE, ids.ACTION_SETUP_TIMEZONE)
    try:
        time_of_day = parse_time(_text(s, ids.BLOCK_SETUP_TIME, ids.ACTION_SETUP_TIME) or "")
    except ValueError:
        time_of_day = defaults.time_of_day
    return SetupForm(
        channel_id=_channel(s),
        name=(_text(s, ids.BLOCK_SETUP_NAME, ids.ACTION_SETUP_NAME) or "").strip()[:MAX_NAME_LENGTH],
        cadence_kind=kind if isinstance(kind, str) and kind in CADENCE_KINDS else defaults.cadence_kind,
        interval_weeks=(
            interval
            if interval is not None and MIN_INTERVAL_WEEKS <= interval <= MAX_INTERVAL_WEEKS
            else defaults.interval_weeks
        ),
        week_of_month=week if week in _WEEKS_OF_MONTH else defaults.week_of_month,
        weekday=weekday if weekday is not None and 0 <= weekday <= 6 else defaults.weekday,
        time_of_day=time_of_day,
        timezone=zone if isinstance(zone, str) and zone else defaults.timezone,
        marketing=_users(s, ids.BLOCK_SETUP_MARKETING, ids.ACTION_SETUP_MARKETING),
        it=_users(s, ids.BLOCK_SETUP_IT, ids.ACTION_SETUP_IT),
        **_options(s, defaults),
    )


def _options(s: Mapping[str, Any], defaults: SetupForm) -> dict[str, Any]:
    """The setup form's settings after its schedule and members, read alike by both parsers."""
    return {
        "themes": _themes(_selected_values(s, ids.BLOCK_SETUP_THEMES, ids.ACTION_SETUP_THEMES)),
        "pulse_enabled": _checked(
            s, ids.BLOCK_SETUP_PULSE, ids.ACTION_SETUP_PULSE, _PULSE, defaults.pulse_enabled
        ),
        "pulse_anonymous": _checked(
            s, ids.BLOCK_SETUP_ANONYMOUS, ids.ACTION_SETUP_ANONYMOUS, _ANONYMOUS, defaults.pulse_anonymous
        ),
        "pulse_window_hours": _window(s) or defaults.pulse_window_hours,
        "pulse_comments": _checked(s, ids.BLOCK_SETUP_COMMENTS, ids.ACTION_SETUP_COMMENTS, _COMMENTS, False),
        "pairing_weeks": _pairing_weeks(s),
        "pairing_trios": _checked(
            s, ids.BLOCK_SETUP_PAIRING_TRIOS, ids.ACTION_SETUP_PAIRING_TRIOS, _TRIOS, False
        ),
        "leads_digest": _checked(
            s,
            ids.BLOCK_SETUP_LEADS_DIGEST,
            ids.ACTION_SETUP_LEADS_DIGEST,
            _LEADS_DIGEST,
            defaults.leads_digest,
        ),
        "written_answers": _checked(s, ids.BLOCK_SETUP_WRITTEN, ids.ACTION_SETUP_WRITTEN, _WRITTEN, False),
        "written_lead_hours": _written_lead(s) or DEFAULT_LEAD_HOURS,
    }


def _window(state: Mapping[str, Any]) -> int | None:
    hours = _int(_selected(state, ids.BLOCK_SETUP_PULSE_WINDOW, ids.ACTION_SETUP_PULSE_WINDOW))
    return hours if hours in PULSE_WINDOWS else None


def parse_setup_state(state_values: Mapping[str, Any], *, today: dt.date) -> tuple[SetupForm, dict[str, str]]:
    """Read a `view_submission`'s `view.state.values` into a form, with errors by block id.

    The errors dict is ready for `ack(response_action="errors", errors=...)`; it is empty when the
    form is valid, in which case `form.to_cadence(anchor=today)` succeeds. Blocks the modal did not
    show (interval, week of the month) take their defaults. `today` anchors an every-few-weeks
    schedule, exactly as saving it will.
    """
    s = state_values
    errors: dict[str, str] = {}
    defaults = SetupForm(channel_id=None, name="")

    channel_id = _channel(s)
    if channel_id is None:
        errors[ids.BLOCK_SETUP_CHANNEL] = "Pick the channel where the check-ins should be posted."

    name = " ".join((_text(s, ids.BLOCK_SETUP_NAME, ids.ACTION_SETUP_NAME) or "").split())
    if not name:
        errors[ids.BLOCK_SETUP_NAME] = "Give the check-in a name, for example “Marketing and IT weekly”."
    elif len(name) > MAX_NAME_LENGTH:
        errors[ids.BLOCK_SETUP_NAME] = f"Keep the name to {MAX_NAME_LENGTH} characters or fewer."

    kind = _selected(s, ids.BLOCK_SETUP_CADENCE, ids.ACTION_SETUP_CADENCE)
    if not isinstance(kind, str) or kind not in CADENCE_KINDS:
        errors[ids.BLOCK_SETUP_CADENCE] = "Pick how often the check-in happens."
        kind = defaults.cadence_kind

    interval = defaults.interval_weeks
    if kind == "every_n_weeks":
        raw = _selected(s, ids.BLOCK_SETUP_INTERVAL, ids.ACTION_SETUP_INTERVAL)
        if raw is not _Missing:
            parsed = _int(raw)
            if parsed is None:
                errors[ids.BLOCK_SETUP_INTERVAL] = "Pick how many weeks apart the check-ins are."
            else:
                interval = parsed

    week = defaults.week_of_month
    if kind == "monthly":
        raw = _selected(s, ids.BLOCK_SETUP_WEEK_OF_MONTH, ids.ACTION_SETUP_WEEK_OF_MONTH)
        if raw is not _Missing:
            parsed = _int(raw)
            if parsed is None:
                errors[ids.BLOCK_SETUP_WEEK_OF_MONTH] = "Pick which week of the month."
            else:
                week = parsed

    weekday = _int(_selected(s, ids.BLOCK_SETUP_WEEKDAY, ids.ACTION_SETUP_WEEKDAY))
    if weekday is None:
        errors[ids.BLOCK_SETUP_WEEKDAY] = "Pick a day of the week."
        weekday = defaults.weekday

    time_of_day = defaults.time_of_day
    try:
        time_of_day = parse_time(_text(s, ids.BLOCK_SETUP_TIME, ids.ACTION_SETUP_TIME) or "")
    except ValueError as exc:
        errors[ids.BLOCK_SETUP_TIME] = str(exc)

    zone = _selected(s, ids.BLOCK_SETUP_TIMEZONE, ids.ACTION_SETUP_TIMEZONE)
    if not isinstance(zone, str) or not zone:
        errors[ids.BLOCK_SETUP_TIMEZONE] = "Pick a timezone for the check-in."
        zone = defaults.timezone

    window = _window(s)
    raw_window = _selected(s, ids.BLOCK_SETUP_PULSE_WINDOW, ids.ACTION_SETUP_PULSE_WINDOW)
    if window is None and raw_window not in (_Missing, None):
        errors[ids.BLOCK_SETUP_PULSE_WINDOW] = "Pick how long a pulse stays open."

    raw_lead = _selected(s, ids.BLOCK_SETUP_WRITTEN_LEAD, ids.ACTION_SETUP_WRITTEN_LEAD)
    if _written_lead(s) is None and raw_lead not in (_Missing, None):
        errors[ids.BLOCK_SETUP_WRITTEN_LEAD] = "Pick how long before the check-in to ask for written answers."

    marketing = _users(s, ids.BLOCK_SETUP_MARKETING, ids.ACTION_SETUP_MARKETING)
    it = _users(s, ids.BLOCK_SETUP_IT, ids.ACTION_SETUP_IT)
    if not marketing:
        errors[ids.BLOCK_SETUP_MARKETING] = "Pick at least one person from marketing."
    if not it:
        errors[ids.BLOCK_SETUP_IT] = "Pick at least one person from IT."
    elif both := [u for u in it if u in marketing]:
        # Modal errors are plain text (a <@U…> mention would show as a raw id), so count instead.
        who = "Someone is" if len(both) == 1 else f"{len(both)} people are"
        errors[ids.BLOCK_SETUP_IT] = (
            f"{who} picked for both marketing and IT. Each person can be on one side only."
        )

    form = SetupForm(
        channel_id=channel_id,
        name=name,
        cadence_kind=kind,
        interval_weeks=interval,
        week_of_month=week,
        weekday=weekday,
        time_of_day=time_of_day,
        timezone=zone,
        marketing=marketing,
        it=it,
        **_options(s, defaults),
    )
    errors.update(_cadence_errors(form, today=today, known=errors))
    return form, errors


def _cadence_errors(form: SetupForm, *, today: dt.date, known: Mapping[str, str]) -> dict[str, str]:
    """Cadence's own validation, each message put on the input it is about.

    Cadence raises one ValueError for the whole schedule; to tell which input caused it, each value
    is tried alone against otherwise known-good values. This keeps Cadence the single judge of what
    a valid schedule is, with its user-facing messages.
    """
    good = SetupForm(channel_id=None, name="")
    probes: list[tuple[str, SetupForm]] = [
        (ids.BLOCK_SETUP_WEEKDAY, SetupForm(channel_id=None, name="", weekday=form.weekday)),
        (ids.BLOCK_SETUP_TIME, SetupForm(channel_id=None, name="", time_of_day=form.time_of_day)),
        (ids.BLOCK_SETUP_TIMEZONE, SetupForm(channel_id=None, name="", timezone=form.timezone)),
    ]
    if form.cadence_kind == "every_n_weeks":
        probe = SetupForm(
            channel_id=None, name="", cadence_kind="every_n_weeks", interval_weeks=form.interval_weeks
        )
        probes.append((ids.BLOCK_SETUP_INTERVAL, probe))
    elif form.cadence_kind == "monthly":
        probe = SetupForm(channel_id=None, name="", cadence_kind="monthly", week_of_month=form.week_of_month)
        probes.append((ids.BLOCK_SETUP_WEEK_OF_MONTH, probe))

    errors: dict[str, str] = {}
    for block_id, probe in probes:
        if block_id in known or probe == good:
            continue
        try:
            probe.to_cadence(anchor=today)
        except ValueError as exc:
            errors[block_id] = str(exc)
    cadence_blocks = {
        ids.BLOCK_SETUP_CADENCE,
        ids.BLOCK_SETUP_INTERVAL,
        ids.BLOCK_SETUP_WEEK_OF_MONTH,
        ids.BLOCK_SETUP_WEEKDAY,
        ids.BLOCK_SETUP_TIME,
        ids.BLOCK_SETUP_TIMEZONE,
    }
    if not errors and not cadence_blocks & known.keys():
        # Every value is fine alone; a rule about their combination goes on the cadence select.
        try:
            form.to_cadence(anchor=today)
        except ValueError as exc:
            errors[ids.BLOCK_SETUP_CADENCE] = str(exc)
    return errors


# --------------------------------------------------------------------------- what comes back


@dataclass(frozen=True)
class SetupSubmission:
    """A setup modal's submission: which ritual it saves, the form, and the errors to show inline."""

    ritual_id: int | None
    form: SetupForm
    errors: dict[str, str]


def _view(view: object) -> tuple[Mapping[str, Any], object]:
    """A view's `state.values` and `private_metadata`, as far as they are there."""
    if not isinstance(view, Mapping):
        return {}, None
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    return (values if isinstance(values, Mapping) else {}), view.get("private_metadata")


def parse_setup_submission(view: object, *, today: dt.date) -> SetupSubmission:
    """Read a `view_submission`'s view (Bolt's `view`): metadata, then the inputs (see `parse_setup_state`).

    Metadata Tandem did not write saves nothing: its error goes on the name input, where the
    "no longer exists" of an edit goes too.
    """
    values, metadata = _view(view)
    target = parse_setup_metadata(metadata)
    form, errors = parse_setup_state(values, today=today)
    if target.tampered:
        errors = {ids.BLOCK_SETUP_NAME: setup_gone_error()}
    return SetupSubmission(target.ritual_id, form, errors)


@dataclass(frozen=True)
class SetupRebuild:
    """An open setup modal whose cadence select changed: rebuilt with what is filled in so far."""

    view_id: str
    hash: str | None  # Slack refuses the update if the modal changed meanwhile
    ritual_id: int | None
    form: SetupForm


def parse_setup_rebuild(view: object) -> SetupRebuild | None:
    """Read the modal a cadence change came from (a block action's `view`); None if there is none."""
    if not isinstance(view, Mapping) or not isinstance(view.get("id"), str) or not view["id"]:
        return None
    values, metadata = _view(view)
    view_hash = view.get("hash")
    return SetupRebuild(
        view_id=view["id"],
        hash=view_hash if isinstance(view_hash, str) else None,
        ritual_id=setup_ritual_id(metadata if isinstance(metadata, str) else None),
        form=form_from_state_for_rebuild(values),
    )


def setup_gone_error() -> str:
    """Inline, when the ritual a modal edits is deleted, another workspace's, or the metadata is garbage."""
    return "This check-in no longer exists. Close this form and start again with /tandem setup."


def setup_refusal_error(*, admin_unknown: bool) -> str:
    """Inline, when the person submitting an edit is not its creator, a member or an admin."""
    text = "Only its creator, members or an admin can change it."
    if admin_unknown:
        text += " (Slack did not say in time whether you are an admin: try again.)"
    return text
