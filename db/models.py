"""Typed models. Alembic owns every table here, slack_sdk's installation and OAuth-state tables too.

Later features add rituals, occurrences, prompts, pulses and responses, wins and commitments; each
hangs off `Workspace` (a Slack team) and refers to people through `Person`, so a workspace that
uninstalls keeps its history and a person can be forgotten in one place.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, utcnow


# The tables slack_sdk's SQLAlchemy installation and OAuth-state stores read and write, declared
# here so that Alembic owns them like every other table and db/ stays free of Slack imports. They
# are column for column what slack_sdk's `build_*_table` builders make (a test compares them), under
# the default names the stores use at run time. Their datetimes are naive UTC, as slack_sdk writes them.
def _token_columns() -> list[Column]:
    return [
        Column("bot_token", String(200)),
        Column("bot_id", String(32)),
        Column("bot_user_id", String(32)),
        Column("bot_scopes", String(1000)),
        Column("bot_refresh_token", String(200)),
        Column("bot_token_expires_at", DateTime),
    ]


slack_installations = Table(
    "slack_installations",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    *_token_columns(),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)
slack_bots = Table(
    "slack_bots",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    *_token_columns(),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)
slack_oauth_states = Table(
    "slack_oauth_states",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)


class Side(enum.StrEnum):
    """Which function a person works in. `other` covers sales, finance, the CEO's office..."""

    MARKETING = "marketing"
    IT = "it"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"marketing": "Marketing", "it": "IT", "other": "Other"}[self.value]


