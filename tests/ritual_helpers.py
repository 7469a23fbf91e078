"""Helpers for ritual tests: the setup modal's state as Slack sends it (the world itself: tests/world.py)."""

from __future__ import annotations

from typing import Any

from bot import ids


def setup_values(
    *,
    channel: str = "C_SHARED",
    name: str = "Weekly sync",
    cadence: str = "weekly",
    weekday: int = 1,
    time: str = "09:00",
    timezone: str = "Europe/Berlin",
    marketing: tuple[str, ...] = ("U_MKT1",),
    it: tuple[str, ...] = ("U_IT1",),
    themes: tuple[str, ...] = (),
    interval: int | None = None,
    week_of_month: int | None = None,
    pulse: bool = True,
    anonymous: bool = True,
    pulse_window: str = "24",
) -> dict[str, Any]:
    """`view.state.values` for the setup modal, shaped exactly like Slack's view_submission payload."""

    def option(value: str) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": value}, "value": value}

    values: dict[str, Any] = {
        ids.BLOCK_SETUP_CHANNEL: {
            ids.ACTION_SETUP_CHANNEL: {"type": "conversations_select", "selected_conversation": channel}
        },
        ids.BLOCK_SETUP_NAME: {ids.ACTION_SETUP_NAME: {"type": "plain_text_input", "value": name}},
        ids.BLOCK_SETUP_CADENCE: {
            ids.ACTION_SETUP_CADENCE: {"type": "static_select", "selected_option": option(cadence)}
        },
        ids.BLOCK_SETUP_WEEKDAY: {
            ids.ACTION_SETUP_WEEKDAY: {"type": "static_select", "selected_option": option(str(weekday))}
        },
        ids.BLOCK_SETUP_TIME: {ids.ACTION_SETUP_TIME: {"type": "plain_text_input", "value": time}},
        ids.BLOCK_SETUP_TIMEZONE: {
            ids.ACTION_SETUP_TIMEZONE: {"type": "static_select", "selected_option": option(timezone)}
        },
        ids.BLOCK_SETUP_MARKETING: {
            ids.ACTION_SETUP_MARKETING: {"type": "multi_users_select", "selected_users": list(marketing)}
        },
        ids.BLOCK_SETUP_IT: {ids.ACTION_SETUP_IT: {"type": "multi_users_select", "selected_users": list(it)}},
        ids.BLOCK_SETUP_THEMES: {
            ids.ACTION_SETUP_THEMES: {
                "type": "multi_static_select",
                "selected_options": [option(t) for t in themes],
            }
        },
        ids.BLOCK_SETUP_PULSE: {
            ids.ACTION_SETUP_PULSE: {
                "type": "checkboxes",
                "selected_options": [option("pulse")] if pulse else [],
            }
        },
        ids.BLOCK_SETUP_ANONYMOUS: {
            ids.ACTION_SETUP_ANONYMOUS: {
                "type": "checkboxes",
                "selected_options": [option("anonymous")] if anonymous else [],
            }
        },
        ids.BLOCK_SETUP_PULSE_WINDOW: {
            ids.ACTION_SETUP_PULSE_WINDOW: {"type": "static_select", "selected_option": option(pulse_window)}
        },
    }
    if interval is not None:
        values[ids.BLOCK_SETUP_INTERVAL] = {
            ids.ACTION_SETUP_INTERVAL: {"type": "static_select", "selected_option": option(str(interval))}
        }
    if week_of_month is not None:
        values[ids.BLOCK_SETUP_WEEK_OF_MONTH] = {
            ids.ACTION_SETUP_WEEK_OF_MONTH: {
                "type": "static_select",
                "selected_option": option(str(week_of_month)),
            }
        }
    return values
