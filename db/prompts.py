"""A workspace's own prompts: add, find, remove, list. Plain values in; nothing here knows Slack.

Every lookup is scoped to a workspace: another workspace's prompt is simply not there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import CustomPrompt
from db.prompt_library import Theme


def add_prompt(
    session: Session, workspace_id: int, theme: Theme, text: str, *, user_id: str, now: dt.datetime
) -> CustomPrompt:
    """Store a prompt (its text already checked: bot.blocks.prompts.parse_new_prompt)."""
    prompt = CustomPrompt(
        workspace_id=workspace_id, theme=theme.value, text=text, created_by=user_id, created_at=now
    )
    session.add(prompt)
    session.flush()
    return prompt


def find_prompt(session: Session, workspace_id: int, prompt_id: int) -> CustomPrompt | None:
    """The workspace's prompt with this id, unless it was removed."""
    return session.scalars(
        select(CustomPrompt).where(
            CustomPrompt.id == prompt_id,
            CustomPrompt.workspace_id == workspace_id,
            CustomPrompt.removed_at.is_(None),
        )
    ).one_or_none()


def remove_prompt(prompt: CustomPrompt, *, now: dt.datetime) -> None:
    # Kept, not deleted: past check-ins still name the prompt they asked.
    prompt.removed_at = now


def workspace_prompts(session: Session, workspace_id: int) -> list[CustomPrompt]:
    return list(
        session.scalars(
            select(CustomPrompt)
            .where(CustomPrompt.workspace_id == workspace_id, CustomPrompt.removed_at.is_(None))
            .order_by(CustomPrompt.id)
        )
    )


def workspace_prompts_of(session: Session, workspace_ids: Sequence[int]) -> list[CustomPrompt]:
    """`workspace_prompts` of many workspaces in one query (the scheduler's batches)."""
    if not workspace_ids:
        return []
    return list(
        session.scalars(
            select(CustomPrompt)
            .where(CustomPrompt.workspace_id.in_(list(workspace_ids)), CustomPrompt.removed_at.is_(None))
            .order_by(CustomPrompt.id)
        )
    )
