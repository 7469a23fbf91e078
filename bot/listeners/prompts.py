"""`/tandem prompts`, `/tandem prompts add <theme> <text>`, `/tandem prompts remove <id>`."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.prompts import (
    ADD_EXAMPLE,
    NOT_YOURS_TEXT,
    REMOVE_EXAMPLE,
    PromptInputError,
    added_text,
    build_prompt_list,
    no_such_prompt_text,
    parse_new_prompt,
    parse_prompt_id,
    removed_text,
    unknown_action_text,
)
from bot.listeners.commands import CommandRouter, Invocation, parse
from bot.usecases import prompts
from bot.usecases.prompts import Removal


def handle_list(inv: Invocation) -> None:
    listed = prompts.list_prompts(inv.services, inv.actor)
    text, blocks = build_prompt_list([(p.key, p.theme, p.text) for p in listed])
    inv.answer(text, [b.to_dict() for b in blocks])


def handle_add(inv: Invocation, args: str) -> None:
    try:
        new = parse_new_prompt(args)
    except PromptInputError as exc:
        inv.fail(str(exc), ADD_EXAMPLE)
        return
    key = prompts.add_prompt(inv.services, inv.actor, new)
    inv.answer(added_text(key, new.theme))


def handle_remove(inv: Invocation, args: str) -> None:
    try:
        prompt_id = parse_prompt_id(args)
    except PromptInputError as exc:
        inv.fail(str(exc), REMOVE_EXAMPLE)
        return
    removed = prompts.remove_prompt(inv.services, inv.actor, prompt_id)
    if removed.outcome is Removal.REMOVED:
        inv.answer(removed_text(removed.key))
    elif removed.outcome is Removal.NOT_ALLOWED:
        inv.answer(NOT_YOURS_TEXT)
    else:
        inv.fail(no_such_prompt_text(prompt_id), REMOVE_EXAMPLE)


def handle_prompts(inv: Invocation) -> None:
    action, rest = parse(inv.args)
    if action in ("", "list"):
        handle_list(inv)
    elif action == "add":
        handle_add(inv, rest)
    elif action == "remove":
        handle_remove(inv, rest)
    else:
        inv.fail(unknown_action_text(action), ADD_EXAMPLE)


def register(app: App, router: CommandRouter) -> None:
    router.add(
        "prompts",
        usage="prompts [add <theme> <text> | remove <id>]",
        summary="list the discussion prompts, or add and remove your own",
        example=ADD_EXAMPLE,
        handler=handle_prompts,
    )
