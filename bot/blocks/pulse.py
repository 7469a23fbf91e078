"""The pulse: mirrored 1-to-5 questions in the ritual's channel, and the results in its thread.

The point of a pulse is to make the perception gap between marketing and IT visible: marketing
rates how IT partners with it, IT rates how marketing partners with it, and the difference between
the two averages ("the gap") is the headline of the results. Everyone also rates whether the two
collaborate at the right level. A pulse that goes with a check-in also asks one mirrored question
on that check-in's theme (db.theme_questions): its answers are the only source of theme scores.

Privacy rules the builders keep, whatever they are fed:
- no averages or distributions while a pulse is open (early figures steer later answers);
- a side whose `Figures.average` is None was withheld by db.pulses (too few answers) and is shown
  only as a sentence, never as numbers;
- no figure is shown that, together with the others, gives away a withheld side (see
  `_level_sides`);
- individual answers only ever appear in `build_member_votes`, for pulses that are not anonymous.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import ids
from bot.blocks.comments import build_commit_from_row, comment_button
from bot.blocks.rituals import format_local, slack_date
from bot.blocks.text import escape, plain_time, truncate
from db.figures import SCORES, Figures, PulseResults
from db.models import PulseQuestion, Side
from db.theme_questions import ThemeQuestion, theme_question

__all__ = [
    "ANSWER_ACTION_PATTERN",
    "ANSWER_FOREIGN",
    "ANSWER_NOT_SAVED",
    "ANSWER_UNREADABLE",
    "CLOSE_NOT_FOUND",
    "FORGET_CANCEL_VALUE",
    "FORGET_CONFIRM_VALUE",
    "FORGET_UNREADABLE",
    "FORGOT_MEMBERSHIPS",
    "FORGOT_OPEN_ANONYMOUS",
    "FORGOT_REMINDERS",
    "FORGOT_SIDE",
    "FORGOT_VOTES",
    "MEMBER_VOTES_SHOWN",
    "OTHER_SIDE_ON_PARTNER",
    "QUESTION_TITLES",
    "REMINDERS_EXAMPLE",
    "REMINDERS_PROBLEM",
    "ROLE_EXAMPLE",
    "ROLE_PROBLEM",
    "SCALE",
    "SIDE_ACTION_PATTERN",
    "START_EXAMPLE",
    "START_REFUSAL",
    "VOTES_ANONYMOUS",
    "VOTES_EXAMPLE",
    "VOTES_MEMBERS_ONLY",
    "VOTES_NO_PULSE",
    "AnswerClick",
    "PulseView",
    "answer_action_id",
    "answer_confirmation_reply",
    "build_answer_confirmation",
    "build_close_refused",
    "build_closed_notice",
    "build_forget_confirmation",
    "build_forget_done",
    "build_member_votes",
    "build_pulse_message",
    "build_pulse_starting",
    "build_reminder_dm",
    "build_reminders_set",
    "build_results",
    "build_role_set",
    "build_side_question",
    "build_start_paused",
    "close_value",
    "decode_answer",
    "dismiss_reply",
    "encode_answer",
    "ephemeral_reply",
    "forget_confirmed",
    "from_last_pulse",
    "parse_action_ts",
    "parse_answer_click",
    "parse_close_value",
    "parse_reminders",
    "parse_side",
    "parse_side_action_id",
    "participation_text",
    "pulse_agenda_lines",
    "score_label",
    "share",
    "side_action_id",
    "withheld_sentence",
]

# -- ids and button values ---------------------------------------------------------------------------

#: Matches every answer button's action_id (register one listener with it).
ANSWER_ACTION_PATTERN: Final = re.compile(rf"^{re.escape(ids.ACTION_PULSE_ANSWER_PREFIX)}:")
#: Matches the "marketing, IT or other?" buttons' action_ids.
SIDE_ACTION_PATTERN: Final = re.compile(rf"^{re.escape(ids.ACTION_PULSE_SIDE_PREFIX)}:")

# Strict on purpose: a value from an older message format, or from a bug, must be refused rather
# than misread as someone's answer, so only the exact shape we write is accepted (ASCII digits, no
# sign, no spaces, no leading zeros, a known question, a score from 1 to 5).
_VALUE_RE: Final = re.compile(
    r"([1-9][0-9]{0,22}):(" + "|".join(q.value for q in PulseQuestion) + r"):([1-5])", re.ASCII
)


def _check(question: PulseQuestion, score: int) -> None:
    if not isinstance(question, PulseQuestion):
        raise ValueError(f"unknown pulse question {question!r}")
    if isinstance(score, bool) or score not in SCORES:
        raise ValueError(f"pulse scores go from 1 to 5, not {score!r}")


def answer_action_id(question: PulseQuestion, score: int) -> str:
    """E.g. "pulse_answer:partner:4": unique within a message, as Slack requires."""
    _check(question, score)
    return f"{ids.ACTION_PULSE_ANSWER_PREFIX}:{question.value}:{score}"


def side_action_id(side: Side) -> str:
    """E.g. "pulse_side:marketing"."""
    return f"{ids.ACTION_PULSE_SIDE_PREFIX}:{Side(side).value}"


def parse_side_action_id(action_id: object) -> Side:
    """The side a "marketing, IT or other?" button stands for; ValueError for anything else."""
    if not isinstance(action_id, str):
        raise ValueError(f"not a pulse side action: {action_id!r}")
    prefix, sep, side = action_id.partition(":")
    if prefix != ids.ACTION_PULSE_SIDE_PREFIX or not sep:
        raise ValueError(f"not a pulse side action: {action_id!r}")
    return Side(side)  # ValueError for an unknown side


def encode_answer(pulse_id: int, question: PulseQuestion, score: int) -> str:
    """A button value: "pulse_id:question:score", e.g. "42:partner:4"."""
    if not isinstance(pulse_id, int) or ids.parse_row_id(pulse_id) is None:
        raise ValueError(f"pulse ids are positive integers, not {pulse_id!r}")
    _check(question, score)
    return f"{pulse_id}:{question.value}:{score}"


def decode_answer(value: object) -> tuple[int, PulseQuestion, int]:
    """The inverse of `encode_answer`; ValueError for anything it would not have written."""
    match = _VALUE_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"not a pulse answer: {value!r}")
    pulse_id = ids.parse_row_id(match[1])
    if pulse_id is None:
        raise ValueError(f"not a pulse id: {match[1]!r}")
    return pulse_id, PulseQuestion(match[2]), int(match[3])


# Slack's action_ts: seconds since the epoch with microseconds ("1700000000.000200"). It orders one
# person's clicks, so anything else is refused rather than compared.
_ACTION_TS_RE: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?", re.ASCII)


def parse_action_ts(value: object) -> str | None:
    """A click's action_ts as stored on its ballot; "0" when Slack sent none, None for garbage."""
    if value is None or value == "":
        return "0"
    if isinstance(value, str) and _ACTION_TS_RE.fullmatch(value):
        return value
    return None


