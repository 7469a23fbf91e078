"""Workflow Builder custom steps: start a pulse, celebrate a shared win, add a commitment.

Each step runs the same use case as its slash command or modal (`pulses.start_pulse`,
`wins.save_win` + `wins.celebrate_win`, `commitments.save_commitment` + `confirm_commitment`), as
the person running the workflow, then completes the step with its outputs or fails it with the
sentence that person would have read in Slack (`functions.completeSuccess` / `completeError`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.blocks.channels import channel_problem_text
from bot.blocks.commitments import commitment_refusal_text
from bot.blocks.rituals import refusal_text
from bot.blocks.wins import parse_win_state, win_modal_error
from bot.blocks.workflow_steps import StepInputError, StepInputs, form_errors_text, step_failed_text
from bot.messenger import DeliveryError
from bot.services import Services
from bot.usecases import commitments, pulses, wins
from bot.usecases.access import Actor, Refused
from bot.usecases.channels import ChannelRefused
from bot.usecases.submissions import AlreadySaved, Submission

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Execution:
    """One run of a step, as Slack's `function_executed` event names it."""

    team_id: str
    execution_id: str
    token: str | None  # the execution's own token (Slack sends one with each run)

    def submission(self) -> Submission:
        """Slack may deliver one execution's event twice: like a modal seen twice, it saves once."""
        return Submission(view_id=self.execution_id, view_hash="function_executed")


@dataclass(frozen=True)
class StepOutcome:
    """What the step told Workflow Builder: its outputs, or its error."""

    outputs: dict[str, Any] | None = None
    error: str | None = None
    delivered: bool = True  # False when Slack did not take the completion


def start_pulse(services: Services, run: Execution, parsed: StepInputs | StepInputError) -> StepOutcome:
    """ "Start a Tandem pulse" for a ritual named in the workspace, as `/tandem pulse NAME` does."""
    if isinstance(parsed, StepInputError):
        return _fail(services, run, parsed.message)
    actor = Actor(run.team_id, parsed.runner)
    outcome = pulses.start_pulse(services, actor, parsed.ritual, example=parsed.ritual)
    if isinstance(outcome, Refused):
        return _fail(
            services, run, refusal_text(outcome.kind, detail=outcome.detail, ritual_name=outcome.ritual_name)
        )
    if outcome.status is pulses.StartStatus.PAUSED:
        return _fail(services, run, f"“{outcome.ritual_name}” is paused: resume it first (/tandem resume).")
    return _complete(services, run, {"ritual": outcome.ritual_name})


def celebrate_win(services: Services, run: Execution, parsed: StepInputs | StepInputError) -> StepOutcome:
    """ "Celebrate a shared win", checked and posted as the win modal's submission is."""
    if isinstance(parsed, StepInputError):
        return _fail(services, run, parsed.message)
    form, errors = parse_win_state(parsed.state or {})
    if errors:
        return _fail(services, run, form_errors_text(errors))
    actor = Actor(run.team_id, parsed.runner)
    saved = wins.save_win(services, actor, form, None, run.submission())
    if isinstance(saved, wins.WinRefused):
        return _fail(services, run, win_modal_error(saved.kind))
    if isinstance(saved, ChannelRefused):
        return _fail(services, run, channel_problem_text(saved.problem, saved.code))
    if isinstance(saved, AlreadySaved):
        return StepOutcome()  # the first delivery of this execution completed the step
    wins.celebrate_win(services, actor, saved)
    return _complete(services, run, {"win_id": str(saved.info.id)})


def add_commitment(services: Services, run: Execution, parsed: StepInputs | StepInputError) -> StepOutcome:
    """ "Add a commitment", checked and confirmed as the commitment modal's submission is."""
    if isinstance(parsed, StepInputError):
        return _fail(services, run, parsed.message)
    actor = Actor(run.team_id, parsed.runner)
    saved = commitments.save_commitment(services, actor, parsed.state or {}, None, run.submission())
    if isinstance(saved, commitments.ModalErrors):
        return _fail(services, run, form_errors_text(saved.errors))
    if isinstance(saved, commitments.CommitmentRefused):
        return _fail(services, run, commitment_refusal_text(saved.kind, status=saved.status))
    if isinstance(saved, AlreadySaved):
        return StepOutcome()  # the first delivery of this execution completed the step
    commitments.confirm_commitment(services, actor, saved)
    return _complete(services, run, {"commitment_id": str(saved.info.id)})


def _complete(services: Services, run: Execution, outputs: dict[str, Any]) -> StepOutcome:
    try:
        services.messenger.complete_step(run.team_id, run.execution_id, outputs=outputs, token=run.token)
    except DeliveryError as exc:
        log.warning("Slack did not take the completion of step %s: %s", run.execution_id, exc.reason)
        return StepOutcome(outputs=outputs, delivered=False)
    return StepOutcome(outputs=outputs)


def _fail(services: Services, run: Execution, reason: str) -> StepOutcome:
    error = step_failed_text(reason)
    try:
        services.messenger.fail_step(run.team_id, run.execution_id, error=error, token=run.token)
    except DeliveryError as exc:
        log.warning("Slack did not take the failure of step %s: %s", run.execution_id, exc.reason)
        return StepOutcome(error=error, delivered=False)
    return StepOutcome(error=error)
