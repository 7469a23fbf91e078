"""Commitments: something marketing and IT agreed to do, with one owner on each side and a due date.

The modals (add or edit, new due date, drop) and the parsing of what Slack sends back from them, the
list of open commitments shown in check-ins and on the Home tab, and the messages about one
commitment. Everything here is pure: plain values in, views or `(text, blocks)` out.

Whether an owner has left the workspace needs Slack (`users.info`), so the parsers cannot tell; the
use case adds that error (:func:`owner_left_error`) on :data:`bot.ids.BLOCK_COMMIT_MARKETING` or
:data:`bot.ids.BLOCK_COMMIT_IT`.

Lists of commitments give each one an overflow menu (`ids.ACTION_COMMIT_MENU`) whose option values
are "done:12", "move:12" or "drop:12" (:func:`parse_commit_choice`); the overdue nudge has real
buttons (`ids.ACTION_COMMIT_DONE/MOVE/DROP`, value "12"; :data:`CHOICE_BY_ACTION` gives their verb).
:func:`commit_action_choice` reads either from a block action.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot import ids
from bot.blocks.text import escape, plain_date

__all__ = [
    "CHOICE_BY_ACTION",
    "CHOICE_DONE",
    "CHOICE_DROP",
    "CHOICE_MOVE",
    "MAX_REASON_CHARS",
    "MAX_WHAT_CHARS",
    "CommitForm",
    "CommitmentView",
    "build_commit_modal",
    "build_commitment_confirmation",
    "build_commitment_update",
    "build_commitment_update_message",
    "build_drop_modal",
    "build_move_modal",
    "build_nudge_dm",
    "changed_commitment_id",
    "commit_action_choice",
    "commit_add_ritual_id",
    "commit_choice_value",
    "commit_modal_error",
    "commit_modal_metadata",
    "commit_modal_source",
    "commitment_blocks",
    "commitment_refusal_text",
    "due_text",
    "escape_within",
    "is_user_id",
    "latest_due",
    "metadata_tampered",
    "modal_values",
    "owner_left_error",
    "parse_commit_choice",
    "parse_commit_state",
    "parse_drop_state",
    "parse_move_state",
    "source_tampered",
]

# The same limits as the database columns (db.models.Commitment.what and .reason).
MAX_WHAT_CHARS: Final = 500
MAX_REASON_CHARS: Final = 300
_LINE_WHAT_MAX = 300  # in lists, where many commitments share one message

OPEN: Final = "open"
DONE: Final = "done"
DROPPED: Final = "dropped"

#: How far ahead a due date may be: a commitment is something to do soon, and a date far off is a typo.
MAX_DUE_YEARS: Final = 5

_PAST_DUE = "The due date is in the past; pick today or later."
_NOT_A_DATE = "That isn't a date; pick one from the calendar."
_NOT_A_PERSON = "Pick someone from the list."

# A Slack user id as the user pickers send it ("U0123ABCD", or "W…" on Enterprise Grid). Anything else
# in a submission was not picked from the list.
_USER_ID_RE: Final = re.compile(r"[UW][A-Z0-9_]{1,30}", re.ASCII)


def is_user_id(value: object) -> bool:
    """Whether `value` has the shape of a Slack user id (so it came from a user picker)."""
    return isinstance(value, str) and _USER_ID_RE.fullmatch(value) is not None


def latest_due(today: dt.date) -> dt.date:
    """The last due date accepted on `today`: :data:`MAX_DUE_YEARS` years ahead (28 Feb for 29 Feb)."""
    year = min(today.year + MAX_DUE_YEARS, dt.MAXYEAR)
    try:
        return today.replace(year=year)
    except ValueError:
        return today.replace(year=year, day=28)


# --------------------------------------------------------------------------- text helpers


def escape_within(text: str, limit: int) -> str:
    """`text` escaped for mrkdwn and at most `limit` characters long after escaping, marked with "…"
    when cut. The cut never splits an `&amp;`, because it is made before escaping, character by character.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out, size = [], 0
    for ch in text:
        piece = escape(ch)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out).rstrip() + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def due_text(day: dt.date) -> str:
    """E.g. "Tue 1 Dec". A plain date, not a Slack date token: a due date is a day, not an instant, and a
    token would show it a day early or late to readers in other timezones."""
    return plain_date(day)