@dataclass(frozen=True)
class AnswerClick:
    """A click on an answer button, or on a side button carrying the answer it was asked for."""

    pulse_id: int
    question: PulseQuestion
    score: int
    action_ts: str
    side: Side | None = None  # the side button's answer to "marketing, IT or other?"


def parse_answer_click(action: Mapping[str, object], *, side_question: bool = False) -> AnswerClick | None:
    """A block action on an answer button (or, `side_question`, on a side button: its action_id names
    the side, its value is the pending answer); None for anything these builders would not have written."""
    action_ts = parse_action_ts(action.get("action_ts"))
    try:
        pulse_id, question, score = decode_answer(action.get("value"))
        side = parse_side_action_id(action.get("action_id")) if side_question else None
    except ValueError:
        return None
    if action_ts is None:
        return None
    return AnswerClick(pulse_id, question, score, action_ts, side)


def close_value(pulse_id: int) -> str:
    """The "Close now" button's value: the pulse id."""
    return str(pulse_id)


def parse_close_value(value: object) -> int | None:
    """The pulse a "Close now" click names (bounded like every row id); None for anything else."""
    return ids.parse_row_id(value)


def parse_side(text: str) -> Side | None:
    """The side in `/tandem role marketing|it|other`; None for anything else."""
    try:
        return Side(text.strip().lower())
    except ValueError:
        return None


def parse_reminders(text: str) -> bool | None:
    """`/tandem reminders on|off`: True, False, or None for anything else."""
    return {"on": True, "off": False}.get(text.strip().lower())


# The forget-me buttons carry fixed values; a click with another value was not made on our message.
FORGET_CONFIRM_VALUE: Final = "forget"
FORGET_CANCEL_VALUE: Final = "cancel"


def forget_confirmed(value: object) -> bool:
    """Whether a "Forget me" click carries the value its button was built with."""
    return value == FORGET_CONFIRM_VALUE


# -- wording -----------------------------------------------------------------------------------------

QUESTION_TITLES: Final[Mapping[PulseQuestion, str]] = {
    PulseQuestion.PARTNER: "How well does the other side partner with yours?",
    PulseQuestion.LEVEL: "Is collaboration between marketing and IT at the right level?",
    PulseQuestion.THEME: "This check-in's theme: how well does the other side do on it?",
}
# The partner question means something different to each side; the row says it for both.
_PARTNER_ROWS = (
    "Marketing: how well does IT partner with you? · IT: how well does marketing partner with you?"
)

#: A word for every score. "Off the right level" can mean too little or too much collaboration, so the
#: level scale says how far off, not in which direction (that is what the check-in discussion is for).
SCALE: Final[Mapping[PulseQuestion, Mapping[int, str]]] = {
    PulseQuestion.PARTNER: {1: "Poor", 2: "Fair", 3: "OK", 4: "Good", 5: "Great"},
    PulseQuestion.LEVEL: {1: "Far from it", 2: "Not really", 3: "Partly", 4: "Mostly", 5: "Just right"},
    PulseQuestion.THEME: {1: "Poor", 2: "Fair", 3: "OK", 4: "Good", 5: "Great"},
}
_SCALE_NOTE = (
    "1 = poor, 5 = great. Right level: 1 = far from it (too little or too much), 5 = just right. "
    "Click again to change your answer until the pulse closes."
)

_ANONYMOUS = ":lock: Anonymous: nobody, not even admins, can see who answered what."
_NOT_ANONYMOUS = ":eyes: Not anonymous: the ritual's members can see who answered what."

