"""Anonymous comments on pulses, and "Make this a commitment" (from results, drift alerts, comments).

The comment modal (one text per person per pulse, editable until the pulse closes), its parser, the
comments as they go into the results thread at close, and the words around both. Pure: plain values
in, views or `(text, blocks)` out.

Privacy rules the builders keep, whatever they are fed:
- comments are only shown after the pulse closed, grouped by the writer's side, in the order given
  (db shuffled it), never with a name;
- a side with fewer answers than the pulse's minimum (the same minimum that withholds its scores)
  has its comments withheld: only the sentence "withheld: fewer than N answered" is shown for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot import ids
from bot.blocks.commitments import escape_within
from bot.blocks.text import escape, truncate
from db.models import Side

__all__ = [
    "COMMENT_ASK_SIDE",
    "COMMENT_CLOSED",
    "COMMENT_NOT_SAVED",
    "COMMENT_UNKNOWN",
    "COMMIT_FROM_NOT_FOUND",
    "COMMIT_FROM_NOT_LEAD",
    "COMMIT_FROM_UNREADABLE",
    "MAX_COMMENT_CHARS",
    "SideComments",
    "build_comment_messages",
    "build_comment_modal",
    "comment_button",
    "comment_commitment_text",
    "comment_modal_pulse_id",
    "commit_from_button",
    "drift_commitment_text",
    "parse_comment_state",
    "parse_comment_value",
    "result_commitment_text",
    "withheld_comments",
]

# The same limit as db.comments.MAX_COMMENT_CHARS (the builders must not import the query module's
# session code, only its number: kept equal by a test).
MAX_COMMENT_CHARS: Final = 500
# Slack allows 50 blocks per message and rejects messages much above ~13k characters of text.
_BLOCKS_PER_MESSAGE: Final = 45
_CHARS_PER_MESSAGE: Final = 10_000

_SIDE_WORDS: Final[Mapping[Side, str]] = {
    Side.MARKETING: "marketing",
    Side.IT: "IT",
    Side.OTHER: "other teams",
}

COMMENT_CLOSED: Final = "This pulse has closed, so comments are no longer taken. Nothing was changed."
COMMENT_UNKNOWN: Final = (
    ":warning: That pulse is not one of this workspace's, or it takes no comments. Nothing was stored."
)
COMMENT_ASK_SIDE: Final = (
    f"Before you comment, say which side you are on with `{ids.COMMAND} role marketing|it|other` "
    "(or answer one of the pulse's questions): comments are shown by side."
)
COMMENT_NOT_SAVED: Final = (
    ":warning: Your comment could not be saved, so nothing was stored. Please try again."
)
COMMIT_FROM_UNREADABLE: Final = (
    ":warning: That button could not be read, so nothing was changed. Use the button on the message itself."
)
COMMIT_FROM_NOT_FOUND: Final = (
    ":warning: What that button points to is not one of this workspace's (or it is gone), "
    "so nothing was changed."
)
COMMIT_FROM_NOT_LEAD: Final = (
    ":no_entry: Only the check-in's two leads (the first person named on each side) can make this a "
    f"commitment. Anyone can add one with `{ids.COMMAND} commit`."
)


# -- the comment button and modal --------------------------------------------------------------------


def comment_button(pulse_id: int) -> ButtonElement:
    """The pulse message's "Add a comment" (value = pulse id)."""
    return ButtonElement(text="Add a comment", action_id=ids.ACTION_PULSE_COMMENT, value=str(pulse_id))


def parse_comment_value(value: object) -> int | None:
    """The pulse an "Add a comment" click names; None for anything else."""
    return ids.parse_row_id(value)


def build_comment_modal(pulse_id: int, ritual_name: str, existing: str | None) -> View:
    """One text per person per pulse: `existing` (their comment so far) is shown to edit."""
    name = escape(truncate(" ".join(ritual_name.split()) or "Check-in", 100))
    return View(
        type="modal",
        callback_id=ids.VIEW_PULSE_COMMENT,
        title="Comment on the pulse",
        submit="Save" if existing else "Add",
        close="Cancel",
        private_metadata=json.dumps({"pulse_id": pulse_id}),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"Anything the numbers of *{name}*'s pulse don't say? One comment per person; "
                    "you can change it until the pulse closes."
                )
            ),
            InputBlock(
                block_id=ids.BLOCK_PULSE_COMMENT_TEXT,
                label="Your comment",
                element=PlainTextInputElement(
                    action_id=ids.ACTION_PULSE_COMMENT_TEXT,
                    multiline=True,
                    max_length=MAX_COMMENT_CHARS,
                    initial_value=existing[:MAX_COMMENT_CHARS] if existing else None,
                    placeholder="What would make working together easier?",
                ),
            ),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=":lock: Tandem never shows or stores your name with your comment: once the "
                        "pulse closes, it appears in the results thread among your side's comments, in "
                        "random order, and only if your side had enough answers. *But your wording can "
                        "identify you*: a detail only you know, or your way of writing, can give you away."
                    )
                ]
            ),
        ],
    )


def comment_modal_pulse_id(private_metadata: object) -> int | None:
    """The pulse a comment modal is about; None when absent or tampered."""
    return ids.parse_row_id(ids.parse_metadata(private_metadata).get("pulse_id"))


