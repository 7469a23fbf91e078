"""Written check-ins: the question DM and its reminder, the answer modal (and its parsers), the
"Marketing said / IT said" thread message, and the sentences a refused click gets."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
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
from bot.blocks.rituals import slack_date
from bot.blocks.text import escape, truncate
from db.models import Side

# Slack's limits: a plain_text_input takes at most 3000 characters, a section's text 3000, a message
# 50 blocks (and about 13,000 characters in all: msg_blocks_too_long).
ANSWER_MAX: Final = 3000
NEED_MAX: Final = 1000
WIN_MAX: Final = 1000
SECTION_MAX: Final = 3000
MESSAGE_BLOCKS: Final = 45  # below 50, leaving room for the heading and the count
MESSAGE_CHARS: Final = 11000  # below Slack's undocumented ~13k total

# Lead times the setup modal offers, in hours before the check-in.
LEAD_CHOICES: Final[Mapping[int, str]] = {
    4: "4 hours before",
    8: "8 hours before",
    24: "1 day before",
    48: "2 days before",
    72: "3 days before",
}
DEFAULT_LEAD_HOURS: Final = 24

NOT_ANONYMOUS: Final = (
    "Written answers are *not anonymous*: they are posted in the check-in's thread with your name."
)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def side_label(side: Side) -> str:
    return "Marketing" if side is Side.MARKETING else "IT"


def other_side(side: Side) -> str:
    return "IT" if side is Side.MARKETING else "marketing"


# -- the question DM and its reminder ------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    round_id: int
    ritual_name: str
    channel_id: str
    prompt_text: str
    checkin_at: dt.datetime  # aware, in the ritual's timezone


def round_value(round_id: int) -> str:
    return str(round_id)


def parse_round_value(value: object) -> int | None:
    """The round id of an "Answer" button (None for anything Tandem did not write)."""
    return ids.parse_row_id(value)


def _answer_button(round_id: int, label: str = "Answer") -> ActionsBlock:
    return ActionsBlock(
        block_id=ids.BLOCK_WRITTEN_ACTIONS,
        elements=[
            ButtonElement(
                text=label,
                action_id=ids.ACTION_WRITTEN_ANSWER,
                value=round_value(round_id),
                style="primary",
            )
        ],
    )


def build_question_dm(q: Question) -> tuple[str, list[Block]]:
    when = slack_date(q.checkin_at)
    text = f"Before {q.ritual_name}: {truncate(q.prompt_text, 200)}"
    blocks: list[Block] = [
        _section(
            f"*{escape(q.ritual_name)}* meets in <#{q.channel_id}> {when}. Before it, a written answer "
            "to this check-in's question:"
        ),
        _section(f">{escape(truncate(q.prompt_text, 2900))}"),
        _context(
            "Your answer is posted in the check-in's thread, next to the other side's. "
            "You can change it until the check-in starts."
        ),
        _answer_button(q.round_id),
    ]
    return text, blocks


def build_reminder_dm(q: Question) -> tuple[str, list[Block]]:
    when = slack_date(q.checkin_at)
    text = f"Reminder: {q.ritual_name} is coming up; your written answer is still open"
    blocks: list[Block] = [
        _section(
            f"Reminder: *{escape(q.ritual_name)}* meets {when}, and your written answer is still open. "
            "A few lines are enough:"
        ),
        _section(f">{escape(truncate(q.prompt_text, 2900))}"),
        _answer_button(q.round_id, "Answer now"),
    ]
    return text, blocks


# -- the answer modal ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerForm:
    answer: str
    need: str | None = None
    win: str | None = None


def build_answer_modal(q: Question, side: Side, saved: AnswerForm | None) -> View:
    blocks: list[Block] = [
        _section(
            f"*{escape(q.ritual_name)}*, {slack_date(q.checkin_at)}:\n>{escape(truncate(q.prompt_text, 2800))}"
        ),
        InputBlock(
            block_id=ids.BLOCK_WRITTEN_ANSWER,
            label="Your answer",
            element=PlainTextInputElement(
                action_id=ids.ACTION_WRITTEN_ANSWER_TEXT,
                multiline=True,
                max_length=ANSWER_MAX,
                initial_value=saved.answer if saved else None,
            ),
        ),
        InputBlock(
            block_id=ids.BLOCK_WRITTEN_NEED,
            label=f"One thing I need from {other_side(side)}",
            element=PlainTextInputElement(
                action_id=ids.ACTION_WRITTEN_NEED,
                multiline=True,
                max_length=NEED_MAX,
                initial_value=(saved.need or None) if saved else None,
            ),
            optional=True,
        ),
        InputBlock(
            block_id=ids.BLOCK_WRITTEN_WIN,
            label="A win to share",
            element=PlainTextInputElement(
                action_id=ids.ACTION_WRITTEN_WIN,
                multiline=True,
                max_length=WIN_MAX,
                initial_value=(saved.win or None) if saved else None,
            ),
            optional=True,
            hint="It becomes a draft shared win; one of the check-in's leads confirms it.",
        ),
        _context(NOT_ANONYMOUS + " You can change it until the check-in starts."),
    ]
    return View(
        type="modal",
        callback_id=ids.VIEW_WRITTEN_ANSWER,
        title="Written answer",
        submit="Save" if saved is None else "Save changes",
        close="Cancel",
        private_metadata=json.dumps({"round_id": q.round_id}),
        blocks=blocks,
    )


@dataclass(frozen=True)
class AnswerTarget:
    round_id: int | None  # None: the metadata is not what build_answer_modal wrote


def parse_answer_metadata(private_metadata: object) -> AnswerTarget:
    return AnswerTarget(ids.parse_row_id(ids.parse_metadata(private_metadata).get("round_id")))


def _text(state: Mapping[str, Any], block_id: str, action_id: str) -> str:
    block = state.get(block_id)
    field = block.get(action_id) if isinstance(block, Mapping) else None
    value = field.get("value") if isinstance(field, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def parse_answer_state(values: Mapping[str, Any]) -> tuple[AnswerForm, dict[str, str]]:
    """The modal's values, with inline errors by block id (empty when it can be saved)."""
    answer = _text(values, ids.BLOCK_WRITTEN_ANSWER, ids.ACTION_WRITTEN_ANSWER_TEXT)
    need = _text(values, ids.BLOCK_WRITTEN_NEED, ids.ACTION_WRITTEN_NEED)
    win = _text(values, ids.BLOCK_WRITTEN_WIN, ids.ACTION_WRITTEN_WIN)
    errors: dict[str, str] = {}
    if not answer:
        errors[ids.BLOCK_WRITTEN_ANSWER] = "Write a few words: the answer is the one required field."
    elif len(answer) > ANSWER_MAX:
        errors[ids.BLOCK_WRITTEN_ANSWER] = f"Keep the answer to {ANSWER_MAX} characters or fewer."
    if len(need) > NEED_MAX:
        errors[ids.BLOCK_WRITTEN_NEED] = f"Keep this to {NEED_MAX} characters or fewer."
    if len(win) > WIN_MAX:
        errors[ids.BLOCK_WRITTEN_WIN] = f"Keep the win to {WIN_MAX} characters or fewer."
    return AnswerForm(answer, need or None, win or None), errors


