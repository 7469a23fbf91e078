"""Every Slack identifier Tandem uses, defined once.

Builders, listener registration, state parsing and the manifest all import from here, and a test
checks that the manifest and the registered listeners agree.
"""

from __future__ import annotations

import json
from typing import Any, Final

COMMAND: Final = "/tandem"

# Every row id is an INTEGER column: 32 bits on PostgreSQL. An id from a payload outside this range
# names nothing Tandem stored, and SQLite would overflow on one past 64 bits.
MAX_ROW_ID: Final = 2**31 - 1


def parse_row_id(value: object) -> int | None:
    """A row id from outside (button or option value, private_metadata, command argument): a positive
    integer within `MAX_ROW_ID`, written as digits or given as a JSON number; None for anything else.

    Every parser of a payload (beside its builder in `bot/blocks`) reads ids through this one, so
    garbage, negative, huge or boolean ids never reach a query.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        # isdigit() alone accepts "²" and other Unicode digits that int() refuses.
        if not (0 < len(text) <= 10 and text.isascii() and text.isdigit()):
            return None
        value = int(text)
    if isinstance(value, int) and 1 <= value <= MAX_ROW_ID:
        return value
    return None


def parse_metadata(private_metadata: object) -> dict[str, Any]:
    """A view's private_metadata as the JSON object Tandem wrote; {} for anything else."""
    if not isinstance(private_metadata, str) or not private_metadata or len(private_metadata) > 3000:
        return {}
    try:
        value = json.loads(private_metadata)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# Events Tandem subscribes to (bot events in the manifest).
EVENT_APP_UNINSTALLED: Final = "app_uninstalled"
EVENT_TOKENS_REVOKED: Final = "tokens_revoked"
EVENT_APP_HOME_OPENED: Final = "app_home_opened"

# Block actions.
ACTION_HELP_DISMISS: Final = "help_dismiss"

# Block ids.
BLOCK_HELP_ACTIONS: Final = "help_actions"

# Rituals
# The setup/edit modal. Block ids stay the same when the modal is rebuilt (cadence change), because
# Slack only keeps what the user already typed into inputs whose block_id and action_id are unchanged.
VIEW_SETUP: Final = "ritual_setup"
BLOCK_SETUP_CHANNEL: Final = "setup_channel"
ACTION_SETUP_CHANNEL: Final = "setup_channel_value"
BLOCK_SETUP_NAME: Final = "setup_name"
ACTION_SETUP_NAME: Final = "setup_name_value"
BLOCK_SETUP_CADENCE: Final = "setup_cadence"
ACTION_SETUP_CADENCE: Final = "setup_cadence_value"  # dispatches block_actions: the modal is rebuilt
BLOCK_SETUP_INTERVAL: Final = "setup_interval"
ACTION_SETUP_INTERVAL: Final = "setup_interval_value"
BLOCK_SETUP_WEEK_OF_MONTH: Final = "setup_week_of_month"
ACTION_SETUP_WEEK_OF_MONTH: Final = "setup_week_of_month_value"
BLOCK_SETUP_WEEKDAY: Final = "setup_weekday"
ACTION_SETUP_WEEKDAY: Final = "setup_weekday_value"
BLOCK_SETUP_TIME: Final = "setup_time"
ACTION_SETUP_TIME: Final = "setup_time_value"
BLOCK_SETUP_TIMEZONE: Final = "setup_timezone"
ACTION_SETUP_TIMEZONE: Final = "setup_timezone_value"
BLOCK_SETUP_MARKETING: Final = "setup_marketing"
ACTION_SETUP_MARKETING: Final = "setup_marketing_value"
BLOCK_SETUP_IT: Final = "setup_it"
ACTION_SETUP_IT: Final = "setup_it_value"
BLOCK_SETUP_THEMES: Final = "setup_themes"
ACTION_SETUP_THEMES: Final = "setup_themes_value"
BLOCK_SETUP_PULSE: Final = "setup_pulse"
ACTION_SETUP_PULSE: Final = "setup_pulse_value"
BLOCK_SETUP_ANONYMOUS: Final = "setup_anonymous"
ACTION_SETUP_ANONYMOUS: Final = "setup_anonymous_value"
BLOCK_SETUP_PULSE_WINDOW: Final = "setup_pulse_window"
ACTION_SETUP_PULSE_WINDOW: Final = "setup_pulse_window_value"
# Delete is confirmed with buttons in an ephemeral message (value = ritual id), not a modal.
BLOCK_RITUAL_DELETE_ACTIONS: Final = "ritual_delete_actions"
ACTION_RITUAL_DELETE_CONFIRM: Final = "ritual_delete_confirm"
ACTION_RITUAL_DELETE_CANCEL: Final = "ritual_delete_cancel"

