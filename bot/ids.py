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