# --------------------------------------------------------------------------- the add / edit modal


@dataclass(frozen=True)
class CommitForm:
    """What the commitment modal asks for, as plain values (what it shows, and what it returns)."""

    what: str = ""
    marketing_owner: str | None = None  # Slack user id
    it_owner: str | None = None
    due: dt.date | None = None


def _metadata(**values: int | str | None) -> str:
    return json.dumps(
        {k: v for k, v in values.items() if v is not None or k in ("ritual_id", "commitment_id")}
    )


# Refusals of a commitment made with "Make this a commitment" (bot.usecases.commitments).
SOURCE_NOT_FOUND: Final = "source_not_found"  # its pulse or comment is unknown, or another workspace's
SOURCE_NOT_LEAD: Final = "source_not_lead"  # only the ritual's leads may


def commit_modal_source(private_metadata: object) -> tuple[str, int] | None:
    """What a commitment modal opened by "Make this a commitment" came from: (kind, pulse id); None
    for one opened otherwise. A tampered source reads as None: see `source_tampered`."""
    metadata = ids.parse_metadata(private_metadata)
    kind, pulse_id = metadata.get("source_kind"), ids.parse_row_id(metadata.get("source_pulse_id"))
    if kind in ids.COMMIT_SOURCE_KINDS and isinstance(kind, str) and pulse_id is not None:
        return kind, pulse_id
    return None


def source_tampered(private_metadata: object) -> bool:
    """Whether the metadata names a source Tandem would not have written (half of one, an unknown kind
    or a garbled pulse id)."""
    metadata = ids.parse_metadata(private_metadata)
    named = "source_kind" in metadata or "source_pulse_id" in metadata
    return named and commit_modal_source(private_metadata) is None


def _metadata_int(private_metadata: object, key: str) -> int | None:
    return ids.parse_row_id(ids.parse_metadata(private_metadata).get(key))


def metadata_tampered(private_metadata: object, *keys: str) -> bool:
    """Whether a modal's private_metadata is other than Tandem wrote it: not a JSON object, or one of
    `keys` present with a value that is neither null nor a row id. Empty metadata is not tampered
    (it names nothing: a new win, a commitment outside any check-in)."""
    if private_metadata is None or private_metadata == "":
        return False
    metadata = ids.parse_metadata(private_metadata)
    if not metadata:
        return True
    return any(metadata.get(k) is not None and ids.parse_row_id(metadata[k]) is None for k in keys)


def commit_modal_metadata(private_metadata: str | None) -> tuple[int | None, int | None]:
    """`(ritual_id, commitment_id)` from any commitment modal's private_metadata (None when absent).

    The move and drop modals only carry the commitment id, so their ritual id reads as None.
    """
    return _metadata_int(private_metadata, "ritual_id"), _metadata_int(private_metadata, "commitment_id")


def changed_commitment_id(private_metadata: object) -> int | None:
    """The commitment a move or drop modal changes; None when absent or the metadata is tampered."""
    if metadata_tampered(private_metadata, "commitment_id"):
        return None
    return _metadata_int(private_metadata, "commitment_id")


def _what_section(what: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=f"*{escape_within(_one_line(what), 2900) or '…'}*"))


