"""A workspace's own prompts: add, remove, list. Plain values in; nothing here knows Slack."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import CustomPrompt
from db.prompt_library import MAX_TEXT_LENGTH, Theme, parse_theme

MIN_TEXT_LENGTH = 10


class PromptError(Exception):
    """A user-facing problem with a prompt command; the message is shown as is."""


def add_prompt(
    session: Session, workspace_id: int, theme_text: str, text: str, *, user_id: str, now: dt.datetime
) -> CustomPrompt:
    try:
        theme = parse_theme(theme_text)
    except ValueError as exc:
        raise PromptError(str(exc)) from None
    text = " ".join(text.split())
    if len(text) < MIN_TEXT_LENGTH:
        raise PromptError("Write the prompt as a question of at least a few words.")
    if len(text) > MAX_TEXT_LENGTH:
        raise PromptError(f"That prompt has {len(text)} characters; keep it to {MAX_TEXT_LENGTH}.")
    prompt = CustomPrompt(
        workspace_id=workspace_id, theme=theme.value, text=text, created_by=user_id, created_at=now
    )
    session.add(prompt)
    session.flush()
    return prompt


def parse_prompt_id(text: str) -> int:
    cleaned = text.strip().lower().removeprefix("ws-")
    if not cleaned.isdigit():
        raise PromptError(
            f"“{text.strip()}” is not a prompt id. Ids look like ws-12 (see `/tandem prompts`)."
        )
    return int(cleaned)


def remove_prompt(session: Session, workspace_id: int, prompt_id: int, *, now: dt.datetime) -> CustomPrompt:
    prompt = session.scalars(
        select(CustomPrompt).where(
            CustomPrompt.id == prompt_id,
            CustomPrompt.workspace_id == workspace_id,
            CustomPrompt.removed_at.is_(None),
        )
    ).one_or_none()
    if prompt is None:
        raise PromptError(
            f"There is no prompt ws-{prompt_id} in this workspace. See them with `/tandem prompts`."
        )
    # Kept, not deleted: past check-ins still name the prompt they asked.
    prompt.removed_at = now
    return prompt


def workspace_prompts(session: Session, workspace_id: int) -> list[CustomPrompt]:
    return list(
        session.scalars(
            select(CustomPrompt)
            .where(CustomPrompt.workspace_id == workspace_id, CustomPrompt.removed_at.is_(None))
            .order_by(CustomPrompt.id)
        )
    )


__all__ = ["PromptError", "Theme", "add_prompt", "parse_prompt_id", "remove_prompt", "workspace_prompts"]