def parse_comment_state(state_values: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The comment's text from the modal's `view.state.values`, and errors by block id (plain text)."""
    block = state_values.get(ids.BLOCK_PULSE_COMMENT_TEXT) if isinstance(state_values, Mapping) else None
    field = block.get(ids.ACTION_PULSE_COMMENT_TEXT) if isinstance(block, Mapping) else None
    raw = field.get("value") if isinstance(field, Mapping) else None
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return "", {ids.BLOCK_PULSE_COMMENT_TEXT: "Write a comment, or press Cancel to leave it."}
    if len(text) > MAX_COMMENT_CHARS:
        return "", {
            ids.BLOCK_PULSE_COMMENT_TEXT: (
                f"Keep the comment to {MAX_COMMENT_CHARS:,} characters or fewer (it's {len(text):,})."
            )
        }
    return text, {}


# -- the comments in the results thread --------------------------------------------------------------


@dataclass(frozen=True)
class SideComments:
    """One side's comments on a closed pulse: `(comment id, text)` in the order given, and how many
    of that side answered the pulse."""

    side: Side
    answered: int
    comments: Sequence[tuple[int, str]]


def withheld_comments(side: Side, min_answers: int) -> str:
    return f"Comments from {_SIDE_WORDS[side]}: withheld: fewer than {min_answers} answered."


def commit_from_button(kind: str, row_id: int) -> ButtonElement:
    """ "Make this a commitment" (only the ritual's leads may use it: the listener checks)."""
    return ButtonElement(
        text="Make this a commitment",
        action_id=ids.ACTION_COMMIT_FROM,
        value=ids.commit_source_value(kind, row_id),
    )


def _size(block: Block) -> int:
    return len(str(block.to_dict()))


def build_comment_messages(
    ritual_name: str, sides: Sequence[SideComments], *, min_answers: int
) -> list[tuple[str, list[Block]]]:
    """The pulse's comments for its results thread, grouped by side: one message, or several when
    they would not fit in one (Slack's 50 blocks and ~13k characters). Empty when nobody commented.

    Each shown comment is one block with its "Make this a commitment" button. A side with fewer than
    `min_answers` answers is one sentence instead ("withheld: fewer than N answered").
    """
    if not any(s.comments for s in sides):
        return []
    name = escape(truncate(" ".join(ritual_name.split()) or "Check-in", 100))
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":speech_balloon: *Comments on the pulse: {name}*\n"
                "Anonymous, grouped by the writer's side, in random order."
            )
        )
    ]
    for group in sides:
        if not group.comments and not group.answered:
            continue
        words = _SIDE_WORDS[group.side]
        if group.answered < min_answers:
            blocks.append(_context(withheld_comments(group.side, min_answers)))
            continue
        if not group.comments:
            blocks.append(_context(f"No comments from {words}."))
            continue
        count = "1 comment" if len(group.comments) == 1 else f"{len(group.comments)} comments"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*From {words}* ({count})")))
        for comment_id, text in group.comments:
            blocks.append(
                SectionBlock(
                    text=MarkdownTextObject(text=f"“{escape_within(text, 2900)}”"),
                    accessory=commit_from_button("comment", comment_id),
                )
            )
    blocks.append(
        _context(
            f"A side's comments show from {min_answers} answers on, so nobody can be identified. "
            "Only the check-in's leads can make one a commitment."
        )
    )
    messages: list[list[Block]] = [[]]
    size = 0
    for block in blocks:
        if messages[-1] and (
            len(messages[-1]) >= _BLOCKS_PER_MESSAGE or size + _size(block) > _CHARS_PER_MESSAGE
        ):
            messages.append([])
            size = 0
        messages[-1].append(block)
        size += _size(block)
    total = len(messages)
    return [
        (f"Comments on the pulse: {name}" + (f" ({n}/{total})" if total > 1 else ""), chunk)
        for n, chunk in enumerate(messages, start=1)
    ]


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


# -- what "Make this a commitment" prefills ----------------------------------------------------------

_WHAT_MAX = 500  # bot.blocks.commitments.MAX_WHAT_CHARS


def result_commitment_text(ritual_name: str, summary: str) -> str:
    """The commitment's text prefilled from a pulse's results (`summary`: their fallback text)."""
    return truncate(f"Act on the pulse results of {' '.join(ritual_name.split())}: {summary}", _WHAT_MAX)


def drift_commitment_text(ritual_name: str, falling: bool | None, values: Sequence[float]) -> str:
    """Prefilled from a drift alert: what drifted, with its last values (`falling` None: not known)."""
    trail = " → ".join(f"{v:.1f}" for v in values)
    if falling is None:
        what = "the drift the last pulses showed"
    elif falling:
        what = f"the falling partnership score ({trail})" if trail else "the falling partnership score"
    else:
        what = f"the widening gap between marketing and IT ({trail})" if trail else "the widening gap"
    return truncate(f"Turn around {what} in {' '.join(ritual_name.split())}", _WHAT_MAX)


def comment_commitment_text(text: str) -> str:
    """Prefilled from a comment: its own words."""
    return truncate(" ".join(text.split()), _WHAT_MAX)


def build_commit_from_row(kind: str, row_id: int) -> ActionsBlock:
    """An actions block with one "Make this a commitment" button (results and the drift alert)."""
    return ActionsBlock(elements=[commit_from_button(kind, row_id)])


def build_drift_commit_offer(ritual_name: str, pulse_id: int) -> tuple[str, list[Block]]:
    """The DM that follows a drift alert (its chart goes as a file, which takes no buttons): turn it
    into a commitment."""
    name = escape(truncate(" ".join(ritual_name.split()) or "Check-in", 100))
    text = f"Turn this drift in {name} into a commitment, with an owner on each side?"
    return text, [
        SectionBlock(
            text=MarkdownTextObject(text=f":handshake: {text}"),
            accessory=commit_from_button("drift", pulse_id),
        )
    ]
