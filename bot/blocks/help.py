"""The `/tandem help` message, and what Tandem says when something went wrong on its side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import ids
from bot.blocks.text import escape, truncate

# The failure may come after the ack and after part of the work was saved, so promise nothing
# about what changed: ask the person to look before repeating it.
SOMETHING_WENT_WRONG = (
    ":warning: Sorry, something went wrong on Tandem's side and your request may not have been "
    "completed. Please check whether it took effect before trying again; if it keeps happening, "
    "tell your Slack admin."
)
# A command whose user or channel field is not a Slack id (a tampered request).
NO_SENDER = (
    ":warning: This command did not say which Slack user and channel it came from, so Tandem did nothing."
)
# An unknown subcommand is quoted back, cut to this many characters (it may be anything at all).
UNKNOWN_SHOWN = 60


@dataclass(frozen=True)
class HelpEntry:
    """One subcommand as the help message shows it."""

    usage: str  # e.g. "pause [ritual]"
    summary: str
    example: str  # full example after the command, e.g. "pause Weekly sync"


def help_text(entries: Sequence[HelpEntry], *, unknown: str | None = None) -> str:
    """The plain-text fallback, also what screen readers and notifications show."""
    lines = []
    if unknown is not None:
        lines.append(
            f"I don't know the subcommand “{truncate(unknown, UNKNOWN_SHOWN)}”. Here is what I can do:"
        )
    else:
        lines.append("Tandem keeps marketing and IT working as partners. Here is what I can do:")
    for e in entries:
        lines.append(f"{ids.COMMAND} {e.usage}: {e.summary} (e.g. {ids.COMMAND} {e.example})")
    return "\n".join(lines)


def build_help(entries: Sequence[HelpEntry], *, unknown: str | None = None) -> list[Block]:
    """Every subcommand with a one-line example; `unknown` is the subcommand that was not understood."""
    if unknown is not None:
        intro = f":thinking_face: I don't know the subcommand `{escape(unknown[:UNKNOWN_SHOWN])}`. Here is what I can do:"
    else:
        intro = (
            ":handshake: *Tandem* keeps marketing and IT working as partners: joint check-ins, "
            "discussion prompts, pulse ratings from both sides and shared wins. Here is what I can do:"
        )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=intro))]
    # Ten subcommands to a section keeps every section far below the 3,000-character limit.
    for start in range(0, len(entries), 10):
        chunk = entries[start : start + 10]
        text = "\n".join(
            f"• `{ids.COMMAND} {escape(e.usage)}`: {escape(e.summary)}\n"
            f"      _e.g._ `{ids.COMMAND} {escape(e.example)}`"
            for e in chunk
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Only you can see this message.")]))
    blocks.append(
        ActionsBlock(
            block_id=ids.BLOCK_HELP_ACTIONS,
            elements=[ButtonElement(text="Got it", action_id=ids.ACTION_HELP_DISMISS, value="dismiss")],
        )
    )
    return blocks
