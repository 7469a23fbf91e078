"""Every Slack identifier Tandem uses, defined once.

Builders, listener registration, state parsing and the manifest all import from here, and a test
checks that the manifest and the registered listeners agree.
"""

from __future__ import annotations

from typing import Final

COMMAND: Final = "/tandem"

# Events Tandem subscribes to (bot events in the manifest).
EVENT_APP_UNINSTALLED: Final = "app_uninstalled"
EVENT_TOKENS_REVOKED: Final = "tokens_revoked"

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
ACTION_PULSE_CLOSE: Final = "pulse_close"  # value = pulse id; anyone may click, the listener checks the owner
# "Marketing, IT or other?" buttons: f"{ACTION_PULSE_SIDE_PREFIX}:{side}", value = the pending answer.
ACTION_PULSE_SIDE_PREFIX: Final = "pulse_side"
# `/tandem forget-me` asks first, with these two buttons.
ACTION_FORGET_CONFIRM: Final = "forget_me_confirm"
ACTION_FORGET_CANCEL: Final = "forget_me_cancel"
