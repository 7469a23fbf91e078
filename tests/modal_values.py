"""`view.state.values` of Tandem's modals, shaped exactly like Slack's view_submission payloads.

The setup modal's lives in tests/ritual_helpers.py (`setup_values`) and is re-exported here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot import ids
from tests.ritual_helpers import setup_values

__all__ = ["commit_values", "drop_values", "move_values", "setup_values", "win_values"]


def _plain(value: object) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def _date(day: dt.date | str) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": day.isoformat() if isinstance(day, dt.date) else day}


def win_values(
    *,
    what: str = "Launched the pricing page a week early",
    marketing: tuple[str, ...] = ("U_MKT1",),
    it: tuple[str, ...] = ("U_IT1",),
    outcome: str = "",
    link: str = "",
    channel: str | None = "C_SHARED",
) -> dict[str, Any]:
    return {
        ids.BLOCK_WIN_WHAT: {ids.ACTION_WIN_WHAT: _plain(what)},
        ids.BLOCK_WIN_MARKETING: {
            ids.ACTION_WIN_MARKETING: {"type": "multi_users_select", "selected_users": list(marketing)}
        },
        ids.BLOCK_WIN_IT: {ids.ACTION_WIN_IT: {"type": "multi_users_select", "selected_users": list(it)}},
        ids.BLOCK_WIN_OUTCOME: {ids.ACTION_WIN_OUTCOME: _plain(outcome)},
        ids.BLOCK_WIN_LINK: {ids.ACTION_WIN_LINK: _plain(link)},
        ids.BLOCK_WIN_CHANNEL: {
            ids.ACTION_WIN_CHANNEL: {"type": "conversations_select", "selected_conversation": channel}
        },
    }


def commit_values(
    *,
    what: str = "Agree the tracking plan",
    marketing_owner: str | None = "U_MKT1",
    it_owner: str | None = "U_IT1",
    due: dt.date | str | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        ids.BLOCK_COMMIT_WHAT: {ids.ACTION_COMMIT_WHAT: _plain(what)},
        ids.BLOCK_COMMIT_MARKETING: {
            ids.ACTION_COMMIT_MARKETING: {"type": "users_select", "selected_user": marketing_owner}
        },
        ids.BLOCK_COMMIT_IT: {ids.ACTION_COMMIT_IT: {"type": "users_select", "selected_user": it_owner}},
    }
    values[ids.BLOCK_COMMIT_DUE] = {
        ids.ACTION_COMMIT_DUE: _date(due) if due is not None else {"type": "datepicker"}
    }
    return values


def move_values(due: dt.date | str) -> dict[str, Any]:
    return {ids.BLOCK_COMMIT_MOVE_DUE: {ids.ACTION_COMMIT_MOVE_DUE: _date(due)}}


def drop_values(reason: str = "Priorities changed") -> dict[str, Any]:
    return {ids.BLOCK_COMMIT_DROP_REASON: {ids.ACTION_COMMIT_DROP_REASON: _plain(reason)}}
