"""`/tandem prompts`: the library by theme and the workspace's own prompts, the parsers of
`prompts add <theme> <text>` and `prompts remove <id>`, and the answers to them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.text import escape, truncate
from bot.ids import parse_row_id
from db.prompt_library import BUILTIN_PROMPTS, MAX_TEXT_LENGTH, Theme, parse_theme

MAX_LISTED = 40  # each custom prompt is one line; 40 lines stay far inside one section's 3,000 characters
ADD_EXAMPLE: Final = "prompts add data What one number would change our next campaign?"
REMOVE_EXAMPLE: Final = "prompts remove ws-12"
MIN_TEXT_LENGTH: Final = 10
KEY_PREFIX: Final = "ws-"  # a workspace prompt's key is "ws-<id>" (db.models.CustomPrompt.key)
_QUOTED = 40  # what a person typed is quoted back cut to this many characters


# -- parsing ---------------------------------------------------------------------------------------


class PromptInputError(ValueError):
    """What was typed after `/tandem prompts` made no sense; the message says why, for Slack."""


@dataclass(frozen=True)
class NewPrompt:
    theme: Theme
    text: str  # whitespace collapsed, MIN_TEXT_LENGTH to MAX_TEXT_LENGTH characters


def parse_new_prompt(args: str) -> NewPrompt:
    """`<theme> <text>`: the theme's slug (or the first word of its title), then the question."""
    theme_text, _, text = " ".join(args.split()).partition(" ")
    if not theme_text or not text:
        raise PromptInputError("Give a theme and the prompt's text.")
    try:
        theme = parse_theme(truncate(theme_text, _QUOTED))
    except ValueError as exc:
        raise PromptInputError(str(exc)) from None
    if not text.isprintable():
        # Control and invisible formatting characters (a NUL would not even store on PostgreSQL).
        raise PromptInputError("Write the prompt as plain text, without control characters.")
    if len(text) < MIN_TEXT_LENGTH:
        raise PromptInputError("Write the prompt as a question of at least a few words.")
    if len(text) > MAX_TEXT_LENGTH:
        raise PromptInputError(f"That prompt has {len(text)} characters; keep it to {MAX_TEXT_LENGTH}.")
    return NewPrompt(theme, text)


def parse_prompt_id(args: str) -> int:
    """A prompt's id from `ws-12` or `12`, bounded like every row id (bot.ids.parse_row_id)."""
    words = args.split()
    prompt_id = parse_row_id(words[0].lower().removeprefix(KEY_PREFIX)) if len(words) == 1 else None
    if prompt_id is None:
        shown = escape(truncate(" ".join(words), _QUOTED))
        raise PromptInputError(f"“{shown}” is not a prompt id. Ids look like ws-12 (see `/tandem prompts`).")
    return prompt_id


# -- answers ---------------------------------------------------------------------------------------


def unknown_action_text(action: str) -> str:
    return f"I don't know `prompts {escape(truncate(action, _QUOTED))}`."


def added_text(key: str, theme: Theme) -> str:
    return (
        f":white_check_mark: Added prompt `{key}` to the “{theme.value}” theme. "
        "Rituals with that theme will draw it in their rotation."
    )


def removed_text(key: str) -> str:
    return f":wastebasket: Removed prompt `{key}`."


def no_such_prompt_text(prompt_id: int) -> str:
    return f"There is no prompt {KEY_PREFIX}{prompt_id} in this workspace. See them with `/tandem prompts`."


NOT_YOURS_TEXT: Final = ":no_entry: Only the person who added this prompt or a workspace admin can remove it."


def build_prompt_list(custom: Sequence[tuple[str, str, str]]) -> tuple[str, list[Block]]:
    """`custom` is (key, theme slug, text) of the workspace's own prompts."""
    counts = Counter(p.theme for p in BUILTIN_PROMPTS)
    themes = "\n".join(f"• `{t.value}`: {t.label} ({counts[t]} prompts)" for t in Theme)
    blocks: list[Block] = [
        HeaderBlock(text="Discussion prompts"),
        SectionBlock(text=MarkdownTextObject(text=f"*Built-in themes*\n{themes}")),
    ]
    if custom:
        lines = [
            f"• `{key}` ({escape(theme)}): {escape(truncate(text, 120))}"
            for key, theme, text in custom[:MAX_LISTED]
        ]
        if len(custom) > MAX_LISTED:
            lines.append(f"…and {len(custom) - MAX_LISTED} more")
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text="*Your workspace's prompts*\n" + "\n".join(lines)))
        )
    else:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text="Your workspace has no prompts of its own yet."))
        )
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Add one: `/tandem {ADD_EXAMPLE}` · Remove one: `/tandem {REMOVE_EXAMPLE}`"
                )
            ]
        )
    )
    text = f"Discussion prompts: {len(BUILTIN_PROMPTS)} built in over {len(Theme)} themes, {len(custom)} of your own."
    return text, blocks