class Workspace(Base):
    """A Slack team Tandem is (or was) installed in."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    installed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set by app_uninstalled / tokens_revoked: scheduled work stops, history stays.
    uninstalled_at: Mapped[dt.datetime | None]
    # When Tandem may DM people here (`/tandem hours`), in each recipient's own timezone; unset
    # means db.working_hours.DEFAULT (09:00–18:00, Monday to Friday). Days are digits, Monday 0.
    work_start: Mapped[dt.time | None] = mapped_column(Time)
    work_end: Mapped[dt.time | None] = mapped_column(Time)
    work_days: Mapped[str | None] = mapped_column(String(7))

    people: Mapped[list[Person]] = relationship(back_populates="workspace", cascade="all, delete-orphan")

    @property
    def active(self) -> bool:
        return self.uninstalled_at is None


class Person(Base):
    """Someone in a workspace Tandem knows about: their side and their timezone."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("workspace_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    # Unknown until the person is named in a ritual, answers "marketing, IT or other?", or sets it.
    side: Mapped[Side | None] = mapped_column(
        Enum(
            Side,
            name="side",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    timezone: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    # `/tandem reminders off` opts out of pulse reminder DMs.
    reminders: Mapped[bool] = mapped_column(default=True, server_default=true())
    # `/tandem pairing off` leaves every ritual's one-to-one rounds (on again with `pairing on`).
    pairing: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    workspace: Mapped[Workspace] = relationship(back_populates="people")


class ProcessedEvent(Base):
    """Event ids already handled: Slack retries events, and each must take effect once."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class RitualStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DELETED = "deleted"  # hidden and unscheduled; its occurrences stay for reports


class OccurrenceStatus(enum.StrEnum):
    CLAIMED = "claimed"  # taken by a scheduler, being posted
    POSTED = "posted"
    SKIPPED = "skipped"  # by /tandem skip, before it was due
    MISSED = "missed"  # Tandem was down past the grace window
    FAILED = "failed"  # Slack refused or kept failing; `reason` says why
    # Slack's answer was ambiguous (a 5xx, a timeout) and the channel's history could not be read
    # (no history scope): it may or may not be in the channel. Never re-posted, never called failed.
    UNCERTAIN = "uncertain"


def _str_enum(enum_cls: type[enum.StrEnum], name: str, length: int = 16) -> Enum:
    # Stored as VARCHAR with a CHECK constraint (not a native PostgreSQL enum), so both backends
    # hold the same thing and adding a value is a plain migration.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda e: [m.value for m in e],
    )


class Ritual(Base):
    """A recurring joint check-in in one channel, in its own timezone."""

    __tablename__ = "rituals"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(80))
    cadence_kind: Mapped[str] = mapped_column(String(16))
    weekday: Mapped[int]
    local_time: Mapped[dt.time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    interval_weeks: Mapped[int] = mapped_column(default=1)
    week_of_month: Mapped[int] = mapped_column(default=1)
    anchor_date: Mapped[dt.date | None] = mapped_column(Date)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every theme
    pulse_enabled: Mapped[bool] = mapped_column(default=True)
    pulse_anonymous: Mapped[bool] = mapped_column(default=True)
    # How long a pulse stays open (it also closes at the next check-in, whichever comes first).
    pulse_window_hours: Mapped[int] = mapped_column(default=24, server_default="24")
    # Drift alerts DM the two leads when scores fall or the gap widens twice in a row.
    drift_alerts: Mapped[bool] = mapped_column(default=True, server_default=true())
    # The pulse that last triggered an alert, so one drift is reported once.
    drift_alerted_pulse_id: Mapped[int | None]
    # Cross-team one-to-ones: a round every this many weeks (1, 2 or 4); 0 is off, the default.
    pairing_weeks: Mapped[int] = mapped_column(default=0, server_default="0")
    # Uneven sides: extra people join a pair as a trio instead of sitting the round out.
    pairing_trios: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Rounds start at the first check-in time from this instant on (set when pairing is switched on).
    pairing_from: Mapped[dt.datetime | None]
    # Whether a check-in @-mentions every member; by default only its two leads are notified.
    notify_members: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The monthly digest DMed to the two leads on the month's first working day (on by default).
    leads_digest: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Written check-ins: this many hours before each check-in every member is DMed its prompt and
    # answers in a modal; the answers are posted in the check-in's thread (bot/usecases/written_answers.py).
    written_answers: Mapped[bool] = mapped_column(default=False, server_default=false())
    written_lead_hours: Mapped[int] = mapped_column(default=24, server_default="24")
    # Whether its anonymous pulses offer "Add a comment" (one anonymous text per person per pulse).
    pulse_comments: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[RitualStatus] = mapped_column(
        _str_enum(RitualStatus, "ritual_status"), default=RitualStatus.ACTIVE
    )
    paused_reason: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Occurrences are owed from this instant: set on create, resume and schedule edits, so that a
    # paused stretch or the time before an edit is never "caught up" on restart.
    schedule_from: Mapped[dt.datetime]
    # The next scheduled time (UTC) with no occurrence claimed yet, while active: the scheduler's
    # minutely job selects the rituals due by it (db/schedule.py keeps it, jobs/scheduler.py reads it).
    next_due_at: Mapped[dt.datetime | None]

    members: Mapped[list[RitualMember]] = relationship(
        back_populates="ritual", cascade="all, delete-orphan", order_by="RitualMember.id"
    )


Index("ix_rituals_status_next_due_at", Ritual.status, Ritual.next_due_at)


class ScheduleChanges(Base):
    """One row: a counter raised by every change to when rituals run (created, edited, paused,
    resumed, deleted; a workspace installed or removed). A scheduler asks "changed since stamp S?"
    instead of reading every ritual again (db/schedule.py)."""

    __tablename__ = "schedule_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class RitualMember(Base):
    """Someone in a ritual, on one side of it."""

    __tablename__ = "ritual_members"
    __table_args__ = (UniqueConstraint("ritual_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ritual_id: Mapped[int] = mapped_column(ForeignKey("rituals.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    side: Mapped[Side] = mapped_column(_str_enum(Side, "member_side"))

    ritual: Mapped[Ritual] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()


class Occurrence(Base):
    """One check-in of a ritual, claimed under a unique constraint before anything is posted."""

    __tablename__ = "occurrences"
    __table_args__ = (UniqueConstraint("ritual_id", "scheduled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ritual_id: Mapped[int] = mapped_column(ForeignKey("rituals.id", ondelete="CASCADE"), index=True)
    scheduled_at: Mapped[dt.datetime]
    status: Mapped[OccurrenceStatus] = mapped_column(_str_enum(OccurrenceStatus, "occurrence_status"))
    reason: Mapped[str | None] = mapped_column(String(300))
    manual: Mapped[bool] = mapped_column(default=False)  # posted by /tandem now
    prompt_key: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[dt.datetime | None]
    posted_at: Mapped[dt.datetime | None]
    # A missed occurrence is mentioned by the next posted check-in, once.
    reported: Mapped[bool] = mapped_column(default=False)
    # Raised by whoever is about to post a claimed check-in (compare-and-set): a process that finds it
    # raised by someone else (a reconciler taking over a stale claim) does not post.
    lease: Mapped[int] = mapped_column(default=0, server_default="0")
    # The message as prepared at claim time ({"text", "blocks", "theme"}), so that a claim a crashed
    # process left behind can be posted as it was built; cleared once the outcome is known.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CustomPrompt(Base):
    """A workspace's own discussion prompt, mixed into rotation as `ws-<id>`."""

    __tablename__ = "custom_prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    theme: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[dt.datetime | None]  # kept so old check-ins still show their prompt

    @property
    def key(self) -> str:
        return f"ws-{self.id}"


class PulseQuestion(enum.StrEnum):
    """The mirrored questions: each side rates the other; everyone rates the collaboration."""

    PARTNER = "partner"  # marketing rates how IT partners with marketing; IT rates marketing
    LEVEL = "level"  # everyone: is collaboration at the right level?
    # Marketing and IT rate each other on the theme of the pulse's check-in, with the mirrored pair
    # `Pulse.theme_question` names (db.theme_questions): theme scores come from these answers only.
    THEME = "theme"


class Pulse(Base):
    """One pulse poll in a channel, open until `closes_at` or its ritual's next check-in."""

    __tablename__ = "pulses"

    id: Mapped[int] = mapped_column(primary_key=True)
    ritual_id: Mapped[int] = mapped_column(ForeignKey("rituals.id", ondelete="CASCADE"))
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("occurrences.id", ondelete="SET NULL"))
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    # Results go into this thread: the check-in's, or the pulse message's own when asked on demand.
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(32))  # Slack user id who may close it early
    anonymous: Mapped[bool]
    opened_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime] = mapped_column(index=True)
    closed_at: Mapped[dt.datetime | None]
    reminders_due_at: Mapped[dt.datetime | None]
    reminders_sent_at: Mapped[dt.datetime | None]
    # Keys ballots of an anonymous pulse while it is open; erased at close, with the ballots.
    ballot_salt: Mapped[str | None] = mapped_column(String(64))
    # Fingerprint of the server key the voters of this open anonymous pulse are keyed with
    # (`db.pulses.VoterKeys.check`); erased at close with the salt. None for a pulse opened before
    # the server key existed: its voters are keyed by the salt alone.
    voter_key_check: Mapped[str | None] = mapped_column(String(16))
    # The theme of the check-in prompt this pulse went out with: its partner scores are read as
    # "the <theme> partnership" when choosing where the next check-in should aim.
    theme: Mapped[str | None] = mapped_column(String(32))
    # The mirrored theme question this pulse asked (a db.theme_questions key); None: none was asked
    # (a pulse opened on demand, or before theme questions existed), so it measures no theme.
    theme_question: Mapped[str | None] = mapped_column(String(32))
    # How many of the ritual's members were on each side when the pulse opened: participation is
    # shown against these ("5 of 6"). None for pulses older than this record.
    team_marketing: Mapped[int | None]
    team_it: Mapped[int | None]
    # Whether this pulse takes anonymous comments (its ritual's setting when it opened; anonymous only).
    comments: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (Index("ix_pulses_ritual_id_opened_at", "ritual_id", "opened_at"),)


