"""One factory for test worlds: workspaces, people, rituals, pulses, wins, commitments and prompts.

A test states the world it needs in a few lines, written straight into the database through the
same `db/` functions the app uses (no Slack round trip), one unit of work per object:

    world = World(database, clock)
    ritual_id = world.ritual(name="Weekly sync", marketing=("U_M1",), it=("U_I1",))
    pulse_id = world.pulse(ritual_id, answers={"U_M1": {PulseQuestion.PARTNER: 4}}, closed=True)

Every method returns the new row's id. Defaults follow the rest of the suite: workspace `T0001`
(the team the fake Slack and the signed requests use), channel `C_SHARED`, a weekly Tuesday 09:00
Berlin check-in. `furnished(...)` builds a workspace with one of everything, and `snapshot(...)`
reads every table, for tests that must show that nothing changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select

from db import pulses as pulse_db
from db.base import Base
from db.cadence import Cadence, CadenceKind
from db.commitments import CommitmentSpec, create_commitment, drop, mark_done
from db.models import (
    Commitment,
    Person,
    Pulse,
    PulseQuestion,
    PulseTally,
    PulseVote,
    Ritual,
    Side,
    Workspace,
    slack_bots,
    slack_installations,
)
from db.people import get_or_create_person
from db.prompt_library import Theme
from db.prompts import add_prompt
from db.rituals import RitualSpec, create_ritual, delete_ritual, pause_ritual
from db.session import Database
from db.theme_questions import question_for_theme
from db.wins import WinSpec, create_win, withdraw_win
from db.workspaces import ensure_workspace

TEAM = "T0001"  # tests.fake_slack.TEAM_ID: the team every signed request names by default
# The server key of every test run (tests/conftest.py puts it in TANDEM_SECRET_KEY), so ballots a
# World writes are the ones the app under test finds.
SECRET_KEY = "tandem-test-secret-key-0123456789abcdef"
VOTER_KEYS = pulse_db.VoterKeys(SECRET_KEY.encode())
CHANNEL = "C_SHARED"

Answers = Mapping[str, Mapping[PulseQuestion, int]]
Counts = Mapping[int, int]  # {score: how many gave it}


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


def weekly(
    *, weekday: int = 1, at: dt.time = dt.time(9), timezone: str = "Europe/Berlin", **cadence: Any
) -> Cadence:
    """A weekly cadence (Tuesday 09:00 Berlin unless told); other `Cadence` fields pass through."""
    kind = cadence.pop("kind", CadenceKind.weekly)
    return Cadence(kind=kind, weekday=weekday, time_of_day=at, timezone=timezone, **cadence)


def ritual_spec(
    *,
    channel: str = CHANNEL,
    name: str = "Weekly sync",
    cadence: Cadence | None = None,
    marketing: tuple[str, ...] = ("U_MKT1",),
    it: tuple[str, ...] = ("U_IT1",),
    **options: Any,
) -> RitualSpec:
    """What the setup modal decides, with the suite's defaults (options: themes, pulse_enabled,
    pulse_anonymous, pulse_window_hours)."""
    return RitualSpec(
        channel_id=channel,
        name=name,
        cadence=cadence or weekly(),
        marketing=marketing,
        it=it,
        **options,
    )


@dataclass(frozen=True)
class Furnished:
    """A workspace with one of everything, as `World.furnished` built it."""

    team_id: str
    workspace_id: int
    channel_id: str
    ritual_id: int
    ritual_name: str
    marketing: tuple[str, ...]
    it: tuple[str, ...]
    open_pulse_id: int
    closed_pulse_id: int
    win_id: int
    win_text: str
    commitment_id: int
    commitment_text: str
    prompt_id: int
    prompt_text: str

    @property
    def creator(self) -> str:
        return self.marketing[0]

    def secrets(self) -> tuple[str, ...]:
        """Strings only this workspace's people should ever see (its names, texts and people)."""
        return (
            self.team_id,
            self.ritual_name,
            self.win_text,
            self.commitment_text,
            self.prompt_text,
            *self.marketing,
            *self.it,
        )


# For tests that count check-ins (test_pulses covers the pulse that follows one): one channel, and
# U_CREATOR as the creator a failing check-in tells.
CHECKIN_COUNTING: dict[str, object] = {
    "channel": "C0",
    "name": "Weekly",
    "created_by": "U_CREATOR",
    "pulse_enabled": False,
}