# How sides are named inside sentences ("too few answers from IT ...").
_SIDE_WORDS: Final[Mapping[Side, str]] = {
    Side.MARKETING: "marketing",
    Side.IT: "IT",
    Side.OTHER: "other teams",
}
_PARTNER_LABELS: Final[Mapping[Side, str]] = {
    Side.MARKETING: "Marketing's view of IT",
    Side.IT: "IT's view of marketing",
    Side.OTHER: "Other teams' view of the partnership",
}
_NAME_MAX = 100
_FALLBACK_MAX = 1000


def score_label(question: PulseQuestion, score: int) -> str:
    """E.g. "4 (Good)"."""
    _check(question, score)
    return f"{score} ({SCALE[question][score]})"


def withheld_sentence(side: Side | None) -> str:
    """What is shown instead of a withheld side's figures (`None`: everyone together)."""
    if side is None:
        return "too few answers to show without identifying people"
    return f"too few answers from {_SIDE_WORDS[side]} to show without identifying people"


def _name(name: str) -> str:
    return escape(truncate(" ".join(name.split()) or "Check-in", _NAME_MAX))


def _people_answered(n: int, *, so_far: bool) -> str:
    if n <= 0:
        return "Nobody has answered yet" if so_far else "Nobody answered"
    if so_far:
        return "1 person has answered so far" if n == 1 else f"{n} people have answered so far"
    return "1 person answered" if n == 1 else f"{n} people answered"


def _closed_on(when: dt.datetime) -> str:
    return plain_time(when)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


# -- the pulse message -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PulseView:
    """What the pulse message shows, as plain values. Never any figures: only how many answered."""

    pulse_id: int
    ritual_name: str
    anonymous: bool
    answered: int
    closes_at_local: dt.datetime  # aware, in the ritual's timezone
    closed: bool
    closed_at_local: dt.datetime | None
    theme_question: ThemeQuestion | None = None  # the mirrored question on the check-in's theme
    comments: bool = False  # it takes anonymous comments ("Add a comment")


def theme_question_rows(q: ThemeQuestion) -> str:
    """The theme question as each side reads it: the same words in the pulse, results and reports."""
    return f"Marketing: {q.marketing} · IT: {q.it}"


def _answer_blocks(v: PulseView) -> list[Block]:
    """The questions, each with its five buttons; the same in the channel message and the reminder DM."""
    questions = [
        (
            PulseQuestion.PARTNER,
            ids.BLOCK_PULSE_PARTNER,
            QUESTION_TITLES[PulseQuestion.PARTNER],
            _PARTNER_ROWS,
        ),
        (PulseQuestion.LEVEL, ids.BLOCK_PULSE_LEVEL, QUESTION_TITLES[PulseQuestion.LEVEL], ""),
    ]
    if v.theme_question is not None:
        q = v.theme_question
        questions.append(
            (PulseQuestion.THEME, ids.BLOCK_PULSE_THEME, f"{q.theme.label}:", theme_question_rows(q))
        )
    blocks: list[Block] = []
    for number, (question, block_id, title, detail) in enumerate(questions, start=1):
        blocks.append(_section(f"*{number}. {escape(title)}*" + (f"\n{escape(detail)}" if detail else "")))
        pulse_id = v.pulse_id
        blocks.append(
            ActionsBlock(
                block_id=block_id,
                elements=[
                    ButtonElement(
                        text=f"{score} {SCALE[question][score]}",
                        action_id=answer_action_id(question, score),
                        value=encode_answer(pulse_id, question, score),
                        accessibility_label=f"{score} out of 5: {SCALE[question][score]}",
                    )
                    for score in SCORES
                ],
            )
        )
    blocks.append(_context(_SCALE_NOTE))
    return blocks


def build_pulse_message(v: PulseView) -> tuple[str, list[Block]]:
    """The pulse in the ritual's channel: questions and buttons while open, a closing note after."""
    name = _name(v.ritual_name)
    privacy = _ANONYMOUS if v.anonymous else _NOT_ANONYMOUS
    blocks: list[Block] = [_section(f":bar_chart: *Pulse: {name}*"), _context(privacy)]
    if v.closed and v.answered == 0:
        # Nobody answered: the message says so itself, and no empty results go into the thread.
        closed_at = v.closed_at_local or v.closes_at_local
        blocks.append(_section(f"This pulse closed on {slack_date(closed_at)}. Nobody answered it."))
        return f"Pulse: {name} closed on {format_local(closed_at)}. Nobody answered it.", blocks
    if v.closed:
        closed_at = v.closed_at_local or v.closes_at_local
        blocks.append(_section(f"This pulse closed on {slack_date(closed_at)}. Results are in the thread."))
        blocks.append(_context(f"{_people_answered(v.answered, so_far=False)}."))
        text = (
            f"Pulse: {name} closed on {format_local(closed_at)}. "
            f"{_people_answered(v.answered, so_far=False)}. Results are in the thread."
        )
        return text, blocks

    blocks.extend(_answer_blocks(v))
    # Only the count while open: averages seen early would steer the answers that come after.
    blocks.append(
        _context(f"{_people_answered(v.answered, so_far=True)} · closes {slack_date(v.closes_at_local)}")
    )
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Close now",
                    action_id=ids.ACTION_PULSE_CLOSE,
                    value=close_value(v.pulse_id),
                    confirm=ConfirmObject(
                        title="Close this pulse now?",
                        text=PlainTextObject(
                            text="Nobody can answer after it closes, and the results go into the thread."
                        ),
                        confirm="Close it",
                        deny="Keep it open",
                    ),
                )
            ]
        )
    )
    if v.comments:
        comment = comment_button(v.pulse_id)
        blocks[-1].elements.insert(0, comment)  # type: ignore[attr-defined]
    how_many = "Three" if v.theme_question is not None else "Two"
    text = (
        f"Pulse: {name}. {how_many} one-click questions for marketing and IT. "
        f"{_people_answered(v.answered, so_far=True)}; it closes {format_local(v.closes_at_local)}."
    )
    return text, blocks