# Pulses
# Slack wants action_ids unique within a message, so the ten answer buttons get
# f"{ACTION_PULSE_ANSWER_PREFIX}:{question}:{score}" (see bot.blocks.pulse.answer_action_id) and one
# listener matches them all with the regex "^pulse_answer:". The value carries "pulse_id:question:score".
ACTION_PULSE_ANSWER_PREFIX: Final = "pulse_answer"
BLOCK_PULSE_PARTNER: Final = "pulse_partner"
BLOCK_PULSE_LEVEL: Final = "pulse_level"
BLOCK_PULSE_THEME: Final = "pulse_theme"  # the mirrored question on the check-in's theme
ACTION_PULSE_CLOSE: Final = "pulse_close"  # value = pulse id; anyone may click, the listener checks the owner
# "Marketing, IT or other?" buttons: f"{ACTION_PULSE_SIDE_PREFIX}:{side}", value = the pending answer.
ACTION_PULSE_SIDE_PREFIX: Final = "pulse_side"
# Anonymous comments (a ritual setting): the pulse message's "Add a comment" button (value = pulse id)
# opens a modal (private_metadata: {"pulse_id": int}) with one text input.
ACTION_PULSE_COMMENT: Final = "pulse_comment"
VIEW_PULSE_COMMENT: Final = "pulse_comment_modal"
BLOCK_PULSE_COMMENT_TEXT: Final = "pulse_comment_text"
ACTION_PULSE_COMMENT_TEXT: Final = "pulse_comment_text_value"
BLOCK_SETUP_COMMENTS: Final = "setup_comments"
ACTION_SETUP_COMMENTS: Final = "setup_comments_value"
# "Make this a commitment" on a pulse's results, a drift alert and each comment: value
# f"{kind}:{id}" with kind one of COMMIT_SOURCE_KINDS: "result:<pulse id>", "drift:<pulse id>" or
# "comment:<comment id>" (parse_commit_source). Only the ritual's leads may use it.
ACTION_COMMIT_FROM: Final = "commit_from"
COMMIT_SOURCE_KINDS: Final = ("result", "drift", "comment")


def commit_source_value(kind: str, row_id: int) -> str:
    """The "Make this a commitment" button's value, e.g. "comment:42"."""
    if kind not in COMMIT_SOURCE_KINDS or parse_row_id(row_id) is None or isinstance(row_id, str):
        raise ValueError(f"not a commitment source: {kind!r}, {row_id!r}")
    return f"{kind}:{row_id}"


