"""The `/tandem` slash command and its subcommand router.

Feature modules add subcommands with `router.add(...)`; the router parses the text, hands the rest
to the subcommand, and answers anything it does not know with the help message. Whatever the text
(empty, very long, control characters, any script), the person gets an ephemeral answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from logging import Logger
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import ids
from bot.blocks.help import NO_SENDER, SOMETHING_WENT_WRONG, HelpEntry, build_help, help_text
from bot.middleware import services_of
from bot.services import Services
from bot.usecases.access import Actor


@dataclass(frozen=True)
class Invocation:
    """One `/tandem <name> <args>` call, with what a subcommand needs to answer it."""

    name: str
    args: str
    command: dict[str, Any]
    ack: Ack
    respond: Respond
    context: BoltContext
    logger: Logger
    router: CommandRouter

    @property
    def user_id(self) -> str:
        return str(self.command.get("user_id") or "")

    @property
    def channel_id(self) -> str:
        return str(self.command.get("channel_id") or "")

    @property
    def team_id(self) -> str:
        return self.context.team_id or str(self.command.get("team_id") or "")

    @property
    def trigger_id(self) -> str:
        return str(self.command.get("trigger_id") or "")

    @property
    def actor(self) -> Actor:
        return Actor(self.team_id, self.user_id, self.channel_id)

    @property
    def services(self) -> Services:
        return services_of(self.context)

    @property
    def acknowledged(self) -> bool:
        return self.ack.response is not None

    def answer(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> None:
        """Tell the person, and only them: in the acknowledgement while it has not gone out, else
        through the command's response_url."""
        if not self.acknowledged:
            self.ack(text=text, blocks=blocks, response_type="ephemeral")
        else:
            self.respond(text=text, blocks=blocks, response_type="ephemeral")

    def fail(self, problem: str, example: str) -> None:
        """Answer a malformed command: say what was wrong and show a correct example."""
        self.answer(f":warning: {problem}\nTry: `{ids.COMMAND} {example}`")


SubcommandHandler = Callable[[Invocation], None]

# The order /tandem help lists subcommands in: the ritual's life first, then pulses, then the rest.
HELP_ORDER = {
    name: rank
    for rank, name in enumerate(
        [
            "setup",
            "list",
            "now",
            "edit",
            "pause",
            "resume",
            "skip",
            "delete",
            "pulse",
            "role",
            "reminders",
            "pairing",
            "prompts",
            "forget-me",
            "hours",
            "mentions",
            "help",
        ]
    )
}


@dataclass(frozen=True)
class Subcommand:
    name: str
    entry: HelpEntry
    handler: SubcommandHandler


class CommandRouter:
    def __init__(self) -> None:
        self._subcommands: dict[str, Subcommand] = {}
        self._help: tuple[str, list[dict[str, Any]]] | None = None

    def add(self, name: str, *, usage: str, summary: str, example: str, handler: SubcommandHandler) -> None:
        if name in self._subcommands:
            raise ValueError(f"subcommand {name!r} registered twice")
        self._subcommands[name] = Subcommand(name, HelpEntry(usage, summary, example), handler)
        self._help = None

    @property
    def names(self) -> list[str]:
        return list(self._subcommands)

    def help_entries(self) -> list[HelpEntry]:
        ranked = sorted(self._subcommands.values(), key=lambda s: HELP_ORDER.get(s.name, len(HELP_ORDER)))
        return [s.entry for s in ranked]

    def help_message(self, unknown: str | None = None) -> tuple[str, list[dict[str, Any]]]:
        """The help text and blocks. The plain help is built once: building and validating the
        blocks was most of the CPU time of a `/tandem help` request (bench/README.md)."""
        if unknown is not None:
            entries = self.help_entries()
            return help_text(entries, unknown=unknown), [
                b.to_dict() for b in build_help(entries, unknown=unknown)
            ]
        if self._help is None:
            entries = self.help_entries()
            self._help = (help_text(entries), [b.to_dict() for b in build_help(entries)])
        return self._help

    def dispatch(self, invocation: Invocation) -> None:
        sub = self._subcommands.get(invocation.name)
        if sub is None:
            text, blocks = self.help_message(invocation.name or None)
            invocation.ack(text=text, blocks=blocks, response_type="ephemeral")
            return
        sub.handler(invocation)

    def handle_command(
        self,
        ack: Ack,
        command: dict[str, Any],
        respond: Respond,
        context: BoltContext,
        logger: Logger,
    ) -> None:
        """The `/tandem` listener: one subcommand per call, and an answer whatever happens."""
        if not (_is_slack_id(command.get("user_id")) and _is_slack_id(command.get("channel_id"))):
            ack(text=NO_SENDER, response_type="ephemeral")
            return
        name, args = parse(command.get("text"))
        invocation = Invocation(name, args, command, ack, respond, context, logger, self)
        try:
            self.dispatch(invocation)
        except Exception:
            if invocation.acknowledged:
                raise  # the global error handler tells the person (bot/listeners/errors.py)
            # Unacknowledged, Bolt would answer HTTP 500 and Slack show a bare failure: say it here.
            logger.exception("/tandem %s failed before it was acknowledged", name[:40])
            ack(text=SOMETHING_WENT_WRONG, response_type="ephemeral")


def _is_slack_id(value: object) -> bool:
    """Slack's ids (U…, C…, D…) are short printable ASCII: anything else in a command's fields was
    not written by Slack, and would not fit Tandem's columns (32 characters) either."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 32
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


def parse(text: object) -> tuple[str, str]:
    """Split `/tandem` text into a lower-cased subcommand and the rest, as typed (any whitespace
    separates them; anything that is not text is no text)."""
    if not isinstance(text, str):
        return "", ""
    parts = text.split(None, 1)
    if not parts:
        return "", ""
    return parts[0].lower(), parts[1].strip() if len(parts) > 1 else ""


def register(app: App, router: CommandRouter) -> None:
    app.command(ids.COMMAND)(router.handle_command)