def build_commit_modal(
    form: CommitForm,
    *,
    ritual_id: int | None,
    commitment_id: int | None = None,
    source: tuple[str, int] | None = None,
) -> View:
    """The "Add a commitment" modal (`commitment_id` None) or the edit modal, showing `form`'s values.

    `ritual_id` is the check-in the commitment belongs to (None from the Home tab); both ids travel in
    `private_metadata` (read them with :func:`commit_modal_metadata`). `source`: (kind, pulse id) of a
    commitment made with "Make this a commitment" (read it with :func:`commit_modal_source`).
    """
    blocks: list[Block] = [
        InputBlock(
            block_id=ids.BLOCK_COMMIT_WHAT,
            label="What will you do together?",
            element=PlainTextInputElement(
                action_id=ids.ACTION_COMMIT_WHAT,
                placeholder="Agree the tracking plan for the spring campaign",
                # Slack refuses a view whose initial value is longer than max_length.
                initial_value=form.what[:MAX_WHAT_CHARS] or None,
                max_length=MAX_WHAT_CHARS,
                multiline=True,
            ),
        ),
        InputBlock(
            block_id=ids.BLOCK_COMMIT_MARKETING,
            label="Owner in marketing",
            element=UserSelectElement(
                action_id=ids.ACTION_COMMIT_MARKETING,
                placeholder="Pick someone from marketing",
                initial_user=form.marketing_owner or None,
            ),
        ),
        InputBlock(
            block_id=ids.BLOCK_COMMIT_IT,
            label="Owner in IT",
            element=UserSelectElement(
                action_id=ids.ACTION_COMMIT_IT,
                placeholder="Pick someone from IT",
                initial_user=form.it_owner or None,
            ),
            hint="One owner on each side keeps it shared: both answer for it.",
        ),
        InputBlock(
            block_id=ids.BLOCK_COMMIT_DUE,
            label="Due",
            element=DatePickerElement(
                action_id=ids.ACTION_COMMIT_DUE,
                placeholder="Pick a date",
                initial_date=form.due.isoformat() if form.due else None,
            ),
            hint="If it is still open after this date, Tandem reminds both owners once.",
        ),
    ]
    return View(
        type="modal",
        callback_id=ids.VIEW_COMMIT,
        title="Add a commitment" if commitment_id is None else "Edit commitment",
        submit="Add" if commitment_id is None else "Save",
        close="Cancel",
        private_metadata=_metadata(
            ritual_id=ritual_id,
            commitment_id=commitment_id,
            source_kind=source[0] if source else None,
            source_pulse_id=source[1] if source else None,
        ),
        blocks=blocks,
    )


# --------------------------------------------------------------------------- parsing modal state