def build_answer_confirmation(
    question: PulseQuestion, score: int, *, changed: bool, anonymous: bool
) -> tuple[str, list[Block]]:
    """The ephemeral "got it": the person's own answer, and that they can still change it."""
    answer = score_label(question, score)
    title = QUESTION_TITLES[question]
    if changed:
        said = f"You changed your answer to {answer} for “{title}”."
    else:
        said = f"You answered {answer} to “{title}”."
    text = f"{said} You can change it by clicking again until the pulse closes."
    privacy = (
        "Only you can see this. The pulse is anonymous: your answer is counted, never shown with your name."
        if anonymous
        else "Only you can see this. The pulse is not anonymous: the ritual's members can see your answer."
    )
    return text, [_section(f":white_check_mark: {text}"), _context(privacy)]


def build_closed_notice(closed_at_local: dt.datetime) -> str:
    """For a click that arrives after the pulse closed, in the ritual's own timezone."""
    return (
        f"This pulse closed on {_closed_on(closed_at_local)}. "
        "Sorry, answers are no longer counted; the results are in the thread."
    )


def build_side_question(pulse_id: int, question: PulseQuestion, score: int) -> tuple[str, list[Block]]:
    """Asked once, before a person's first answer counts: each side's answer means something different."""
    pending = encode_answer(pulse_id, question, score)
    text = "Before I count your answer: are you in marketing, IT or other?"
    blocks: list[Block] = [
        _section(":wave: Before I count your answer: are you in *marketing*, *IT* or *other*?"),
        ActionsBlock(
            elements=[
                ButtonElement(text=label, action_id=side_action_id(side), value=pending)
                for side, label in ((Side.MARKETING, "Marketing"), (Side.IT, "IT"), (Side.OTHER, "Other"))
            ]
        ),
        _context(
            f"Your answer, {score_label(question, score)}, counts as soon as you pick. I ask this once; "
            f"change it any time with `{ids.COMMAND} role marketing|it|other`."
        ),
    ]
    return text, blocks


# -- short answers to clicks and commands ------------------------------------------------------------

ANSWER_UNREADABLE: Final = (
    ":warning: That answer could not be read, so nothing was stored. Please click again."
)
ANSWER_FOREIGN: Final = ":warning: This pulse is not one of this workspace's, so nothing was stored."
ANSWER_NOT_SAVED: Final = (
    ":warning: Your answer could not be saved, so nothing was stored. Please click again."
)
OTHER_SIDE_ON_PARTNER: Final = (
    "The partner question and the theme question are for marketing and IT, each rating the other. As "
    "someone from another team, your view counts on the right-level question. "
    f"(Wrong side? `{ids.COMMAND} role marketing|it|other`.)"
)
CLOSE_NOT_FOUND: Final = ":warning: That pulse could not be found in this workspace, so nothing was closed."
FORGET_UNREADABLE: Final = (
    f":warning: That button could not be read, so nothing was deleted. Try `{ids.COMMAND} forget-me` again."
)
#: `/tandem pulse` by someone who may not act on the ritual (bot.blocks.rituals.refusal_text's `refusal`).
START_REFUSAL: Final = "Only the creator of “{name}”, its members or an admin can start a pulse."
START_EXAMPLE: Final = "pulse Weekly sync"
VOTES_EXAMPLE: Final = "pulse votes Weekly sync"
VOTES_MEMBERS_ONLY: Final = ":no_entry: Only the ritual's members can see who answered what."
VOTES_ANONYMOUS: Final = "The latest pulse of this ritual is anonymous: nobody can see who answered what."
VOTES_NO_PULSE: Final = "This ritual has had no pulse yet."
ROLE_PROBLEM: Final = "Say which side you are on: marketing, it or other."
ROLE_EXAMPLE: Final = "role marketing"
REMINDERS_PROBLEM: Final = "Say `on` or `off`."
REMINDERS_EXAMPLE: Final = "reminders off"


def build_close_refused(owner: str) -> str:
    """A "Close now" click by someone other than the pulse's owner."""
    return f":no_entry: Only <@{escape(owner)}>, who owns this pulse, can close it early."


def build_pulse_starting(ritual_name: str) -> str:
    return f":bar_chart: Starting a pulse for “{_name(ritual_name)}”."