class PulseTally(Base):
    """How many people of one side gave one score to one question: all that reports ever read.

    Counts carry no person, no time and no order, so an anonymous pulse's results cannot be tied
    back to anyone once its ballots are gone.
    """

    __tablename__ = "pulse_tallies"
    __table_args__ = (UniqueConstraint("pulse_id", "question", "side", "score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulses.id", ondelete="CASCADE"))
    question: Mapped[PulseQuestion] = mapped_column(_str_enum(PulseQuestion, "pulse_question"))
    side: Mapped[Side] = mapped_column(_str_enum(Side, "tally_side"))
    score: Mapped[int]
    count: Mapped[int] = mapped_column(default=0)


class PulseBallot(Base):
    """One person's current answer while a pulse is open, so a changed answer replaces the old one.

    `voter` is an HMAC of the Slack user id with the pulse's salt for anonymous pulses, or the
    user id itself otherwise. Anonymous pulses lose their ballots and salt at close.
    """

    __tablename__ = "pulse_ballots"
    __table_args__ = (UniqueConstraint("pulse_id", "question", "voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulses.id", ondelete="CASCADE"), index=True)
    question: Mapped[PulseQuestion] = mapped_column(_str_enum(PulseQuestion, "ballot_question"))
    voter: Mapped[str] = mapped_column(String(64))
    side: Mapped[Side] = mapped_column(_str_enum(Side, "ballot_side"))
    score: Mapped[int]
    # Slack's action_ts of the click that set this answer: a late-arriving older click never wins.
    action_ts: Mapped[str] = mapped_column(String(32))