def modal_values(view: object) -> Mapping[str, Any]:
    """A submitted view's `state.values`; empty when the payload lacks them or has them wrongly typed."""
    state = view.get("state") if isinstance(view, Mapping) else None
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def _field(state: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = state.get(block_id)
    value = block.get(action_id) if isinstance(block, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _str(state: Mapping[str, Any], block_id: str, action_id: str, key: str) -> str | None:
    value = _field(state, block_id, action_id).get(key)
    return value if isinstance(value, str) and value else None


def _user(state: Mapping[str, Any], block_id: str, action_id: str) -> tuple[str | None, bool]:
    """A user picker's user id (None when none was picked), and whether the value was a user id at all."""
    raw = _str(state, block_id, action_id, "selected_user")
    if raw is None:
        return None, True
    return (raw, True) if is_user_id(raw) else (None, False)


def _due(
    state: Mapping[str, Any], block_id: str, action_id: str, *, today: dt.date, missing: str
) -> tuple[dt.date | None, str | None]:
    """A datepicker's due date and, when it is missing, not a date, past or too far off, the error to show."""
    raw = _str(state, block_id, action_id, "selected_date")
    if raw is None:
        return None, missing
    try:
        due = dt.date.fromisoformat(raw)
    except ValueError:
        return None, _NOT_A_DATE
    if due < today:
        return None, _PAST_DUE
    if due > (latest := latest_due(today)):
        return None, f"Pick a date within {MAX_DUE_YEARS} years, by {plain_date(latest)} at the latest."
    return due, None


def _too_long(what: str, n: int, limit: int) -> str:
    return f"Keep the {what} to {limit:,} characters or fewer (it's {n:,})."


def parse_commit_state(
    state_values: Mapping[str, Any], *, today: dt.date
) -> tuple[CommitForm, dict[str, str]]:
    """Read the commitment modal's `view.state.values` into a form, with errors by block id.

    The errors are plain text (Slack shows modal errors without mrkdwn) and ready for
    `ack(response_action="errors", errors=...)`; empty when the form is valid. `today` is the
    submitter's date: a due date before it, or more than :data:`MAX_DUE_YEARS` years after it, is
    refused. A value of the wrong type (a tampered submission) is an error on its block, never a crash.
    """
    s = state_values if isinstance(state_values, Mapping) else {}
    errors: dict[str, str] = {}

    what = (_str(s, ids.BLOCK_COMMIT_WHAT, ids.ACTION_COMMIT_WHAT, "value") or "").strip()
    if not what:
        errors[ids.BLOCK_COMMIT_WHAT] = "Say what you agreed to do, for example “Agree the tracking plan”."
    elif len(what) > MAX_WHAT_CHARS:
        errors[ids.BLOCK_COMMIT_WHAT] = _too_long("commitment", len(what), MAX_WHAT_CHARS)

    marketing, marketing_ok = _user(s, ids.BLOCK_COMMIT_MARKETING, ids.ACTION_COMMIT_MARKETING)
    it, it_ok = _user(s, ids.BLOCK_COMMIT_IT, ids.ACTION_COMMIT_IT)
    if not marketing_ok:
        errors[ids.BLOCK_COMMIT_MARKETING] = _NOT_A_PERSON
    elif marketing is None:
        errors[ids.BLOCK_COMMIT_MARKETING] = "Pick the owner in marketing."
    if not it_ok:
        errors[ids.BLOCK_COMMIT_IT] = _NOT_A_PERSON
    elif it is None:
        errors[ids.BLOCK_COMMIT_IT] = "Pick the owner in IT."
    elif it == marketing:
        errors[ids.BLOCK_COMMIT_IT] = "One owner from each side: pick two different people."

    due, error = _due(s, ids.BLOCK_COMMIT_DUE, ids.ACTION_COMMIT_DUE, today=today, missing="Pick a due date.")
    if error is not None:
        errors[ids.BLOCK_COMMIT_DUE] = error

    return CommitForm(what=what, marketing_owner=marketing, it_owner=it, due=due), errors


# --------------------------------------------------------------------------- move and drop


def build_move_modal(commitment_id: int, what: str, current_due: dt.date) -> View:
    """Pick a new due date for one commitment."""
    return View(
        type="modal",
        callback_id=ids.VIEW_COMMIT_MOVE,
        title="New due date",
        submit="Save",
        close="Cancel",
        private_metadata=_metadata(commitment_id=commitment_id),
        blocks=[
            _what_section(what),
            InputBlock(
                block_id=ids.BLOCK_COMMIT_MOVE_DUE,
                label="New due date",
                element=DatePickerElement(
                    action_id=ids.ACTION_COMMIT_MOVE_DUE,
                    placeholder="Pick a date",
                    initial_date=current_due.isoformat(),
                ),
                hint=f"Now due {due_text(current_due)}. The channel sees the new date.",
            ),
        ],
    )


def parse_move_state(
    state_values: Mapping[str, Any], *, today: dt.date
) -> tuple[dt.date | None, dict[str, str]]:
    """The new due date from the move modal, with errors by block id (a date before `today`, or more
    than :data:`MAX_DUE_YEARS` years after it, is refused)."""
    due, error = _due(
        state_values if isinstance(state_values, Mapping) else {},
        ids.BLOCK_COMMIT_MOVE_DUE,
        ids.ACTION_COMMIT_MOVE_DUE,
        today=today,
        missing="Pick the new due date.",
    )
    if error is not None:
        return None, {ids.BLOCK_COMMIT_MOVE_DUE: error}
    return due, {}


def build_drop_modal(commitment_id: int, what: str) -> View:
    """Drop one commitment, saying why (the reason is shared with the channel)."""
    return View(
        type="modal",
        callback_id=ids.VIEW_COMMIT_DROP,
        title="Drop commitment",
        submit="Drop it",
        close="Cancel",
        private_metadata=_metadata(commitment_id=commitment_id),
        blocks=[
            _what_section(what),
            InputBlock(
                block_id=ids.BLOCK_COMMIT_DROP_REASON,
                label="Why is it dropped?",
                element=PlainTextInputElement(
                    action_id=ids.ACTION_COMMIT_DROP_REASON,
                    placeholder="Priorities changed: the campaign moved to next quarter",
                    max_length=MAX_REASON_CHARS,
                    multiline=True,
                ),
                hint="Shared in the channel, so both sides know what happened.",
            ),
        ],
    )


def parse_drop_state(state_values: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The reason from the drop modal (whitespace tidied), with errors by block id."""
    values = state_values if isinstance(state_values, Mapping) else {}
    reason = _one_line(
        _str(values, ids.BLOCK_COMMIT_DROP_REASON, ids.ACTION_COMMIT_DROP_REASON, "value") or ""
    )
    if not reason:
        return reason, {ids.BLOCK_COMMIT_DROP_REASON: "Say briefly why, so both sides know what happened."}
    if len(reason) > MAX_REASON_CHARS:
        return reason, {ids.BLOCK_COMMIT_DROP_REASON: _too_long("reason", len(reason), MAX_REASON_CHARS)}
    return reason, {}


# --------------------------------------------------------------------------- the overflow menu

CHOICE_DONE: Final = "done"
CHOICE_MOVE: Final = "move"
CHOICE_DROP: Final = "drop"
#: The verb of each button of the overdue nudge, so buttons and overflow menus reach the same code.
CHOICE_BY_ACTION: Final[Mapping[str, str]] = {
    ids.ACTION_COMMIT_DONE: CHOICE_DONE,
    ids.ACTION_COMMIT_MOVE: CHOICE_MOVE,
    ids.ACTION_COMMIT_DROP: CHOICE_DROP,
}
# Strict, like the pulse answers: only the exact shape we write is read back as a choice.
_CHOICE_RE: Final = re.compile(r"(done|move|drop):([1-9][0-9]{0,17})", re.ASCII)


def commit_choice_value(choice: str, commitment_id: int) -> str:
    """The overflow option value for a choice ("done", "move", "drop") on a commitment, e.g. "done:12"."""
    if choice not in CHOICE_BY_ACTION.values():
        raise ValueError(f"not a commitment choice: {choice!r}")
    if isinstance(commitment_id, bool) or not isinstance(commitment_id, int) or commitment_id < 1:
        raise ValueError(f"commitment ids are positive integers, not {commitment_id!r}")
    return f"{choice}:{commitment_id}"


def parse_commit_choice(value: object) -> tuple[str, int]:
    """An overflow option value as `(choice, commitment id)`, e.g. "done:12" -> ("done", 12).

    ValueError for anything :func:`commit_choice_value` would not write.
    """
    match = _CHOICE_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"not a commitment choice: {value!r}")
    commitment_id = ids.parse_row_id(match[2])
    if commitment_id is None:
        raise ValueError(f"not a commitment id: {match[2]!r}")
    return match[1], commitment_id


def commit_action_choice(action: object) -> tuple[str, int] | None:
    """`(choice, commitment id)` from a block action on a commitment: an overflow menu's option
    (:func:`parse_commit_choice`) or one of the nudge's buttons (value = the id); None for anything else."""
    if not isinstance(action, Mapping):
        return None
    action_id = action.get("action_id")
    if action_id == ids.ACTION_COMMIT_MENU:
        option = action.get("selected_option")
        try:
            return parse_commit_choice(option.get("value") if isinstance(option, Mapping) else None)
        except ValueError:
            return None
    choice = CHOICE_BY_ACTION.get(action_id) if isinstance(action_id, str) else None
    commitment_id = ids.parse_row_id(action.get("value"))
    return (choice, commitment_id) if choice is not None and commitment_id is not None else None


def commit_add_ritual_id(value: object) -> int | None:
    """The ritual id of a check-in's "Add a commitment" button (`ids.ACTION_COMMIT_ADD`, built by
    `bot.blocks.checkin.build_checkin` with the ritual id as its value); None for anything else."""
    return ids.parse_row_id(value)


def _menu(commitment_id: int) -> OverflowMenuElement:
    return OverflowMenuElement(
        action_id=ids.ACTION_COMMIT_MENU,
        options=[
            Option(value=commit_choice_value(CHOICE_DONE, commitment_id), label="✅ Mark done"),
            Option(value=commit_choice_value(CHOICE_MOVE, commitment_id), label="📅 New due date"),
            Option(value=commit_choice_value(CHOICE_DROP, commitment_id), label="🗑️ Drop"),
        ],
    )


def _buttons(commitment_id: int) -> ActionsBlock:
    value = str(commitment_id)
    return ActionsBlock(
        elements=[
            ButtonElement(text="Mark done", action_id=ids.ACTION_COMMIT_DONE, value=value, style="primary"),
            ButtonElement(text="New due date", action_id=ids.ACTION_COMMIT_MOVE, value=value),
            ButtonElement(text="Drop", action_id=ids.ACTION_COMMIT_DROP, value=value),
        ]
    )


# --------------------------------------------------------------------------- lists and messages


@dataclass(frozen=True)
class CommitmentView:
    """What the messages show about one commitment, as plain values."""

    id: int
    what: str
    marketing_owner: str  # Slack user id
    it_owner: str
    due: dt.date
    status: str  # "open" | "done" | "dropped"
    overdue: bool  # open and past its due date, in the reader's (or the ritual's) calendar
    created_by: str
    reason: str | None = None  # why it was dropped


def _owners(c: CommitmentView) -> str:
    return f"<@{escape(c.marketing_owner)}> and <@{escape(c.it_owner)}>"


def _item_text(c: CommitmentView, what_max: int = _LINE_WHAT_MAX) -> str:
    text = f"• {escape_within(_one_line(c.what), what_max)} — {_owners(c)}, due {due_text(c.due)}"
    return text + (" · :warning: overdue" if c.overdue else "")


def commitment_blocks(items: Sequence[CommitmentView], *, limit: int) -> list[Block]:
    """One section per open commitment, soonest due first, each with an overflow menu (Mark done / New due
    date / Drop: `ids.ACTION_COMMIT_MENU`, values as in :func:`parse_commit_choice`).

    At most `limit` items are shown, then a context "…and N more open commitments". Items that are not
    open are skipped, and so are repeats of an id. No items: no blocks (the caller words the empty state).
    """
    seen: set[int] = set()
    open_items = []
    for c in items:
        if c.status == OPEN and c.id not in seen:
            seen.add(c.id)
            open_items.append(c)
    open_items.sort(key=lambda c: (c.due, c.id))
    shown = open_items[: max(limit, 0)]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=_item_text(c)), accessory=_menu(c.id)) for c in shown
    ]
    if rest := len(open_items) - len(shown):
        noun = "open commitment" if rest == 1 else "open commitments"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {rest} more {noun}.")]))
    return blocks


