"""`/tandem prompts`, `/tandem prompts add <theme> <text>`, `/tandem prompts remove <id>`."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.prompts import build_prompt_list
from bot.listeners.commands import CommandRouter, Invocation
from bot.listeners.rituals import is_admin
from db.models import CustomPrompt
from db.prompts import PromptError, add_prompt, parse_prompt_id, remove_prompt, workspace_prompts
from db.workspaces import ensure_workspace

ADD_EXAMPLE = "prompts add data What one number would change our next campaign?"


def register(app: App, router: CommandRouter) -> None:
    def handle_prompts(inv: Invocation) -> None:
        action, _, rest = inv.args.partition(" ")
        action = action.lower()
        services = inv.services
        now = services.clock.now()
        admin: bool | None = False
        if action == "remove":
            # Whether the caller is an admin is asked of Slack before the write transaction, and only
            # when they did not add the prompt themselves.
            try:
                prompt_id = parse_prompt_id(rest)
            except PromptError as exc:
                inv.fail(str(exc), "prompts remove ws-12")
                return
            with services.database.read() as session:
                existing = session.get(CustomPrompt, prompt_id)
                someone_elses = existing is not None and existing.created_by != inv.user_id
            if someone_elses:
                admin = is_admin(inv.client, inv.user_id)
        with services.database.begin() as session:
            workspace = ensure_workspace(session, inv.team_id)
            if action in ("", "list"):
                custom = [(p.key, p.theme, p.text) for p in workspace_prompts(session, workspace.id)]
                text, blocks = build_prompt_list(custom)
                inv.ack(text=text, blocks=blocks, response_type="ephemeral")
                return
            if action == "add":
                theme, _, prompt_text = rest.strip().partition(" ")
                if not theme or not prompt_text.strip():
                    inv.fail("Give a theme and the prompt's text.", ADD_EXAMPLE)
                    return
                try:
                    prompt = add_prompt(
                        session, workspace.id, theme, prompt_text, user_id=inv.user_id, now=now
                    )
                except PromptError as exc:
                    inv.fail(str(exc), ADD_EXAMPLE)
                    return
                inv.ack(
                    text=f":white_check_mark: Added prompt `{prompt.key}` to the “{prompt.theme}” theme. "
                    "Rituals with that theme will draw it in their rotation.",
                    response_type="ephemeral",
                )
                return
            if action == "remove":
                try:
                    existing = session.get(CustomPrompt, prompt_id)
                    if (
                        existing is not None
                        and existing.workspace_id == workspace.id
                        and existing.created_by != inv.user_id
                        and not admin
                    ):
                        inv.ack(
                            text=":no_entry: Only the person who added this prompt or a workspace admin can remove it.",
                            response_type="ephemeral",
                        )
                        return
                    prompt = remove_prompt(session, workspace.id, prompt_id, now=now)
                except PromptError as exc:
                    inv.fail(str(exc), "prompts remove ws-12")
                    return
                inv.ack(text=f":wastebasket: Removed prompt `{prompt.key}`.", response_type="ephemeral")
                return
        inv.fail(f"I don't know `prompts {action}`.", ADD_EXAMPLE)

    router.add(
        "prompts",
        usage="prompts [add <theme> <text> | remove <id>]",
        summary="list the discussion prompts, or add and remove your own",
        example=ADD_EXAMPLE,
        handler=handle_prompts,
    )