class PulseComment(Base):
    """One person's comment on an anonymous pulse.

    While the pulse is open, `voter` keys it exactly as a ballot is keyed (`db.pulses.voter_key`: the
    HMAC of the user id with the pulse's salt and the server key), only so its writer can find and
    edit it. Closing deletes these rows and writes the texts back in a random order with no voter
    (`db.comments.anonymise`), so neither a hash nor a row id nor an order ties a text to its writer.
    No timestamps, for the same reason.
    """

    __tablename__ = "pulse_comments"
    __table_args__ = (UniqueConstraint("pulse_id", "voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulses.id", ondelete="CASCADE"), index=True)
    voter: Mapped[str | None] = mapped_column(String(64))  # None once the pulse closed
    side: Mapped[Side] = mapped_column(_str_enum(Side, "comment_side"))  # the writer's side
    text: Mapped[str] = mapped_column(String(1000))


class PulseVote(Base):
    """Who answered what, kept only for pulses that are not anonymous (members may see it)."""

    __tablename__ = "pulse_votes"
    __table_args__ = (UniqueConstraint("pulse_id", "question", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulses.id", ondelete="CASCADE"), index=True)
    question: Mapped[PulseQuestion] = mapped_column(_str_enum(PulseQuestion, "vote_question"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    side: Mapped[Side] = mapped_column(_str_enum(Side, "vote_side"))
    score: Mapped[int]


class PulseReminder(Base):
    """A reminder DM sent for an open pulse; at most one per pulse per person."""

    __tablename__ = "pulse_reminders"
    __table_args__ = (UniqueConstraint("pulse_id", "voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulses.id", ondelete="CASCADE"))
    voter: Mapped[str] = mapped_column(String(64))  # same keying as PulseBallot.voter


class Win(Base):
    """A shared win: something marketing and IT achieved together, celebrated in a channel."""

    __tablename__ = "wins"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    ritual_id: Mapped[int | None] = mapped_column(ForeignKey("rituals.id", ondelete="SET NULL"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    what: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None]
    withdrawn_at: Mapped[dt.datetime | None]
    message_ts: Mapped[str | None] = mapped_column(String(32))
    # A win someone wrote in a written check-in answer: kept out of digests, agendas and Home tabs
    # until one of the ritual's leads confirms it (bot/usecases/written_answers.py).
    draft: Mapped[bool] = mapped_column(default=False, server_default=false())

    credits: Mapped[list[WinCredit]] = relationship(
        back_populates="win", cascade="all, delete-orphan", order_by="WinCredit.id"
    )


class WinCredit(Base):
    """Someone credited in a win, on their side. Public by nature: the celebration names them."""

    __tablename__ = "win_credits"
    __table_args__ = (UniqueConstraint("win_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    win_id: Mapped[int] = mapped_column(ForeignKey("wins.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[Side] = mapped_column(_str_enum(Side, "credit_side"))

    win: Mapped[Win] = relationship(back_populates="credits")


class CommitmentStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class Commitment(Base):
    """Something the two sides agreed to do, with one owner from each side and a due date."""

    __tablename__ = "commitments"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    ritual_id: Mapped[int | None] = mapped_column(ForeignKey("rituals.id", ondelete="SET NULL"), index=True)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    what: Mapped[str] = mapped_column(String(500))
    marketing_owner: Mapped[str] = mapped_column(String(32), index=True)
    it_owner: Mapped[str] = mapped_column(String(32), index=True)
    due_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[CommitmentStatus] = mapped_column(
        _str_enum(CommitmentStatus, "commitment_status"), default=CommitmentStatus.OPEN
    )
    reason: Mapped[str | None] = mapped_column(String(300))  # why it was dropped
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(32))
    # Set when the one overdue nudge went out; moving the due date clears it.
    nudged_at: Mapped[dt.datetime | None]
    # Where it came from when made with "Make this a commitment": "result", "drift" or "comment"
    # (db.commitments.SOURCE_KINDS), and the pulse it was about. None: made from scratch.
    source_kind: Mapped[str | None] = mapped_column(String(16))
    source_pulse_id: Mapped[int | None] = mapped_column(
        ForeignKey("pulses.id", ondelete="SET NULL"), index=True
    )


class WinDigest(Base):
    """The monthly wins digest of one channel, claimed under a unique constraint before posting."""

    __tablename__ = "win_digests"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7))  # "2026-11"
    status: Mapped[OccurrenceStatus] = mapped_column(_str_enum(OccurrenceStatus, "digest_status"))
    reason: Mapped[str | None] = mapped_column(String(300))
    claimed_at: Mapped[dt.datetime]
    message_ts: Mapped[str | None] = mapped_column(String(32))


class SeenSubmission(Base):
    """A modal submission already acted on: Slack's retries, a double click and a replay within the
    signature window carry the same view id and hash, and must create one object."""

    __tablename__ = "seen_submissions"
    __table_args__ = (UniqueConstraint("view_id", "view_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    view_id: Mapped[str] = mapped_column(String(64))
    view_hash: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class PairingStatus(enum.StrEnum):
    PENDING = "pending"  # introduced (or about to be); nobody answered yet
    MET = "met"  # "We met"
    SKIPPED = "skipped"  # "Skip this round": the pair did not meet, and may be paired again this cycle


class IntroStatus(enum.StrEnum):
    PENDING = "pending"  # not sent yet: the pairing job sends it (again after a restart)
    SENDING = "sending"  # claimed by one process, being sent
    SENT = "sent"
    FAILED = "failed"  # Slack refused; `reason` says why (never sent twice: a duplicate is worse)


class PairingRound(Base):
    """One round of a ritual's cross-team one-to-ones, claimed under a unique constraint (like a
    check-in's occurrence) before anyone is paired, so two schedulers never pair a round twice."""

    __tablename__ = "pairing_rounds"
    __table_args__ = (UniqueConstraint("ritual_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ritual_id: Mapped[int] = mapped_column(ForeignKey("rituals.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    # Halfway: pairs that have not answered by then get one nudge each, in working hours.
    nudge_at: Mapped[dt.datetime]
    purpose: Mapped[str] = mapped_column(String(16))  # db.pairing.PURPOSES key
    claimed_at: Mapped[dt.datetime]

    pairings: Mapped[list[Pairing]] = relationship(
        back_populates="round", cascade="all, delete-orphan", order_by="Pairing.id"
    )


class Pairing(Base):
    """A pair (or trio) introduced in a round, and what they answered."""

    __tablename__ = "pairings"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("pairing_rounds.id", ondelete="CASCADE"), index=True)
    status: Mapped[PairingStatus] = mapped_column(
        _str_enum(PairingStatus, "pairing_status"), default=PairingStatus.PENDING
    )
    answered_by: Mapped[str | None] = mapped_column(String(32))
    answered_at: Mapped[dt.datetime | None]
    prompt_key: Mapped[str | None] = mapped_column(String(32))
    intro_status: Mapped[IntroStatus] = mapped_column(
        _str_enum(IntroStatus, "intro_status"), default=IntroStatus.PENDING
    )
    intro_claimed_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(String(300))
    channel_id: Mapped[str | None] = mapped_column(String(32))  # the group DM
    message_ts: Mapped[str | None] = mapped_column(String(32))

    round: Mapped[PairingRound] = relationship(back_populates="pairings")
    members: Mapped[list[PairingMember]] = relationship(
        back_populates="pairing", cascade="all, delete-orphan", order_by="PairingMember.id"
    )


class PairingMember(Base):
    """Someone in a pairing, on their side."""

    __tablename__ = "pairing_members"
    __table_args__ = (UniqueConstraint("pairing_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pairing_id: Mapped[int] = mapped_column(ForeignKey("pairings.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    side: Mapped[Side] = mapped_column(_str_enum(Side, "pairing_side"))

    pairing: Mapped[Pairing] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()


class PairingSitOut(Base):
    """Someone who sat a round out (uneven sides): the next rounds pair them first."""

    __tablename__ = "pairing_sit_outs"
    __table_args__ = (UniqueConstraint("round_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("pairing_rounds.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)


class PairingNudge(Base):
    """The one halfway nudge a person got for a pairing, claimed under a unique constraint first."""

    __tablename__ = "pairing_nudges"
    __table_args__ = (UniqueConstraint("pairing_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pairing_id: Mapped[int] = mapped_column(ForeignKey("pairings.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[dt.datetime]


class HeldDmStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the recipient's working hours (`not_before`)
    SENDING = "sending"  # claimed by one sender; becomes sent or failed
    SENT = "sent"
    SKIPPED = "skipped"  # its deadline came before the recipient's working hours, or it was no longer wanted
    FAILED = "failed"  # Slack refused it, or a sender stopped while sending it


class HeldDm(Base):
    """A direct message waiting for its recipient's working hours (bot/usecases/direct_messages.py).

    The unique (workspace, key) makes each DM exactly once however many processes or runs ask for
    it; a row is claimed (status `sending`) before Slack is called, so it is never sent twice.
    """

    __tablename__ = "held_dms"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        Index("ix_held_dms_status_not_before", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # "pulse-reminder", "commitment-nudge", "drift-alert"...
    key: Mapped[str] = mapped_column(String(200))  # what makes it one message: kind, subject, recipient
    text: Mapped[str] = mapped_column(Text)
    blocks: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    # An optional file (a chart) sent with the message as its comment.
    file_content: Mapped[bytes | None] = mapped_column(LargeBinary)
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_title: Mapped[str | None] = mapped_column(String(200))
    file_alt_text: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[dt.datetime]
    deadline: Mapped[dt.datetime | None]  # useless from then on (the pulse it reminds of has closed)
    status: Mapped[HeldDmStatus] = mapped_column(_str_enum(HeldDmStatus, "held_dm_status"))
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]


class LeadsDigest(Base):
    """One lead's monthly digest of one ritual, claimed under a unique constraint before it is
    handed to the held-DM queue (bot/usecases/leads_digest.py): once per ritual, month and lead,
    however many schedulers run. `queued_at` is set once the DM is queued (its own key makes a
    repeated hand-off after a crash send nothing twice); `outcome` is how the hand-off ended."""

    __tablename__ = "leads_digests"
    __table_args__ = (UniqueConstraint("ritual_id", "period", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ritual_id: Mapped[int] = mapped_column(ForeignKey("rituals.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))  # the month it is about, "2026-11"
    user_id: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[dt.datetime]
    queued_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # a DmStatus value


class WrittenRound(Base):
    """The written answers collected before one check-in of a ritual, claimed under a unique
    constraint (ritual, check-in time) when it opens, so two schedulers never ask twice.

    The prompt is chosen once, here, and the check-in at `scheduled_at` posts the same one.
    """

    __tablename__ = "written_rounds"
    __table_args__ = (UniqueConstraint("ritual_id", "scheduled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ritual_id: Mapped[int] = mapped_column(ForeignKey("rituals.id", ondelete="CASCADE"), index=True)
    scheduled_at: Mapped[dt.datetime]  # the check-in's time: answers close then
    opened_at: Mapped[dt.datetime]
    prompt_key: Mapped[str] = mapped_column(String(32))
    prompt_theme: Mapped[str] = mapped_column(String(32))
    prompt_text: Mapped[str] = mapped_column(Text)
    # Set once every member's question DM was asked for (held or sent); a run after a crash finishes it.
    asked_at: Mapped[dt.datetime | None]
    # Claimed (compare-and-set) by whoever posts the answers into the check-in's thread.
    summary_claimed_at: Mapped[dt.datetime | None]
    summary_ts: Mapped[str | None] = mapped_column(String(32))

    answers: Mapped[list[WrittenAnswer]] = relationship(
        back_populates="round", cascade="all, delete-orphan", order_by="WrittenAnswer.id"
    )


class WrittenAnswer(Base):
    """One member asked in a written round, and what they wrote (None until they answer).

    Shown with their name: written answers are not anonymous, and the modal says so.
    """

    __tablename__ = "written_answers"
    __table_args__ = (UniqueConstraint("round_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("written_rounds.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    side: Mapped[Side] = mapped_column(_str_enum(Side, "written_side"))
    answer: Mapped[str | None] = mapped_column(Text)
    need: Mapped[str | None] = mapped_column(Text)  # "one thing I need from the other side"
    win_text: Mapped[str | None] = mapped_column(Text)
    win_id: Mapped[int | None] = mapped_column(ForeignKey("wins.id", ondelete="SET NULL"))
    answered_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]
    # When this member's one reminder is due (inside their working hours), and when it was claimed.
    remind_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]

    round: Mapped[WrittenRound] = relationship(back_populates="answers")
    person: Mapped[Person] = relationship()