def build_commitment_confirmation(c: CommitmentView) -> tuple[str, list[Block]]:
    """Posted in the channel when a commitment is made: both owners, the due date, and its menu."""
    what = escape_within(_one_line(c.what), 2000)
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":handshake: *New commitment*\n{what}\n"
                f"Owners: <@{escape(c.marketing_owner)}> (marketing) and <@{escape(c.it_owner)}> (IT) · "
                f"due {due_text(c.due)}"
            ),
            accessory=_menu(c.id),
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Added by <@{escape(c.created_by)}>. If it is still open after its due date, "
                    "Tandem reminds both owners once."
                )
            ]
        ),
    ]
    text = f"New commitment: {escape_within(_one_line(c.what), 300)} — owners {_owners(c)}, due {due_text(c.due)}"
    return text, blocks


def build_commitment_update(c: CommitmentView, *, by: str) -> str:
    """One line for the channel after a change, by its `status`: done, dropped (with the reason), or
    still open (then its due date was moved to `c.due`)."""
    who = f"<@{escape(by)}>"
    what = f"“{escape_within(_one_line(c.what), 200)}”"
    if c.status == DONE:
        return f":white_check_mark: {who} marked {what} done. Nice work, {_owners(c)}!"
    if c.status == DROPPED:
        reason = escape_within(_one_line(c.reason or ""), MAX_REASON_CHARS)
        return f":wastebasket: {who} dropped {what}" + (f": {reason}" if reason else ".")
    return f":calendar: {who} moved {what} to {due_text(c.due)}."