class World:
    """Builds rows for tests. `clock` is read for every timestamp not given explicitly.

    `ritual_defaults` are what every `ritual()` of this world gets unless told otherwise: the fields
    of `ritual_spec` and `created_by`, so a test file states its usual ritual once, e.g.
    `World(database, clock, ritual_defaults={"channel": "C0", "pulse_enabled": False})`.
    """

    def __init__(
        self, database: Database, clock: Clock, *, ritual_defaults: Mapping[str, Any] | None = None
    ) -> None:
        self.database = database
        self.clock = clock
        self.ritual_defaults = dict(ritual_defaults or {})

    def now(self) -> dt.datetime:
        return self.clock.now()

    # -- workspaces and people ------------------------------------------------------------------

    def workspace(self, team_id: str = TEAM, *, name: str | None = None) -> int:
        """The workspace row for `team_id`, created (installed now) if it does not exist yet."""
        with self.database.begin() as session:
            workspace = ensure_workspace(session, team_id, now=self.now())
            if name:
                workspace.name = name
            return workspace.id

    def _workspace_id(self, team_id: str) -> int:
        return self.workspace(team_id)

    def mark_uninstalled(self, team_id: str = TEAM, *, at: dt.datetime | None = None) -> None:
        """Stamp the workspace uninstalled and nothing more (its tokens and open pulses stay): the
        state an uninstall racing other work can leave. `tandem`'s own uninstall is an event a test
        sends through the app."""
        workspace_id = self._workspace_id(team_id)
        with self.database.begin() as session:
            workspace = session.get(Workspace, workspace_id)
            assert workspace is not None
            workspace.uninstalled_at = at or self.now()

    def tokens(self, team_id: str = TEAM, *, bot_token: str = "xoxb-stored") -> None:
        """The rows slack_sdk's installation store keeps after an OAuth install (an installer's and
        the bot's), without a workspace row: the app makes that on the first request it sees."""
        common = {"client_id": "1.2", "app_id": "A0TANDEM", "team_id": team_id, "bot_token": bot_token}
        with self.database.begin() as session:
            session.execute(slack_installations.insert().values(user_id="U_INSTALLER", **common))
            session.execute(slack_bots.insert().values(**common))

    def person(
        self,
        user_id: str,
        *,
        team_id: str = TEAM,
        side: Side | None = None,
        timezone: str | None = None,
        reminders: bool = True,
    ) -> int:
        workspace_id = self._workspace_id(team_id)
        with self.database.begin() as session:
            person = get_or_create_person(session, workspace_id, user_id)
            if side is not None:
                person.side = side
            if timezone is not None:
                person.timezone = timezone
            person.reminders = reminders
            session.flush()
            return person.id

    def people(self, sides: Mapping[str, Side], *, team_id: str = TEAM) -> None:
        """Many people at once, each with a side (one unit of work, for worlds of hundreds)."""
        workspace_id = self._workspace_id(team_id)
        with self.database.begin() as session:
            for user_id, side in sides.items():
                get_or_create_person(session, workspace_id, user_id).side = side

    # -- rituals --------------------------------------------------------------------------------

    def ritual(
        self,
        *,
        team_id: str = TEAM,
        created_by: str | None = None,
        spec: RitualSpec | None = None,
        paused: bool = False,
        deleted: bool = False,
        now: dt.datetime | None = None,
        **spec_fields: Any,
    ) -> int:
        """A ritual made by `db.rituals.create_ritual` (members' sides are learnt from it, as when
        the setup modal is saved). `spec_fields` go to `ritual_spec` when no `spec` is given, over
        the world's `ritual_defaults`; the creator defaults to the first marketing member."""
        fields = {**self.ritual_defaults, **spec_fields}
        default_creator = fields.pop("created_by", None)
        created_by = created_by or default_creator
        spec = spec or ritual_spec(**fields)
        workspace_id = self._workspace_id(team_id)
        with self.database.begin() as session:
            workspace = session.get(Workspace, workspace_id)
            assert workspace is not None
            ritual = create_ritual(
                session,
                workspace,
                spec,
                created_by=created_by or (spec.marketing[0] if spec.marketing else "U_CREATOR"),
                now=now or self.now(),
            )
            if paused:
                pause_ritual(ritual, reason="paused by a test")
            if deleted:
                delete_ritual(ritual)
            return ritual.id

    # -- pulses ---------------------------------------------------------------------------------

    def pulse(
        self,
        ritual_id: int,
        *,
        owner: str | None = None,
        opened_at: dt.datetime | None = None,
        closes_at: dt.datetime | None = None,
        answers: Answers | None = None,
        closed: bool = False,
        closed_at: dt.datetime | None = None,
        message_ts: str | None = "1700000000.000100",
        reminder_hours: float = 0,
    ) -> int:
        """A pulse of `ritual_id` opened at `opened_at` (now), with `answers` ({user: {question: score}},
        given by people whose side the ritual taught) and, when `closed`, closed at `closed_at`
        (an hour after it opened) so its ballots became tallies. `reminder_hours` before it closes,
        its reminders are due (none unless told)."""
        opened = opened_at or self.now()
        with self.database.begin() as session:
            ritual = session.get(Ritual, ritual_id)
            assert ritual is not None, f"no ritual {ritual_id}"
            team_id = session.scalars(
                select(Workspace.team_id).where(Workspace.id == ritual.workspace_id)
            ).one()
            pulse = pulse_db.open_pulse(
                session,
                ritual,
                owner=owner or ritual.created_by,
                keys=VOTER_KEYS,
                now=opened,
                closes_at=closes_at,
                reminder_hours=reminder_hours,
            )
            pulse.message_ts = message_ts
            pulse.thread_ts = message_ts
            pulse_id = pulse.id
        for n, (user_id, scores) in enumerate((answers or {}).items()):
            for question, score in scores.items():
                with self.database.connect() as conn:
                    outcome = pulse_db.record_answer(
                        conn,
                        pulse_id,
                        team_id=team_id,
                        user_id=user_id,
                        question=question,
                        score=score,
                        action_ts=f"{opened.timestamp() + n + 1:.6f}",
                        now=opened,
                        keys=VOTER_KEYS,
                    )
                assert outcome.status is pulse_db.AnswerStatus.RECORDED, (user_id, outcome)
        if closed or closed_at is not None:
            self.close_pulse(pulse_id, at=closed_at or opened + dt.timedelta(hours=1))
        return pulse_id

    def close_pulse(self, pulse_id: int, *, at: dt.datetime | None = None) -> None:
        with self.database.begin() as session:
            pulse = session.get(Pulse, pulse_id)
            assert pulse is not None, f"no pulse {pulse_id}"
            pulse_db.close_pulse(session, pulse, now=at or self.now())

    def tallied_pulse(
        self,
        ritual_id: int,
        *,
        opened_at: dt.datetime,
        marketing: Counts,
        it: Counts,
        level_other: Counts | None = None,
        theme: str | None = None,
        anonymous: bool = True,
        owner: str | None = None,
        votes: Answers | None = None,
        theme_answers: tuple[Counts, Counts] | None = None,
        team: tuple[int, int] | None = None,
    ) -> int:
        """A pulse that closed a day after it opened, given by its counts rather than by people: each
        side answered both questions alike (`marketing`, `it`: {score: how many}), and `level_other`
        people of neither side the level question. `votes` ({user: {question: score}}) are the
        named answers a pulse that is not anonymous keeps, by people whose side the ritual taught.
        With a `theme`, the pulse asked that theme's question, answered like the partner question
        unless `theme_answers` ((marketing, IT) counts) says otherwise. `team`: (marketing, IT)
        members when it opened, as a pulse opened by Tandem records them.
        For tests of figures over many pulses, where who answered does not matter."""
        closed = opened_at + dt.timedelta(days=1)
        with self.database.begin() as session:
            ritual = session.get(Ritual, ritual_id)
            assert ritual is not None, f"no ritual {ritual_id}"
            pulse = Pulse(
                ritual_id=ritual_id,
                channel_id=ritual.channel_id,
                owner=owner or ritual.created_by,
                anonymous=anonymous,
                opened_at=opened_at,
                closes_at=closed,
                closed_at=closed,
                theme=theme,
                theme_question=asked.key if (asked := question_for_theme(theme)) else None,
                team_marketing=team[0] if team else None,
                team_it=team[1] if team else None,
            )
            session.add(pulse)
            session.flush()
            counts = [
                (q, side, marketing if side is Side.MARKETING else it)
                for q in (PulseQuestion.PARTNER, PulseQuestion.LEVEL)
                for side in (Side.MARKETING, Side.IT)
            ]
            if pulse.theme_question is not None:
                on_theme = theme_answers or (marketing, it)
                counts += [
                    (PulseQuestion.THEME, Side.MARKETING, on_theme[0]),
                    (PulseQuestion.THEME, Side.IT, on_theme[1]),
                ]
            counts.append((PulseQuestion.LEVEL, Side.OTHER, level_other or {}))
            for question, side, scores in counts:
                for score, n in scores.items():
                    session.add(
                        PulseTally(pulse_id=pulse.id, question=question, side=side, score=score, count=n)
                    )
            for user_id, answers in (votes or {}).items():
                person = session.scalars(
                    select(Person).where(
                        Person.workspace_id == ritual.workspace_id, Person.slack_user_id == user_id
                    )
                ).one()
                assert person.side is not None, f"{user_id} has no side"
                for question, score in answers.items():
                    session.add(
                        PulseVote(
                            pulse_id=pulse.id,
                            question=question,
                            person_id=person.id,
                            side=person.side,
                            score=score,
                        )
                    )
            return pulse.id

    # -- wins, commitments, prompts -------------------------------------------------------------

    def win(
        self,
        *,
        team_id: str = TEAM,
        what: str = "Launched the pricing page a week early",
        marketing: tuple[str, ...] = ("U_MKT1",),
        it: tuple[str, ...] = ("U_IT1",),
        channel: str = CHANNEL,
        created_by: str | None = None,
        ritual_id: int | None = None,
        outcome: str | None = None,
        link: str | None = None,
        message_ts: str | None = "1700000000.000200",
        withdrawn: bool = False,
        at: dt.datetime | None = None,
    ) -> int:
        workspace_id = self._workspace_id(team_id)
        spec = WinSpec(
            what=what,
            marketing=marketing,
            it=it,
            channel_id=channel,
            outcome=outcome,
            link=link,
            ritual_id=ritual_id,
        )
        with self.database.begin() as session:
            win = create_win(
                session, workspace_id, spec, created_by=created_by or marketing[0], now=at or self.now()
            )
            win.message_ts = message_ts
            if withdrawn:
                withdraw_win(win, now=at or self.now())
            return win.id

    def commitment(
        self,
        *,
        team_id: str = TEAM,
        what: str = "Agree the tracking plan",
        marketing_owner: str = "U_MKT1",
        it_owner: str = "U_IT1",
        due: dt.date | None = None,
        ritual_id: int | None = None,
        channel: str | None = None,
        created_by: str | None = None,
        at: dt.datetime | None = None,
    ) -> int:
        """An open commitment, due a week from now unless told (in its ritual's channel if it has one)."""
        workspace_id = self._workspace_id(team_id)
        now = at or self.now()
        if ritual_id is not None and channel is None:
            with self.database.read() as session:
                ritual = session.get(Ritual, ritual_id)
                channel = ritual.channel_id if ritual else None
        spec = CommitmentSpec(
            what=what,
            marketing_owner=marketing_owner,
            it_owner=it_owner,
            due=due or (now.date() + dt.timedelta(days=7)),
            ritual_id=ritual_id,
            channel_id=channel,
        )
        with self.database.begin() as session:
            commitment = create_commitment(
                session, workspace_id, spec, created_by=created_by or marketing_owner, now=now
            )
            return commitment.id

    def commitment_done(self, commitment_id: int, *, by: str, at: dt.datetime | None = None) -> None:
        with self.database.begin() as session:
            commitment = session.get(Commitment, commitment_id)
            assert commitment is not None, f"no commitment {commitment_id}"
            mark_done(commitment, by=by, now=at or self.now())

    def commitment_dropped(
        self, commitment_id: int, reason: str, *, by: str, at: dt.datetime | None = None
    ) -> None:
        with self.database.begin() as session:
            commitment = session.get(Commitment, commitment_id)
            assert commitment is not None, f"no commitment {commitment_id}"
            drop(commitment, reason, by=by, now=at or self.now())

    def prompt(
        self,
        *,
        team_id: str = TEAM,
        theme: str = "data",
        text: str = "Which number would change our next campaign?",
        created_by: str = "U_MKT1",
    ) -> int:
        workspace_id = self._workspace_id(team_id)
        with self.database.begin() as session:
            prompt = add_prompt(session, workspace_id, Theme(theme), text, user_id=created_by, now=self.now())
            return prompt.id

    # -- a workspace with one of everything --------------------------------------------------------

    def furnished(
        self,
        team_id: str,
        *,
        label: str,
        channel: str,
        marketing: tuple[str, ...],
        it: tuple[str, ...],
        ritual_name: str | None = None,
    ) -> Furnished:
        """A workspace with a ritual (its members, sides learnt), a pulse closed a week ago with
        answers, an open pulse with answers, a win, a commitment of the ritual and a custom prompt.

        `label` goes into every text (e.g. "ALPHA"), so a test can look for it where it must not be.
        """
        now = self.now()
        self.workspace(team_id, name=f"{label} Inc")
        name = ritual_name or f"{label.title()} sync"
        ritual_id = self.ritual(team_id=team_id, name=name, channel=channel, marketing=marketing, it=it)
        everyone: dict[str, dict[PulseQuestion, int]] = {
            **{u: {PulseQuestion.PARTNER: 4, PulseQuestion.LEVEL: 3} for u in marketing},
            **{u: {PulseQuestion.PARTNER: 2, PulseQuestion.LEVEL: 5} for u in it},
        }
        closed_pulse_id = self.pulse(
            ritual_id, opened_at=now - dt.timedelta(days=7), answers=everyone, closed=True
        )
        open_pulse_id = self.pulse(ritual_id, opened_at=now - dt.timedelta(hours=1), answers=everyone)
        win_text = f"{label} shipped the secret launch page"
        win_id = self.win(
            team_id=team_id,
            what=win_text,
            marketing=marketing[:1],
            it=it[:1],
            channel=channel,
            ritual_id=ritual_id,
        )
        commitment_text = f"{label} agrees the confidential tracking plan"
        commitment_id = self.commitment(
            team_id=team_id,
            what=commitment_text,
            marketing_owner=marketing[0],
            it_owner=it[0],
            ritual_id=ritual_id,
        )
        prompt_text = f"What would {label} measure first if budgets doubled?"
        prompt_id = self.prompt(team_id=team_id, text=prompt_text, created_by=marketing[0])
        return Furnished(
            team_id=team_id,
            workspace_id=self._workspace_id(team_id),
            channel_id=channel,
            ritual_id=ritual_id,
            ritual_name=name,
            marketing=marketing,
            it=it,
            open_pulse_id=open_pulse_id,
            closed_pulse_id=closed_pulse_id,
            win_id=win_id,
            win_text=win_text,
            commitment_id=commitment_id,
            commitment_text=commitment_text,
            prompt_id=prompt_id,
            prompt_text=prompt_text,
        )

    def side_of(self, user_id: str, *, team_id: str = TEAM) -> Side | None:
        with self.database.read() as session:
            return session.scalars(
                select(Person.side)
                .join(Workspace, Workspace.id == Person.workspace_id)
                .where(Workspace.team_id == team_id, Person.slack_user_id == user_id)
            ).one_or_none()


