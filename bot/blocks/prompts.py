"""`/tandem prompts`: the library by theme, and the workspace's own prompts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.text import escape, truncate
from db.prompt_library import BUILTIN_PROMPTS, Theme

MAX_LISTED = 40  # each custom prompt is one line; 40 lines stay far inside one section's 3,000 characters


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
                    text="Add one: `/tandem prompts add data What one number would change our next campaign?` · "
                    "Remove one: `/tandem prompts remove ws-12`"
                )
            ]
        )
    )
    text = f"Discussion prompts: {len(BUILTIN_PROMPTS)} built in over {len(Theme)} themes, {len(custom)} of your own."
    return text, blocks
