"""The `/tandem` slash command and its subcommand router.

Feature modules add subcommands with `router.add(...)`; the router parses the text, hands the rest
to the subcommand, and answers anything it does not know with the help message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from logging import Logger

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import ids
from bot.blocks.help import HelpEntry, build_help, help_text
from bot.middleware import services_of
from bot.services import Services


@dataclass(frozen=True)
class Invocation:
    """One `/tandem <name> <args>` call, with what a subcommand needs to answer it."""

    name: str
    args: str
    command: dict
    ack: Ack
    respond: Respond
    client: WebClient
    context: BoltContext
    logger: Logger

    @property
    def user_id(self) -> str:
        return self.command["user_id"]

    @property
    def channel_id(self) -> str:
        return self.command["channel_id"]

    @property
    def team_id(self) -> str:
        return self.context.team_id or self.command.get("team_id", "")

    @property
    def services(self) -> Services:
        return services_of(self.context)

    def fail(self, problem: str, example: str) -> None:
        """Acknowledge a malformed command: say what was wrong and show a correct example."""
        self.ack(text=f":warning: {problem}\nTry: `{ids.COMMAND} {example}`", response_type="ephemeral")


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
            "prompts",
            "forget-me",
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
        self._help: tuple[str, list[dict]] | None = None

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

    def help_message(self, unknown: str | None = None) -> tuple[str, list[dict]]:
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


def parse(text: str) -> tuple[str, str]:
    """Split `/tandem` text into a lower-cased subcommand and the rest, as typed."""
    text = (text or "").strip()
    if not text:
        return "", ""
    name, _, rest = text.partition(" ")
    return name.lower(), rest.strip()


def register(app: App, router: CommandRouter) -> None:
    def handle_tandem_command(
        ack: Ack, command: dict, client: WebClient, respond: Respond, context: BoltContext, logger: Logger
    ) -> None:
        name, args = parse(command.get("text", ""))
        router.dispatch(Invocation(name, args, command, ack, respond, client, context, logger))

    app.command(ids.COMMAND)(handle_tandem_command)
