"""Workflow Builder custom steps (declared with `tandem manifest --workflow-steps`).

Bolt acknowledges each `function_executed` event itself; the handler reads the step's inputs with
the parser beside the builders (`bot.blocks.workflow_steps`) and hands them to the step's use case,
which completes or fails the step.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot import ids
from bot.blocks.workflow_steps import parse_commitment_step, parse_pulse_step, parse_win_step
from bot.middleware import services_of
from bot.usecases import workflow_steps
from bot.usecases.workflow_steps import Execution


def _execution(event: dict[str, Any], context: BoltContext) -> Execution:
    return Execution(
        team_id=context.team_id or "",
        execution_id=str(event.get("function_execution_id") or ""),
        token=context.function_bot_access_token,
    )


def handle_start_pulse(event: dict[str, Any], inputs: dict[str, Any], context: BoltContext) -> None:
    workflow_steps.start_pulse(services_of(context), _execution(event, context), parse_pulse_step(inputs))


def handle_celebrate_win(event: dict[str, Any], inputs: dict[str, Any], context: BoltContext) -> None:
    workflow_steps.celebrate_win(services_of(context), _execution(event, context), parse_win_step(inputs))


def handle_add_commitment(event: dict[str, Any], inputs: dict[str, Any], context: BoltContext) -> None:
    workflow_steps.add_commitment(
        services_of(context), _execution(event, context), parse_commitment_step(inputs)
    )


def register(app: App) -> None:
    app.function(ids.FUNCTION_START_PULSE)(handle_start_pulse)
    app.function(ids.FUNCTION_CELEBRATE_WIN)(handle_celebrate_win)
    app.function(ids.FUNCTION_ADD_COMMITMENT)(handle_add_commitment)