def parse_commit_source(value: object) -> tuple[str, int] | None:
    """(kind, row id) from a "Make this a commitment" button's value; None for anything
    `commit_source_value` would not have written."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    kind, sep, rest = value.partition(":")
    row_id = parse_row_id(rest) if sep else None
    if kind not in COMMIT_SOURCE_KINDS or row_id is None or rest != str(row_id):
        return None
    return kind, row_id


# `/tandem forget-me` asks first, with these two buttons.
ACTION_FORGET_CONFIRM: Final = "forget_me_confirm"
ACTION_FORGET_CANCEL: Final = "forget_me_cancel"

# Wins, commitments, home
VIEW_WIN: Final = "win_modal"  # private_metadata: {"win_id": int | None}
VIEW_COMMIT: Final = (
    "commit_modal"  # private_metadata: {"ritual_id": int | None, "commitment_id": int | None}
)
VIEW_COMMIT_MOVE: Final = "commit_move_modal"  # private_metadata: {"commitment_id": int}
VIEW_COMMIT_DROP: Final = "commit_drop_modal"  # private_metadata: {"commitment_id": int}
SHORTCUT_CELEBRATE: Final = "celebrate_win"  # message shortcut: celebrate the message as a shared win
BLOCK_WIN_WHAT: Final = "win_what"
ACTION_WIN_WHAT: Final = "win_what_value"
BLOCK_WIN_MARKETING: Final = "win_marketing"
ACTION_WIN_MARKETING: Final = "win_marketing_value"
BLOCK_WIN_IT: Final = "win_it"
ACTION_WIN_IT: Final = "win_it_value"
BLOCK_WIN_OUTCOME: Final = "win_outcome"
ACTION_WIN_OUTCOME: Final = "win_outcome_value"
BLOCK_WIN_LINK: Final = "win_link"
ACTION_WIN_LINK: Final = "win_link_value"
BLOCK_WIN_CHANNEL: Final = "win_channel"
ACTION_WIN_CHANNEL: Final = "win_channel_value"
BLOCK_COMMIT_WHAT: Final = "commit_what"
ACTION_COMMIT_WHAT: Final = "commit_what_value"
# The listener reports an owner who has left the workspace on these block ids.
BLOCK_COMMIT_MARKETING: Final = "commit_marketing_owner"
ACTION_COMMIT_MARKETING: Final = "commit_marketing_owner_value"
BLOCK_COMMIT_IT: Final = "commit_it_owner"
ACTION_COMMIT_IT: Final = "commit_it_owner_value"
BLOCK_COMMIT_DUE: Final = "commit_due"
ACTION_COMMIT_DUE: Final = "commit_due_value"
BLOCK_COMMIT_MOVE_DUE: Final = "commit_move_due"
ACTION_COMMIT_MOVE_DUE: Final = "commit_move_due_value"
BLOCK_COMMIT_DROP_REASON: Final = "commit_drop_reason"
ACTION_COMMIT_DROP_REASON: Final = "commit_drop_reason_value"
# Edit / Withdraw buttons on a celebration, value = win id; anyone may click, the listener checks the creator.
ACTION_WIN_EDIT: Final = "win_edit"
ACTION_WIN_WITHDRAW: Final = "win_withdraw"
ACTION_COMMIT_ADD: Final = "commit_add"  # the check-in's "Add a commitment" button, value = ritual id
# Buttons on one commitment (the overdue nudge), value = commitment id.
ACTION_COMMIT_DONE: Final = "commit_done"
ACTION_COMMIT_MOVE: Final = "commit_move"
ACTION_COMMIT_DROP: Final = "commit_drop"
# Lists of commitments (check-in, Home tab, confirmation) give each one an overflow menu instead, so an
# item is one block, not two. Its selected_option.value is "done:12", "move:12" or "drop:12":
# bot.blocks.commitments.parse_commit_choice turns it into ("done", 12).
ACTION_COMMIT_MENU: Final = "commit_menu"
ACTION_HOME_NEW_RITUAL: Final = "home_new_ritual"
ACTION_HOME_NEW_WIN: Final = "home_new_win"
ACTION_HOME_NEW_COMMIT: Final = "home_new_commit"
BLOCK_HOME_ACTIONS: Final = "home_actions"

# Pairing (cross-team one-to-ones). Buttons on an introduction and on its nudge, value = pairing id.
ACTION_PAIRING_MET: Final = "pairing_met"
ACTION_PAIRING_SKIP: Final = "pairing_skip"
BLOCK_PAIRING_ACTIONS: Final = "pairing_actions"
BLOCK_SETUP_PAIRING: Final = "setup_pairing"
ACTION_SETUP_PAIRING: Final = "setup_pairing_value"  # "0" (off), "1", "2" or "4" weeks
BLOCK_SETUP_PAIRING_TRIOS: Final = "setup_pairing_trios"
ACTION_SETUP_PAIRING_TRIOS: Final = "setup_pairing_trios_value"
# The monthly digest DMed to a ritual's two leads (bot/usecases/leads_digest.py): a checkbox, on by default.
BLOCK_SETUP_LEADS_DIGEST: Final = "setup_leads_digest"
ACTION_SETUP_LEADS_DIGEST: Final = "setup_leads_digest_value"

# Workflow Builder custom steps (`tandem manifest --workflow-steps`): function callback ids.
EVENT_FUNCTION_EXECUTED: Final = "function_executed"
FUNCTION_START_PULSE: Final = "tandem_start_pulse"
FUNCTION_CELEBRATE_WIN: Final = "tandem_celebrate_win"
FUNCTION_ADD_COMMITMENT: Final = "tandem_add_commitment"

# `/tandem report` or `/tandem export` where no ritual is implied: a modal to pick one of the person's
# rituals (bot/blocks/picker.py); private_metadata says which command and how many weeks.
VIEW_RITUAL_PICK: Final = "ritual_pick"
BLOCK_RITUAL_PICK: Final = "ritual_pick"
ACTION_RITUAL_PICK: Final = "ritual_pick_value"

# Written check-ins (bot/blocks/written_answers.py). The "Answer" button of the question DM and of its
# reminder carries the round id as its value; the modal's private_metadata is {"round_id": int}.
ACTION_WRITTEN_ANSWER: Final = "written_answer"
BLOCK_WRITTEN_ACTIONS: Final = "written_actions"
VIEW_WRITTEN_ANSWER: Final = "written_answer_modal"
BLOCK_WRITTEN_ANSWER: Final = "written_answer"
ACTION_WRITTEN_ANSWER_TEXT: Final = "written_answer_value"
BLOCK_WRITTEN_NEED: Final = "written_need"
ACTION_WRITTEN_NEED: Final = "written_need_value"
BLOCK_WRITTEN_WIN: Final = "written_win"
ACTION_WRITTEN_WIN: Final = "written_win_value"
# A lead confirms a written answer's draft win from the check-in's thread, value = win id.
ACTION_WRITTEN_CONFIRM_WIN: Final = "written_confirm_win"
BLOCK_SETUP_WRITTEN: Final = "setup_written"
ACTION_SETUP_WRITTEN: Final = "setup_written_value"
BLOCK_SETUP_WRITTEN_LEAD: Final = "setup_written_lead"
ACTION_SETUP_WRITTEN_LEAD: Final = "setup_written_lead_value"  # hours before the check-in