# -- what is in the database ----------------------------------------------------------------------

Row = dict[str, Any]
Snapshot = dict[str, dict[tuple[Any, ...], Row]]


def snapshot(database: Database) -> Snapshot:
    """Every row of every table (`Base.metadata.sorted_tables`), keyed by table name and primary key."""
    tables: Snapshot = {}
    with database.read() as session:
        for table in Base.metadata.sorted_tables:
            key = [c.name for c in table.primary_key.columns]
            rows = session.execute(select(table)).mappings().all()
            tables[table.name] = {tuple(row[k] for k in key): dict(row) for row in rows}
    return tables


@dataclass(frozen=True)
class Change:
    """One row that differs between two snapshots: `before` None for a new row, `after` None for a gone one."""

    table: str
    key: tuple[Any, ...]
    before: Row | None
    after: Row | None

    def __str__(self) -> str:
        if self.before is None:
            return f"{self.table}{list(self.key)}: new row {self.after}"
        if self.after is None:
            return f"{self.table}{list(self.key)}: row gone (was {self.before})"
        changed = {
            k: (self.before[k], self.after[k]) for k in self.after if self.before.get(k) != self.after[k]
        }
        return f"{self.table}{list(self.key)}: changed {changed}"


def changes(before: Snapshot, after: Snapshot) -> list[Change]:
    """Rows added, removed or changed between two snapshots of the same database."""
    found: list[Change] = []
    for table in after.keys() | before.keys():
        old, new = before.get(table, {}), after.get(table, {})
        for key in sorted(old.keys() | new.keys(), key=repr):
            if old.get(key) != new.get(key):
                found.append(Change(table, key, old.get(key), new.get(key)))
    return found


# Columns that tie a row to a workspace, directly or through the row they point at.
SCOPE_COLUMNS = {
    "workspace_id": "workspaces",
    "ritual_id": "rituals",
    "pulse_id": "pulses",
    "win_id": "wins",
    "person_id": "people",
}


def workspace_of(tables: Snapshot, table: str, row: Row) -> int | None:
    """The workspace a row belongs to, following its scope columns (a ballot through its pulse and
    ritual); None for a row of no workspace (a processed event, slack_sdk's tables)."""
    if table == "workspaces":
        return row["id"]
    if table in ("slack_installations", "slack_bots"):
        team = row.get("team_id")
        found = [k[0] for k, r in tables["workspaces"].items() if r["team_id"] == team]
        return found[0] if found else None
    for column, target in SCOPE_COLUMNS.items():
        value = row.get(column)
        if value is not None:
            parent = tables.get(target, {}).get((value,))
            return workspace_of(tables, target, parent) if parent is not None else None
    return None
