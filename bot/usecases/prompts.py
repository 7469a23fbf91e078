"""A workspace's own discussion prompts: list them, add one, remove one.

Anyone in the workspace may add a prompt; only the person who added it or a workspace admin may
remove it. Prompts are looked up within the requesting workspace only: another workspace's prompt
id is "no such prompt", like an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.blocks.prompts import NewPrompt
from bot.services import Services
from bot.slack_client import pre_ack_deadline
from bot.usecases.access import Actor, is_admin, workspace_id_of
from db import prompts as prompt_db
from db.workspaces import ensure_workspace


@dataclass(frozen=True)
class ListedPrompt:
    key: str
    theme: str
    text: str


def list_prompts(services: Services, actor: Actor) -> list[ListedPrompt]:
    """The workspace's own prompts, oldest first (the built-in library is the builder's to show)."""
    with services.database.read() as session:
        workspace_id = workspace_id_of(session, actor.team_id)
        return [
            ListedPrompt(p.key, p.theme, p.text) for p in prompt_db.workspace_prompts(session, workspace_id)
        ]


def add_prompt(services: Services, actor: Actor, new: NewPrompt) -> str:
    """Add a prompt to the workspace's rotation; returns its key ("ws-12")."""
    with services.database.begin() as session:
        workspace = ensure_workspace(session, actor.team_id)
        prompt = prompt_db.add_prompt(
            session, workspace.id, new.theme, new.text, user_id=actor.user_id, now=services.clock.now()
        )
        return prompt.key


class Removal(StrEnum):
    REMOVED = "removed"
    NOT_FOUND = "not_found"  # unknown, already removed, or another workspace's
    NOT_ALLOWED = "not_allowed"  # someone else's, and the actor is not (or Slack did not say is) an admin


@dataclass(frozen=True)
class RemovedPrompt:
    outcome: Removal
    key: str = ""


def remove_prompt(services: Services, actor: Actor, prompt_id: int) -> RemovedPrompt:
    """Remove one of the workspace's prompts (kept in the database: past check-ins name it)."""
    deadline = pre_ack_deadline()
    with services.database.read() as session:
        prompt = prompt_db.find_prompt(session, workspace_id_of(session, actor.team_id), prompt_id)
        if prompt is None:
            return RemovedPrompt(Removal.NOT_FOUND)
        someone_elses = prompt.created_by != actor.user_id
    # Asked of Slack outside any transaction, and only when the actor did not add it themself.
    if someone_elses and not is_admin(services, actor, deadline=deadline):
        return RemovedPrompt(Removal.NOT_ALLOWED)
    with services.database.begin() as session:
        prompt = prompt_db.find_prompt(session, workspace_id_of(session, actor.team_id), prompt_id)
        if prompt is None:  # removed meanwhile
            return RemovedPrompt(Removal.NOT_FOUND)
        prompt_db.remove_prompt(prompt, now=services.clock.now())
        return RemovedPrompt(Removal.REMOVED, prompt.key)