def build_pulse_already_open(
    ritual_name: str, pulse_id: int, closes_at_local: dt.datetime, *, owner: str, is_owner: bool
) -> tuple[str, list[Block]]:
    """`/tandem pulse` while the ritual's pulse is open: that pulse, its close time, and, for its
    owner only, a Close button (the same as on its message, with its confirmation). Nothing is closed."""
    name = _name(ritual_name)
    text = (
        f":bar_chart: “{name}” already has a pulse open, until {slack_date(closes_at_local)}. "
        "People can answer it until then."
    )
    if not is_owner:
        text += f" <@{escape(owner)}> opened it and can close it early."
    blocks: list[Block] = [_section(text)]
    if is_owner:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Close it now",
                        action_id=ids.ACTION_PULSE_CLOSE,
                        value=close_value(pulse_id),
                        confirm=ConfirmObject(
                            title="Close this pulse now?",
                            text=PlainTextObject(
                                text="Nobody can answer after it closes, and the results go into the thread."
                            ),
                            confirm="Close it",
                            deny="Keep it open",
                        ),
                    )
                ]
            )
        )
    fallback = f"“{name}” already has a pulse open, until {format_local(closes_at_local)}."
    return fallback, blocks


def build_start_paused(ritual_name: str) -> str:
    return f"“{_name(ritual_name)}” is paused. Resume it first."


def build_role_set(side: Side) -> str:
    return f":white_check_mark: You're on the {side.label} side. Your pulse answers count for {side.label}."


def build_reminders_set(enabled: bool) -> str:
    return ":bell: Pulse reminders are on." if enabled else ":no_bell: No more pulse reminders for you."


def ephemeral_reply(text: str, blocks: Sequence[Block] = (), *, replace: bool = False) -> dict[str, object]:
    """A reply to a click's response_url that only the clicker sees (`replace`: instead of the
    ephemeral message clicked, such as the side question)."""
    message: dict[str, object] = {
        "text": text,
        "response_type": "ephemeral",
        "replace_original": replace,
    }
    if blocks:
        message["blocks"] = [b.to_dict() for b in blocks]
    return message


def dismiss_reply() -> dict[str, object]:
    """A reply that deletes the ephemeral message clicked (a "Cancel" button's)."""
    return {"text": "", "delete_original": True}


@functools.lru_cache(maxsize=64)
def answer_confirmation_reply(
    question: PulseQuestion, score: int, *, changed: bool, anonymous: bool, replace: bool
) -> bytes:
    """`build_answer_confirmation` as sent to the response_url, serialised once: a pulse click is the
    hottest path, and there are only a few dozen of these."""
    text, blocks = build_answer_confirmation(question, score, changed=changed, anonymous=anonymous)
    reply = ephemeral_reply(text, blocks, replace=replace)
    return json.dumps(reply, separators=(",", ":")).encode()


def build_reminder_dm(v: PulseView, channel_id: str) -> tuple[str, list[Block]]:
    """A DM to a member who has not answered yet, with the same buttons as the channel message."""
    name = _name(v.ritual_name)
    channel = f"<#{escape(channel_id)}>"
    opt_out = _context(f"Don't want these? `{ids.COMMAND} reminders off`")
    if v.closed:
        # A reminder built after closing would offer buttons that no longer count; say so instead.
        closed_at = v.closed_at_local or v.closes_at_local
        text = f"The pulse for {name} in {channel} closed on {format_local(closed_at)}."
        return text, [_section(text), opt_out]
    privacy = _ANONYMOUS if v.anonymous else _NOT_ANONYMOUS
    blocks: list[Block] = [
        _section(
            f":wave: Hi! The pulse for *{name}* in {channel} closes {slack_date(v.closes_at_local)}. "
            f"{'Three' if v.theme_question is not None else 'Two'} clicks and you're done, right here:"
        ),
        _context(privacy),
        *_answer_blocks(v),
        opt_out,
    ]
    text = (
        f"Reminder: the pulse for {name} in {channel} closes {format_local(v.closes_at_local)}. "
        f"{'Three' if v.theme_question is not None else 'Two'} clicks and you're done."
    )
    return text, blocks


# -- results -----------------------------------------------------------------------------------------

_NO_ANSWERS = Figures(0, None, None)
_SPARK = "▁▂▃▄▅▆▇█"


def _shown(x: float) -> float:
    """The one-decimal value the reader sees; deltas and the gap are computed from these so they add up."""
    return float(f"{x:.1f}")


def _change(now: float, before: float | None) -> str:
    if before is None:
        return ""
    d = round(_shown(now) - _shown(before), 1)
    if d > 0:
        return f" (▲ {d:.1f})"
    if d < 0:
        return f" (▼ {-d:.1f})"
    return " (no change)"


def _get(figures: Mapping[Side, Figures] | None, side: Side) -> Figures:
    return figures.get(side, _NO_ANSWERS) if figures is not None else _NO_ANSWERS


def _figure(label: str, fig: Figures, before: Figures | None, side: Side | None) -> tuple[str, str]:
    """(mrkdwn line, plain fallback) for one figure."""
    if fig.count == 0:
        return f"{label}: no answers", f"{label}: no answers"
    if fig.average is None:
        return f"{label}: {withheld_sentence(side)}", withheld_sentence(side)
    prev = before.average if before is not None else None
    return (
        f"{label}: *{fig.average:.1f}* / 5{_change(fig.average, prev)}",
        f"{label} {fig.average:.1f}/5",
    )