REFUSALS: Final[Mapping[str, str]] = {
    "closed": "This check-in has started; answers are closed.",
    "not_asked": "This question was not sent to you: only the check-in's members answer it.",
    "not_found": "That question no longer exists.",
    "not_lead": "Only the check-in's two leads can confirm a win.",
    "win_gone": "That win is no longer a draft (it was confirmed, or its answer changed).",
}


def refusal_text(kind: str) -> str:
    return REFUSALS.get(kind, REFUSALS["not_found"])


def win_confirmed_text() -> str:
    return "Confirmed: the win is celebrated in the channel."


# -- the thread message --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenEntry:
    user_id: str
    name: str | None  # as the workspace shows them (None: Slack did not say; they are mentioned)
    side: Side
    answer: str
    need: str | None = None
    win: str | None = None
    draft_win_id: int | None = None  # a draft a lead may still confirm


@dataclass(frozen=True)
class Summary:
    prompt_text: str
    entries: tuple[WrittenEntry, ...]
    not_answered: int


def _chunks(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at a line break or space where possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut < limit // 2:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip()
    pieces.append(text)
    return pieces


def _entry_blocks(e: WrittenEntry) -> list[Block]:
    who = f"*{escape(e.name)}*" if e.name else f"<@{e.user_id}>"
    lines = [f"{who}: {escape(e.answer)}"]
    if e.need:
        lines.append(f"_Needs from {other_side(e.side)}:_ {escape(e.need)}")
    if e.win:
        status = " (draft: a lead confirms it)" if e.draft_win_id is not None else ""
        lines.append(f"_A win to share{status}:_ {escape(e.win)}")
    pieces = _chunks("\n".join(lines), SECTION_MAX - 20)
    blocks: list[Block] = [
        _section(piece if i == 0 else f"_(continued)_ {piece}") for i, piece in enumerate(pieces)
    ]
    if e.draft_win_id is not None:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Confirm win",
                        action_id=ids.ACTION_WRITTEN_CONFIRM_WIN,
                        value=str(e.draft_win_id),
                    )
                ]
            )
        )
    return blocks


def _size(block: Block) -> int:
    return len(json.dumps(block.to_dict()))


def build_summary(s: Summary) -> list[tuple[str, list[Block]]]:
    """The check-in thread's "Marketing said / IT said" message: each side's answers grouped and named,
    then how many have not answered (a count, never who). Split into several messages when long (each
    within Slack's 50 blocks and total size, no answer shortened); nobody answered is one line."""
    missing = (
        f"{s.not_answered} {'has' if s.not_answered == 1 else 'have'} not answered."
        if s.not_answered
        else "Everyone answered."
    )
    if not s.entries:
        line = f"No written answers before this check-in: {missing}"
        return [(line, [_section(line)])]
    blocks: list[Block] = [
        _section("*Written answers before this check-in*"),
        _context(f"The question: {escape(truncate(s.prompt_text, 2800))}"),
    ]
    for side in (Side.MARKETING, Side.IT):
        mine = [e for e in s.entries if e.side is side]
        if not mine:
            continue
        blocks.append(_section(f"*{side_label(side)} said*"))
        for entry in mine:
            blocks.extend(_entry_blocks(entry))
    blocks.append(_context(missing))
    messages: list[list[Block]] = [[]]
    size = 0
    for block in blocks:
        if messages[-1] and (len(messages[-1]) >= MESSAGE_BLOCKS or size + _size(block) > MESSAGE_CHARS):
            messages.append([])
            size = 0
        messages[-1].append(block)
        size += _size(block)
    sides = " / ".join(f"{side_label(side)} said" for side in (Side.MARKETING, Side.IT))
    text = f"Written answers before this check-in ({sides}). {missing}"
    return [
        (text if i == 0 else f"Written answers, continued ({i + 1} of {len(messages)})", part)
        for i, part in enumerate(messages)
    ]
