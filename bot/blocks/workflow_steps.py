"""Workflow Builder custom steps: their inputs read into the forms the modals use, and their errors.

A step's inputs come from Workflow Builder, typed by the manifest (bot/manifest.py WORKFLOW_STEPS),
but a workflow's author can wire anything into them: each is checked here, by the same parsers as
the modals (the step's inputs are laid out as the modal's state), so a step and a modal accept and
refuse the same things, with the same words. An error is one plain sentence Workflow Builder shows
to whoever runs the workflow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot import ids
from bot.blocks.commitments import is_user_id

# The input every step takes: the person running the workflow, whose rights the step uses.
RUNNER = "user"


@dataclass(frozen=True)
class StepInputs:
    """A step's checked runner and its remaining inputs (in the modal's state shape where it has one)."""

    runner: str
    ritual: str = ""
    state: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StepInputError:
    message: str


def _runner(inputs: Mapping[str, Any]) -> str | StepInputError:
    runner = inputs.get(RUNNER)
    if not is_user_id(runner):
        return StepInputError("Set the step's “Person running the workflow” to the person who runs it.")
    assert isinstance(runner, str)
    return runner


def _text(inputs: Mapping[str, Any], key: str) -> str:
    value = inputs.get(key)
    return value if isinstance(value, str) else ""


def _people(inputs: Mapping[str, Any], key: str) -> list[Any]:
    value = inputs.get(key)
    if isinstance(value, str):
        return [value]
    return value if isinstance(value, list) else []


def parse_pulse_step(inputs: Mapping[str, Any]) -> StepInputs | StepInputError:
    runner = _runner(inputs)
    if isinstance(runner, StepInputError):
        return runner
    ritual = _text(inputs, "ritual").strip()
    if not ritual:
        return StepInputError("Name the ritual to start a pulse for, for example “Weekly sync”.")
    return StepInputs(runner, ritual=ritual)


def parse_win_step(inputs: Mapping[str, Any]) -> StepInputs | StepInputError:
    """The win modal's state from the step's inputs (read it with `bot.blocks.wins.parse_win_state`)."""
    runner = _runner(inputs)
    if isinstance(runner, StepInputError):
        return runner
    state = {
        ids.BLOCK_WIN_WHAT: {
            ids.ACTION_WIN_WHAT: {"type": "plain_text_input", "value": _text(inputs, "text")}
        },
        ids.BLOCK_WIN_MARKETING: {
            ids.ACTION_WIN_MARKETING: {
                "type": "multi_users_select",
                "selected_users": _people(inputs, "marketing"),
            }
        },
        ids.BLOCK_WIN_IT: {
            ids.ACTION_WIN_IT: {"type": "multi_users_select", "selected_users": _people(inputs, "it")}
        },
        ids.BLOCK_WIN_CHANNEL: {
            ids.ACTION_WIN_CHANNEL: {
                "type": "conversations_select",
                "selected_conversation": _text(inputs, "channel") or None,
            }
        },
    }
    return StepInputs(runner, state=state)


def parse_commitment_step(inputs: Mapping[str, Any]) -> StepInputs | StepInputError:
    """The commitment modal's state from the step's inputs (`save_commitment` reads it)."""
    runner = _runner(inputs)
    if isinstance(runner, StepInputError):
        return runner
    state = {
        ids.BLOCK_COMMIT_WHAT: {
            ids.ACTION_COMMIT_WHAT: {"type": "plain_text_input", "value": _text(inputs, "text")}
        },
        ids.BLOCK_COMMIT_MARKETING: {
            ids.ACTION_COMMIT_MARKETING: {
                "type": "users_select",
                "selected_user": _text(inputs, "marketing_owner") or None,
            }
        },
        ids.BLOCK_COMMIT_IT: {
            ids.ACTION_COMMIT_IT: {"type": "users_select", "selected_user": _text(inputs, "it_owner") or None}
        },
        ids.BLOCK_COMMIT_DUE: {
            ids.ACTION_COMMIT_DUE: {"type": "datepicker", "selected_date": _text(inputs, "due") or None}
        },
    }
    return StepInputs(runner, state=state)


def form_errors_text(errors: Mapping[str, str]) -> str:
    """A modal's inline errors, as the one sentence a failed step shows."""
    return " ".join(errors.values())


def step_failed_text(reason: str) -> str:
    """The error a failed step shows; a leading emoji code of a chat answer is dropped (plain text)."""
    return "Tandem could not finish this step: " + re.sub(r"^:[a-z_]+:\s*", "", reason)