def _level_sides(r: PulseResults) -> dict[Side, Figures] | None:
    """Per-side level figures that are safe to show next to the everyone figure, or None.

    Everyone minus the sides shown is whatever the withheld sides answered, so when the withheld
    answers together are fewer than the minimum, showing the other sides would give them away:
    then (None) no side is broken out and only the everyone figure, itself above the minimum, is shown.
    """
    level = {side: _get(r.level, side) for side in Side}
    hidden = sum(f.count for f in level.values() if f.count and f.average is None)
    if r.level_all.average is not None and 0 < hidden < r.min_answers:
        return None
    return level


def _spark(counts: Sequence[int]) -> str:
    top = max(counts, default=0)
    if top <= 0:
        return ""
    return "".join("·" if c <= 0 else _SPARK[max(math.ceil(c / top * len(_SPARK)) - 1, 0)] for c in counts)


def _table(rows: Sequence[tuple[str, tuple[int, ...]]]) -> str:
    """Counts per score in Slack's monospace, with a sparkline so the shape shows at a glance."""
    lines = [f"{'':<10}" + "".join(f"{s:>4}" for s in SCORES)]
    for label, dist in rows:
        lines.append(f"{label:<10}" + "".join(f"{c:>4}" for c in dist) + f"   {_spark(dist)}")
    return "```\n" + "\n".join(lines) + "\n```"


def _gap_words(gap: float) -> str:
    if gap < 0:
        return "marketing rates IT lower than IT rates marketing"
    if gap > 0:
        return "marketing rates IT higher than IT rates marketing"
    return "marketing and IT rate each other the same"


def _shown_gap(r: PulseResults | None) -> float | None:
    if r is None or r.gap is None:
        return None
    mkt, it = _get(r.partner, Side.MARKETING).average, _get(r.partner, Side.IT).average
    if mkt is None or it is None:
        return None
    return round(_shown(mkt) - _shown(it), 1)


def from_last_pulse(made: int, done: int) -> str:
    """ "2 commitments came from the last pulse; 1 is done"."""
    came = "1 commitment came" if made == 1 else f"{made} commitments came"
    return f"{came} from the last pulse; {done} {'is' if done == 1 else 'are'} done"


def build_results(
    r: PulseResults,
    *,
    ritual_name: str,
    from_last: tuple[int, int] | None = None,
    offer_commitment: bool = False,
) -> tuple[str, list[Block]]:
    """The results in the check-in's thread: participation, both views, the gap, the level, changes.

    `from_last`: how many commitments were made from the previous pulse, and how many of them are
    done (said when some were). `offer_commitment`: a "Make this a commitment" button (for leads).
    """
    name = _name(ritual_name)
    title = f":bar_chart: *Pulse results: {name}*"
    participation = {side: r.participation.get(side, 0) for side in Side}
    if not any(participation.values()) and r.level_all.count == 0:
        text = f"Pulse results for {name}: nobody answered this pulse."
        return text, [_section(f"{title}\nNobody answered this pulse.")]

    prev = r.previous
    answered = participation_text(participation, r.team)
    blocks: list[Block] = [_section(f"{title}\nAnswered: {answered}")]
    fallback = [f"Pulse results for {name}"]

    # The partner question: each side's view of the other, then the gap between the two views.
    lines = [f"*{QUESTION_TITLES[PulseQuestion.PARTNER]}*"]
    for side in Side:
        fig = _get(r.partner, side)
        if side is Side.OTHER and fig.count == 0:
            continue  # the question is for marketing and IT; others only show if some answered it
        line, plain = _figure(_PARTNER_LABELS[side], fig, _get(prev.partner, side) if prev else None, side)
        lines.append(line)
        if side is not Side.OTHER:
            fallback.append(plain)
    blocks.append(_section("\n".join(lines)))

    gap = _shown_gap(r)
    if gap is not None:
        gap_text = f":left_right_arrow: *Gap: {abs(gap):.1f}* — {_gap_words(gap)}."
        before = _shown_gap(prev)
        if before is not None:
            wider = round(abs(gap) - abs(before), 1)
            if wider > 0:
                gap_text += f" It widened by {wider:.1f} since the previous pulse."
            elif wider < 0:
                gap_text += f" It narrowed by {-wider:.1f} since the previous pulse."
            else:
                gap_text += " Same size as at the previous pulse."
        blocks.append(_section(gap_text))
        fallback.append(f"gap {abs(gap):.1f}: {_gap_words(gap)}")
    else:
        blocks.append(_context("No gap this time: it needs enough answers from both marketing and IT."))

    # The theme question: each side's rating of the other on the check-in's theme, in its own words.
    asked = theme_question(r.theme_question)
    if asked is not None and r.theme is not None:
        lines = [f"*{escape(asked.theme.label)}*"]
        for side, words in ((Side.MARKETING, asked.marketing), (Side.IT, asked.it)):
            fig = _get(r.theme, side)
            label = f"{side.label}, “{escape(words)}”"
            line, plain = _figure(label, fig, None, side)
            lines.append(line)
            fallback.append(f"{asked.theme.label}, {plain}" if fig.average is None else plain)
        blocks.append(_section("\n".join(lines)))

    # The level question: everyone together first, then each side that can be shown safely.
    level = _level_sides(r)
    line, _ = _figure("Everyone", r.level_all, prev.level_all if prev else None, None)
    lines = [f"*{QUESTION_TITLES[PulseQuestion.LEVEL]}*", line]
    if r.level_all.average is not None:
        fallback.append(f"right level {r.level_all.average:.1f}/5 (everyone)")
    elif r.level_all.count:
        fallback.append(f"right level: {withheld_sentence(None)}")
    if level is None:
        few = _join(
            [_SIDE_WORDS[s] for s in Side if _get(r.level, s).count and _get(r.level, s).average is None]
        )
        lines.append(
            f"Not broken down by side this time: with too few answers from {few}, "
            "the other sides' figures would give theirs away."
        )
    else:
        for side in Side:
            if level[side].count:
                earlier = _get(prev.level, side) if prev else None
                lines.append(_figure(side.label, level[side], earlier, side)[0])
    blocks.append(_section("\n".join(lines)))

    # Distributions, only of figures that are shown above.
    partner_rows = [
        (side.label, dist) for side in Side if (dist := _get(r.partner, side).distribution) is not None
    ]
    level_rows = [
        (side.label, dist)
        for side in Side
        if level is not None and (dist := level[side].distribution) is not None
    ]
    if r.level_all.distribution is not None:
        level_rows.append(("Everyone", r.level_all.distribution))
    tables = []
    if partner_rows:
        tables.append(f"_Partner ratings (each side rating the other)_\n{_table(partner_rows)}")
    if level_rows:
        tables.append(f"_Right level_\n{_table(level_rows)}")
    if tables:
        blocks.append(_section("*Answers per score*\n" + "\n".join(tables)))

    notes = [
        "Scale: 1 = poor or far from the right level, 5 = great or just right.",
        f"A side's figures show from {r.min_answers} answers on, so nobody can be identified; "
        "individual answers are never shown here.",
    ]
    if prev is not None:
        notes.insert(1, "▲▼: change since the previous pulse.")
    if from_last is not None and from_last[0] > 0:
        made = from_last_pulse(*from_last)
        blocks.append(_section(f":handshake: {made}."))
        fallback.append(made)
    if offer_commitment:
        blocks.append(build_commit_from_row("result", r.pulse_id))
    blocks.append(_context(" ".join(notes)))
    text = truncate(f"{fallback[0]}: " + "; ".join(fallback[1:]) + ".", _FALLBACK_MAX)
    return text, blocks


