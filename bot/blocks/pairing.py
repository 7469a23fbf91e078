"""Cross-team one-to-ones: the introduction, the nudge, and the lines the agenda, Home tab and
report show about them; and the parser of the buttons' values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import ids
from bot.blocks.checkin import AgendaSection
from bot.blocks.text import escape, truncate
from db.models import PairingStatus, Side

# What each round's one-to-ones are for (keys: db.pairing.PURPOSES), in the words the articles use.
PURPOSE_LABELS: Final[dict[str, str]] = {
    "goals": "Get to know each other's goals",
    "show": "Show me your campaign / your stack (cross-training)",
    "data": "A data question I can't answer alone",
    "shadow": "Shadow each other for an hour",
}


def purpose_label(key: str) -> str:
    return PURPOSE_LABELS.get(key, key)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _date(day: dt.datetime) -> str:
    return f"{day:%A} {day.day} {day:%B}"


@dataclass(frozen=True)
class IntroPerson:
    user_id: str
    side: Side
    title: str = ""  # Slack profile title, when they set one


@dataclass(frozen=True)
class Intro:
    pairing_id: int
    ritual_name: str
    people: tuple[IntroPerson, ...]
    purpose: str
    prompt: str
    ends_local: dt.datetime  # the round's end, in the ritual's timezone


def _who(person: IntroPerson) -> str:
    title = f", {escape(truncate(person.title, 100))}" if person.title.strip() else ""
    return f"• <@{person.user_id}> ({person.side.label}{title})"


def _buttons(pairing_id: int) -> ActionsBlock:
    return ActionsBlock(
        block_id=ids.BLOCK_PAIRING_ACTIONS,
        elements=[
            ButtonElement(
                text="We met", action_id=ids.ACTION_PAIRING_MET, value=str(pairing_id), style="primary"
            ),
            ButtonElement(text="Skip this round", action_id=ids.ACTION_PAIRING_SKIP, value=str(pairing_id)),
        ],
    )


def build_intro(intro: Intro, *, answered: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The group DM that introduces a pair (or trio): who they are, why they meet, a prompt, buttons.

    `answered` (a line such as "<@U1> marked this one-to-one as met") replaces the buttons once
    someone answered.
    """
    names = " and ".join(f"<@{p.user_id}>" for p in intro.people)
    purpose = purpose_label(intro.purpose)
    text = f"One-to-one: {names}. Purpose: {purpose}."
    blocks: list[Block] = [
        HeaderBlock(text="Your marketing + IT one-to-one"),
        _section(
            f"Meet each other for 30 minutes before {_date(intro.ends_local)}, as part of "
            f"*{escape(truncate(intro.ritual_name, 80))}*:\n" + "\n".join(_who(p) for p in intro.people)
        ),
        _section(f"*Purpose:* {escape(purpose)}\n*To start you off:* {escape(intro.prompt)}"),
    ]
    if answered:
        blocks.append(_context(answered))
    else:
        blocks.append(_buttons(intro.pairing_id))
        blocks.append(
            _context("Away this round? *Skip this round*, and you can be paired again later in the cycle.")
        )
    return text, [b.to_dict() for b in blocks]


def answered_line(user_id: str, status: PairingStatus) -> str:
    if status is PairingStatus.MET:
        return f":white_check_mark: <@{user_id}> marked this one-to-one as met. Thank you!"
    return f":fast_forward: <@{user_id}> skipped this round. You may be paired again later."


def build_nudge(pairing_id: int, partners: Sequence[str], purpose: str) -> tuple[str, list[dict[str, Any]]]:
    """The one reminder, halfway through the round, to someone whose pair has not answered."""
    names = " and ".join(f"<@{u}>" for u in partners) or "your partner"
    text = f"Halfway through the round: have you met {names} yet?"
    blocks: list[Block] = [
        _section(f"{text}\n*Purpose:* {escape(purpose_label(purpose))}"),
        _buttons(pairing_id),
    ]
    return text, [b.to_dict() for b in blocks]


