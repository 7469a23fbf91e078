"""The theme questions: for every theme, one mirrored pair that a pulse adds on its check-in's theme.

Marketing rates IT on one side of a practice and IT rates marketing on its mirror (for data:
marketing rates how well IT makes customer data usable for marketing; IT rates how clearly marketing
says what data it needs). Each pair is grounded in one of the articles Tandem's advice comes from,
named by title in `source`.

Pure Python, like `db.prompt_library`: the database stores only `ThemeQuestion.key`, which never
changes and is never reused; a pair whose meaning changes gets a new key ("data-q2"), so a past
pulse's scores are always read against the words it actually asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.prompt_library import Source, Theme

__all__ = ["THEME_QUESTIONS", "ThemeQuestion", "question_for_theme", "theme_question"]


@dataclass(frozen=True, slots=True)
class ThemeQuestion:
    key: str
    theme: Theme
    marketing: str  # what marketing answers: its rating of IT
    it: str  # what IT answers: its rating of marketing, the mirror
    source: Source


def _q(theme: Theme, marketing: str, it: str, source: Source) -> ThemeQuestion:
    return ThemeQuestion(f"{theme.value}-q1", theme, marketing, it, source)


THEME_QUESTIONS: tuple[ThemeQuestion, ...] = (
    _q(
        Theme.DATA,
        "How well does IT make customer data usable for marketing?",
        "How clearly does marketing say what data it needs?",
        Source.NEED_OF_THE_HOUR,
    ),
    _q(
        Theme.CUSTOMER,
        "How well does IT put the customer's experience first in what it builds?",
        "How well does marketing bring IT into the customer's experience early enough?",
        Source.CURRENT_STATE,
    ),
    _q(
        Theme.VISION,
        "How well does IT help turn marketing's digital vision into a plan?",
        "How clearly does marketing share where it wants to take the customer relationship?",
        Source.CURRENT_STATE,
    ),
    _q(
        Theme.AGREEMENT,
        "How reliably does IT keep to the ways of working we agreed?",
        "How reliably does marketing keep to the ways of working we agreed?",
        Source.ALLY,
    ),
    _q(
        Theme.SPEED,
        "How well does IT keep pace with what marketing needs to move fast?",
        "How steady are marketing's goals, so IT can deliver safely?",
        Source.CURRENT_STATE,
    ),
    _q(
        Theme.SKILLS,
        "How much does IT help marketing build its data and technology skills?",
        "How much does marketing help IT understand marketing and customers?",
        Source.NEW_NORM,
    ),
    _q(
        Theme.KPIS,
        "How much does IT work towards the customer and revenue goals marketing is judged on?",
        "How much does marketing share its goals and results so both teams can be judged on them?",
        Source.CURRENT_STATE,
    ),
    _q(
        Theme.BUDGET,
        "How well does IT guide which marketing technology to fund, integrate or retire?",
        "How well does marketing steward its technology spend for the whole business, not its own turf?",
        Source.NEW_NORM,
    ),
    _q(
        Theme.MESSAGE,
        "How well does IT improve how our message is delivered, leaving what we say to marketing?",
        "How open is marketing to IT's ideas on how the message is delivered and measured?",
        Source.ALLY,
    ),
    _q(
        Theme.CREDIT,
        "How fairly does IT share credit for joint results, and not pin setbacks on marketing?",
        "How fairly does marketing share credit for joint results, and not blame the technology?",
        Source.NEED_OF_THE_HOUR,
    ),
    _q(
        Theme.LANGUAGE,
        "How well does IT explain technical matters in words marketing understands?",
        "How well does marketing listen to IT and meet it where it is?",
        Source.WHAT_THE_CIO_WANTS,
    ),
    _q(
        Theme.ROLES,
        "How much does IT trust marketing's expertise on marketing?",
        "How much does marketing trust IT's expertise on technology?",
        Source.WHAT_THE_CIO_WANTS,
    ),
)

_BY_KEY = {q.key: q for q in THEME_QUESTIONS}
_BY_THEME = {q.theme.value: q for q in THEME_QUESTIONS}


def theme_question(key: str | None) -> ThemeQuestion | None:
    """The pair stored under `key` (None for None or a key Tandem does not know)."""
    return _BY_KEY.get(key) if key else None


def question_for_theme(theme: str | None) -> ThemeQuestion | None:
    """The pair a pulse asks on `theme` (None for no theme, or a slug Tandem does not know)."""
    return _BY_THEME.get(theme) if theme else None