def share(answered: int, team: int | None) -> str:
    """ "5 of 6 (83%)"; the bare count when the team's size is not known."""
    return f"{answered} of {team} ({round(100 * answered / team)}%)" if team else str(answered)


def participation_text(answered: Mapping[Side, int], team: Mapping[Side, int] | None) -> str:
    """Who answered, against each side's team when it is known: "marketing 5 of 6 (83%) · IT 4 of 6
    (67%)"; other teams, who have no team size, as a count when some answered."""
    parts = []
    for side in Side:
        n = answered.get(side, 0)
        size = team.get(side) if team is not None else None
        if size:
            parts.append(f"{_SIDE_WORDS[side]} {share(n, size)}")
        elif side is not Side.OTHER or n:
            parts.append(f"{_SIDE_WORDS[side]} {n}")
    return " · ".join(parts)


# -- who answered what (not anonymous only) ----------------------------------------------------------

#: People listed in `build_member_votes`; the rest are summed up as "and N more".
MEMBER_VOTES_SHOWN = 45
_LINES_PER_SECTION = 15  # 15 lines of ~120 characters stay far below the 3,000 of a section
_RATES = {Side.MARKETING: "rates IT", Side.IT: "rates marketing", Side.OTHER: "rates the partnership"}


def build_member_votes(votes: Sequence[tuple[str, Side, PulseQuestion, int]]) -> tuple[str, list[Block]]:
    """Who answered what, for ritual members of a pulse that is NOT anonymous (the caller checks)."""
    people: dict[str, tuple[Side, dict[PulseQuestion, tuple[Side, int]]]] = {}
    for user_id, side, question, score in votes:
        # The side shown next to a name is the first one seen; each answer keeps its own side.
        people.setdefault(user_id, (side, {}))[1][question] = (side, score)
    if not people:
        text = "Nobody has answered this pulse yet."
        return text, [_section(text), _context("Only you can see this message.")]

    lines = []
    for user_id, (side, answers) in list(people.items())[:MEMBER_VOTES_SHOWN]:
        parts = []
        if PulseQuestion.PARTNER in answers:
            partner_side, score = answers[PulseQuestion.PARTNER]
            parts.append(f"{_RATES[partner_side]} {score_label(PulseQuestion.PARTNER, score)}")
        if PulseQuestion.LEVEL in answers:
            parts.append(f"right level {score_label(PulseQuestion.LEVEL, answers[PulseQuestion.LEVEL][1])}")
        if PulseQuestion.THEME in answers:
            parts.append(f"on the theme {score_label(PulseQuestion.THEME, answers[PulseQuestion.THEME][1])}")
        lines.append(f"• <@{escape(user_id)}> ({_SIDE_WORDS[side]}): " + " · ".join(parts))
    more = len(people) - len(lines)
    blocks: list[Block] = [_section("*Who answered what*")]
    for start in range(0, len(lines), _LINES_PER_SECTION):
        blocks.append(_section("\n".join(lines[start : start + _LINES_PER_SECTION])))
    if more:
        blocks.append(_context(f"…and {more} more."))
    blocks.append(
        _context(
            "Only you can see this. This pulse is not anonymous, so its members can see who answered what."
        )
    )
    count = "1 person" if len(people) == 1 else f"{len(people)} people"
    return f"Who answered what in this pulse: {count}.", blocks