def pairing_button_id(value: object) -> int | None:
    """The pairing id of a "We met" / "Skip this round" button (None for anything else)."""
    return ids.parse_row_id(value)


def answer_text(kind: str) -> str:
    """What a person is told after clicking, when it is not shown in the message itself."""
    return {
        "met": "Thanks: your one-to-one is marked as met.",
        "skipped": "Done: you skipped this round.",
        "not_found": "That one-to-one no longer exists.",
        "not_member": "Only the people in this one-to-one can answer for it.",
        "over": "That round is over; the next round brings a new one-to-one.",
    }.get(kind, "Something went wrong.")


def pairing_setting_text(enabled: bool | None) -> str:
    if enabled is None:
        return f"Say `{ids.COMMAND} pairing on` or `{ids.COMMAND} pairing off`."
    if enabled:
        return "You're in: you will be paired for cross-team one-to-ones again."
    return (
        "You're out of cross-team one-to-ones: no new pairings, and no nudges. "
        f"`{ids.COMMAND} pairing on` brings you back."
    )


def parse_pairing_args(args: str) -> bool | None:
    word = args.strip().lower()
    return {"on": True, "off": False}.get(word)


def pairing_agenda_section(pairs: int, met: int) -> AgendaSection | None:
    """The check-in's line about the round that is ending: "one-to-ones this round: 4 of 6 pairs met"."""
    if pairs <= 0:
        return None
    return AgendaSection(
        "Cross-team one-to-ones",
        (f"One-to-ones this round: {met} of {pairs} pair{'s' if pairs != 1 else ''} met",),
    )


@dataclass(frozen=True)
class HomePairing:
    ritual_name: str
    partners: tuple[tuple[str, Side], ...]
    purpose: str
    status: PairingStatus
    starts_local: dt.datetime
    ends_local: dt.datetime
    current: bool


def _partners(partners: Sequence[tuple[str, Side]]) -> str:
    return " and ".join(f"<@{u}> ({side.label})" for u, side in partners) or "someone who left"


def home_pairing_blocks(pairings: Sequence[HomePairing]) -> list[Block]:
    """The Home tab's "Your one-to-ones": the current pair first, then past ones (newest first)."""
    if not pairings:
        return []
    current = [p for p in pairings if p.current]
    past = [p for p in pairings if not p.current]
    blocks: list[Block] = [DividerBlock(), HeaderBlock(text="Your one-to-ones")]
    for p in current:
        state = {
            PairingStatus.MET: "met :white_check_mark:",
            PairingStatus.SKIPPED: "skipped",
            PairingStatus.PENDING: f"meet before {_date(p.ends_local)}",
        }[p.status]
        blocks.append(
            _section(
                f"*This round:* {_partners(p.partners)} ({escape(truncate(p.ritual_name, 80))}), "
                f"{escape(purpose_label(p.purpose))}: {state}"
            )
        )
    if past:
        words = {
            PairingStatus.MET: "met",
            PairingStatus.SKIPPED: "skipped",
            PairingStatus.PENDING: "no answer",
        }
        lines = [f"• {_date(p.starts_local)}: {_partners(p.partners)}, {words[p.status]}" for p in past[:8]]
        blocks.append(_section("*Past one-to-ones*\n" + "\n".join(lines)))
    return blocks


def pairing_report_lines(rounds: Sequence[tuple[dt.date, int, int]]) -> str:
    """The report's meeting rate over time: one line per round (its date, pairs, pairs that met)."""
    shown = [(day, pairs, met) for day, pairs, met in rounds if pairs > 0]
    if not shown:
        return ""
    total_pairs = sum(p for _, p, _ in shown)
    total_met = sum(m for _, _, m in shown)
    lines = [
        f"One-to-ones: {total_met} of {total_pairs} pairs met ({round(100 * total_met / total_pairs)}%)."
    ]
    lines += [
        f"• {day:%d %b}: {met} of {pairs} met ({round(100 * met / pairs)}%)"
        for day, pairs, met in shown[-12:]
    ]
    return "\n".join(lines)
