"""The ritual picker: `/tandem report` or `/tandem export` typed where no ritual is implied (a DM,
or a channel with none or several) opens a modal listing the person's own rituals, instead of
asking them to type a name exactly (en dash and all). Its parser is beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import InputBlock, Option, PlainTextObject, StaticSelectElement
from slack_sdk.models.views import View

from bot import ids
from bot.blocks.text import truncate

PICKABLE = ("report", "export")
_MAX_OPTIONS = 100  # Slack's limit for a static select
_TITLES = {"report": "Report", "export": "Export"}
_SUBMITS = {"report": "Show the report", "export": "Send the export"}


@dataclass(frozen=True)
class Pick:
    what: str  # "report" | "export"
    ritual_id: int
    weeks: int


def build_ritual_picker(what: str, rituals: Sequence[tuple[int, str]], *, weeks: int) -> View:
    """A modal with one select of `rituals` (id, name), for `what` ("report" or "export")."""
    options = [
        Option(value=str(ritual_id), label=truncate(" ".join(name.split()) or "Check-in", 75))
        for ritual_id, name in rituals[:_MAX_OPTIONS]
    ]
    return View(
        type="modal",
        callback_id=ids.VIEW_RITUAL_PICK,
        title=PlainTextObject(text=_TITLES[what]),
        submit=PlainTextObject(text=_SUBMITS[what]),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps({"what": what, "weeks": weeks}),
        blocks=[
            InputBlock(
                block_id=ids.BLOCK_RITUAL_PICK,
                label=PlainTextObject(text="Which check-in?"),
                element=StaticSelectElement(
                    action_id=ids.ACTION_RITUAL_PICK,
                    placeholder=PlainTextObject(text="Pick one of your check-ins"),
                    options=options,
                    initial_option=options[0] if len(options) == 1 else None,
                ),
            )
        ],
    )


def parse_ritual_pick(view: dict[str, Any]) -> Pick | None:
    """What a submitted picker asks for; None for anything this builder did not write."""
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("what") not in PICKABLE:
        return None
    weeks = meta.get("weeks")
    if not isinstance(weeks, int) or isinstance(weeks, bool) or not 1 <= weeks <= 520:
        return None
    values = (view.get("state") or {}).get("values") or {}
    selected = ((values.get(ids.BLOCK_RITUAL_PICK) or {}).get(ids.ACTION_RITUAL_PICK) or {}).get(
        "selected_option"
    ) or {}
    ritual_id = ids.parse_row_id(selected.get("value") if isinstance(selected, dict) else None)
    if ritual_id is None:
        return None
    return Pick(str(meta["what"]), ritual_id, weeks)