# -- /tandem forget-me -------------------------------------------------------------------------------

# Keys of the mapping `build_forget_done` reads: what db.people.forget_person deleted, and how many.
FORGOT_SIDE: Final = "side"  # the side's name ("marketing"), or a count
FORGOT_REMINDERS: Final = "reminder setting"
FORGOT_VOTES: Final = "non-anonymous answers"
FORGOT_OPEN_ANONYMOUS: Final = "answers to open anonymous pulses"  # withdrawn while the salt still exists
FORGOT_MEMBERSHIPS: Final = "ritual memberships"

# Only closed anonymous pulses are beyond reach: an open one can still find a person's ballot
# through its salt, and forget-me withdraws it; closing erases the salt and the ballots.
_NOTHING_ANONYMOUS = (
    "Anonymous answers were never linked to you once their pulse closed, so there is nothing to delete there."
)


def build_forget_confirmation() -> tuple[str, list[Block]]:
    """The ephemeral "are you sure?" for `/tandem forget-me`."""
    text = (
        "Forget me? Tandem will delete what it stores about you in this workspace: your side "
        "(marketing, IT or other), your reminder setting, your place in check-ins, your answers to "
        "pulses that are not anonymous and your answers to pulses still open. This can't be undone."
    )
    blocks: list[Block] = [
        _section(f":wastebasket: {text}"),
        _context(
            f"{_NOTHING_ANONYMOUS} Past results keep their totals, which name nobody. "
            "Only you can see this message."
        ),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Forget me",
                    action_id=ids.ACTION_FORGET_CONFIRM,
                    value=FORGET_CONFIRM_VALUE,
                    style="danger",
                ),
                ButtonElement(text="Cancel", action_id=ids.ACTION_FORGET_CANCEL, value=FORGET_CANCEL_VALUE),
            ]
        ),
    ]
    return text, blocks


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _side_part(value: int | str, side: Side | None) -> str:
    if isinstance(value, str):
        try:
            side = Side(value)
        except ValueError:
            return f"your side ({escape(value)})"
    return f"your side ({_SIDE_WORDS[side]})" if side is not None else "your side"


def build_forget_done(deleted: Mapping[str, int | str], *, side: Side | None = None) -> str:
    """What `/tandem forget-me` deleted, from db.people.forget_person's mapping (the FORGOT_* keys).

    Counts of 0 are left out; unknown keys are listed as "N key". `side` names the deleted side when
    the mapping only counts it.
    """
    parts = []
    for key, value in deleted.items():
        if isinstance(value, int) and value <= 0:
            continue
        if key == FORGOT_SIDE:
            parts.append(_side_part(value, side))
        elif not isinstance(value, int):
            parts.append(f"{escape(key)} ({escape(str(value))})")
        elif key == FORGOT_REMINDERS:
            parts.append("your reminder setting")
        elif key == FORGOT_VOTES:
            parts.append(_plural(value, "non-anonymous answer", "non-anonymous answers"))
        elif key == FORGOT_OPEN_ANONYMOUS:
            parts.append(
                _plural(value, "answer to an anonymous pulse", "answers to anonymous pulses")
                + " still open (taken out of their counts)"
            )
        elif key == FORGOT_MEMBERSHIPS:
            parts.append(f"your place in {_plural(value, 'check-in', 'check-ins')}")
        else:
            parts.append(f"{value} {escape(key)}")
    said = f"Done: I deleted {_join(parts)}." if parts else "Done: Tandem had nothing stored about you."
    return f"{said} {_NOTHING_ANONYMOUS}"


def pulse_agenda_lines(r: PulseResults) -> tuple[str, ...]:
    """The last pulse in a line or two for the check-in's agenda (plain text; empty if nobody answered).

    The same rules as the results: a withheld side shows the withheld sentence, never a figure.
    """
    if not any(r.participation.values()):
        return ()
    views = []
    for side, label in ((Side.MARKETING, "Marketing's view of IT"), (Side.IT, "IT's view of marketing")):
        fig = r.partner[side]
        if fig.average is not None:
            views.append(f"{label} {_shown(fig.average):.1f}/5")
        elif fig.count:
            views.append(f"{label}: {withheld_sentence(side)}")
    lines = [" · ".join(views)] if views else []
    gap = _shown_gap(r)
    if gap is not None:
        lines.append(f"Gap {abs(gap):.1f}: {_gap_words(gap)}")
    if r.level_all.average is not None:
        lines.append(f"Collaboration at the right level: {_shown(r.level_all.average):.1f}/5 (everyone)")
    return tuple(lines)