def build_commitment_update_message(c: CommitmentView, *, by: str) -> tuple[str, list[Block]]:
    """:func:`build_commitment_update` as a message: its line as the text and as one section (Slack
    refuses an empty list of blocks)."""
    line = build_commitment_update(c, by=by)
    return line, [SectionBlock(text=MarkdownTextObject(text=line))]


def build_nudge_dm(c: CommitmentView, channel_id: str | None) -> tuple[str, list[Block]]:
    """The one reminder to an owner when a commitment is past due, with Mark done / New due date / Drop
    buttons (`ids.ACTION_COMMIT_DONE/MOVE/DROP`, value = commitment id)."""
    what = escape_within(_one_line(c.what), 2000)
    where = f", agreed in <#{escape(channel_id)}>" if channel_id else ""
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":alarm_clock: This commitment was due {due_text(c.due)}{where}:\n*{what}*\n"
                f"Owners: <@{escape(c.marketing_owner)}> (marketing) and <@{escape(c.it_owner)}> (IT)"
            )
        ),
        _buttons(c.id),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Done, need more time, or no longer needed? One click tells both sides. "
                    "This is the only reminder."
                )
            ]
        ),
    ]
    text = f"Reminder: “{escape_within(_one_line(c.what), 300)}” was due {due_text(c.due)}."
    return text, blocks


