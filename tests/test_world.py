"""The test-world factory builds what it says, so a failing test is about the app, not its world."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from db.models import (
    Commitment,
    CustomPrompt,
    Person,
    Pulse,
    PulseBallot,
    PulseQuestion,
    PulseTally,
    PulseVote,
    Ritual,
    RitualStatus,
    Side,
    Win,
    Workspace,
)
from db.session import Database
from tests.clock import FrozenClock
from tests.world import World, changes, ritual_spec, snapshot, workspace_of


def test_a_furnished_workspace_has_one_of_everything(database: Database, clock: FrozenClock) -> None:
    world = World(database, clock)
    home = world.furnished("T0001", label="HOME", channel="C_SHARED", marketing=("U_M",), it=("U_I",))
    other = world.furnished("T_OTHER", label="ZEBRA", channel="C_SHARED", marketing=("U_Z",), it=("U_Y",))
    with database.read() as session:
        ritual = session.get(Ritual, home.ritual_id)
        assert ritual is not None and ritual.workspace_id == home.workspace_id and ritual.name == "Home sync"
        assert {m.person.slack_user_id: m.side for m in ritual.members} == {
            "U_M": Side.MARKETING,
            "U_I": Side.IT,
        }
        closed, open_ = session.get(Pulse, home.closed_pulse_id), session.get(Pulse, home.open_pulse_id)
        assert closed is not None and closed.closed_at is not None and closed.ballot_salt is None
        assert open_ is not None and open_.closed_at is None and open_.closes_at > clock.now()
        tallies = session.scalar(select(func.sum(PulseTally.count)).where(PulseTally.pulse_id == closed.id))
        ballots = session.scalar(select(func.count()).where(PulseBallot.pulse_id == open_.id))
        assert tallies == 4 and ballots == 4  # two people, two questions each
        win, commitment = session.get(Win, home.win_id), session.get(Commitment, home.commitment_id)
        prompt = session.get(CustomPrompt, home.prompt_id)
        assert win is not None and win.what == home.win_text and win.ritual_id == home.ritual_id
        assert commitment is not None and commitment.ritual_id == home.ritual_id
        assert commitment.due_date == clock.now().date() + dt.timedelta(days=7)
        assert prompt is not None and prompt.text == home.prompt_text
    assert home.workspace_id != other.workspace_id and home.ritual_id != other.ritual_id
    assert "ZEBRA" in other.win_text and other.team_id in other.secrets()


def test_snapshots_tell_which_workspace_a_changed_row_belongs_to(
    database: Database, clock: FrozenClock
) -> None:
    world = World(database, clock)
    home = world.furnished("T0001", label="HOME", channel="C1", marketing=("U_M",), it=("U_I",))
    before = snapshot(database)
    ritual_id = world.ritual(spec=ritual_spec(name="Second", channel="C2"), paused=True)
    world.person("U_NEW", side=Side.OTHER)
    with database.begin() as session:
        session.execute(select(Person))  # a read changes nothing
        ritual = session.get(Ritual, home.ritual_id)
        assert ritual is not None
        ritual.drift_alerts = False
    after = snapshot(database)
    found = {(c.table, c.before is None) for c in changes(before, after)}
    assert ("rituals", False) in found and ("rituals", True) in found and ("people", True) in found
    for change in changes(before, after):
        row = change.after or change.before
        if change.table == "schedule_changes":
            continue  # the schedulers' global change stamp (db/schedule.py), raised by the new ritual
        assert row is not None and workspace_of(after, change.table, row) == home.workspace_id
    with database.read() as session:
        paused = session.get(Ritual, ritual_id)
        assert paused is not None and paused.status is RitualStatus.PAUSED
    answered = world.pulse(ritual_id, answers={"U_MKT1": {PulseQuestion.LEVEL: 5}}, closed=True)
    with database.read() as session:
        assert session.scalar(select(func.sum(PulseTally.count)).where(PulseTally.pulse_id == answered)) == 1


def test_a_files_usual_ritual_and_pulses_given_by_their_counts(
    database: Database, clock: FrozenClock
) -> None:
    world = World(database, clock, ritual_defaults={"channel": "C0", "created_by": "U_CREATOR"})
    ritual_id = world.ritual(pulse_anonymous=False)
    world.mark_uninstalled()
    pulse_id = world.tallied_pulse(
        ritual_id,
        opened_at=clock.now() - dt.timedelta(days=3),
        marketing={3: 2},
        it={4: 1},
        level_other={5: 1},
        anonymous=False,
        votes={"U_MKT1": {PulseQuestion.PARTNER: 3}},
    )
    done = world.commitment(ritual_id=ritual_id)
    dropped = world.commitment(ritual_id=ritual_id)
    world.commitment_done(done, by="U_IT1")
    world.commitment_dropped(dropped, "Priorities changed", by="U_MKT1")
    with database.read() as session:
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None and (ritual.channel_id, ritual.created_by) == ("C0", "U_CREATOR")
        workspace = session.get(Workspace, ritual.workspace_id)
        assert workspace is not None and workspace.uninstalled_at == clock.now()
        pulse = session.get(Pulse, pulse_id)
        assert pulse is not None and pulse.closed_at == clock.now() - dt.timedelta(days=2)
        tallies = {(t.question, t.side, t.score): t.count for t in session.scalars(select(PulseTally))}
        assert tallies == {
            (PulseQuestion.PARTNER, Side.MARKETING, 3): 2,
            (PulseQuestion.LEVEL, Side.MARKETING, 3): 2,
            (PulseQuestion.PARTNER, Side.IT, 4): 1,
            (PulseQuestion.LEVEL, Side.IT, 4): 1,
            (PulseQuestion.LEVEL, Side.OTHER, 5): 1,
        }
        (vote,) = session.scalars(select(PulseVote)).all()
        assert (vote.side, vote.score) == (Side.MARKETING, 3)
        statuses = [c.status.value for c in session.scalars(select(Commitment).order_by(Commitment.id))]
        assert statuses == ["done", "dropped"]