# --------------------------------------------------------------------------- refusals

# Why a request about a commitment may not go on (bot.usecases.commitments.CommitmentRefusal values).
_NOT_FOUND = "not_found"  # unknown, of another workspace, or a garbled id: all look the same
_NOT_ALLOWED = "not_allowed"
_CLOSED = "closed"  # done or dropped already
_RITUAL_NOT_FOUND = "ritual_not_found"  # the check-in it was to be added to
_TAMPERED = "tampered"  # a modal's private_metadata is not what Tandem wrote


def commitment_refusal_text(kind: str, *, status: str = "") -> str:
    """The ephemeral answer when a click on a commitment may not go on (`status`: "done", "dropped")."""
    if kind == _NOT_ALLOWED:
        return (
            ":no_entry: Only its owners, whoever added it, or the ritual's lead can change this commitment."
        )
    if kind == _CLOSED:
        return f"This commitment is already {status}."
    if kind == _RITUAL_NOT_FOUND:
        return ":warning: This check-in no longer exists, or is not one of this workspace's."
    return ":warning: This commitment no longer exists, or is not one of this workspace's."


def commit_modal_error(kind: str, *, status: str = "") -> str:
    """The inline error (plain text) when a commitment modal's submission may not go on."""
    if kind == _NOT_ALLOWED:
        return "You can't change this commitment."
    if kind == _CLOSED:
        return f"This commitment is already {status}."
    if kind == _RITUAL_NOT_FOUND:
        return "This check-in no longer exists, so the commitment can't be added to it. Add it from the Home tab."
    if kind == _TAMPERED:
        return "This form is out of date. Close it and start again."
    if kind == SOURCE_NOT_FOUND:
        return "What this commitment was to come from is not one of this workspace's (or is gone). Nothing was saved."
    if kind == SOURCE_NOT_LEAD:
        return "Only the check-in's two leads can make this a commitment. Nothing was saved."
    return "This commitment no longer exists."


def owner_left_error() -> str:
    """The inline error on an owner's block when Slack says that person has left the workspace."""
    return "This person has left the workspace; pick someone who can still do it."
