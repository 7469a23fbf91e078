"""pulses

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 08:11:29.305073
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pulses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ritual_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("opened_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders_due_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ballot_salt", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["occurrences.id"],
            name=op.f("fk_pulses_occurrence_id_occurrences"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ritual_id"], ["rituals.id"], name=op.f("fk_pulses_ritual_id_rituals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulses")),
    )
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulses_closes_at"), ["closes_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_pulses_ritual_id"), ["ritual_id"], unique=False)

    op.create_table(
        "pulse_ballots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column(
            "question",
            sa.Enum(
                "partner",
                "level",
                name="ballot_question",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("voter", sa.String(length=64), nullable=False),
        sa.Column(
            "side",
            sa.Enum(
                "marketing",
                "it",
                "other",
                name="ballot_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("action_ts", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulses.id"], name=op.f("fk_pulse_ballots_pulse_id_pulses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_ballots")),
        sa.UniqueConstraint(
            "pulse_id", "question", "voter", name=op.f("uq_pulse_ballots_pulse_id_question_voter")
        ),
    )
    with op.batch_alter_table("pulse_ballots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulse_ballots_pulse_id"), ["pulse_id"], unique=False)

    op.create_table(
        "pulse_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulses.id"], name=op.f("fk_pulse_reminders_pulse_id_pulses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_reminders")),
        sa.UniqueConstraint("pulse_id", "voter", name=op.f("uq_pulse_reminders_pulse_id_voter")),
    )
    op.create_table(
        "pulse_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column(
            "question",
            sa.Enum(
                "partner",
                "level",
                name="pulse_question",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "side",
            sa.Enum(
                "marketing",
                "it",
                "other",
                name="tally_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulses.id"], name=op.f("fk_pulse_tallies_pulse_id_pulses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_tallies")),
        sa.UniqueConstraint(
            "pulse_id",
            "question",
            "side",
            "score",
            name=op.f("uq_pulse_tallies_pulse_id_question_side_score"),
        ),
    )
    op.create_table(
        "pulse_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column(
            "question",
            sa.Enum(
                "partner", "level", name="vote_question", native_enum=False, create_constraint=True, length=16
            ),
            nullable=False,
        ),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "side",
            sa.Enum(
                "marketing",
                "it",
                "other",
                name="vote_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_pulse_votes_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulses.id"], name=op.f("fk_pulse_votes_pulse_id_pulses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_votes")),
        sa.UniqueConstraint(
            "pulse_id", "question", "person_id", name=op.f("uq_pulse_votes_pulse_id_question_person_id")
        ),
    )
    with op.batch_alter_table("pulse_votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulse_votes_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pulse_votes_pulse_id"), ["pulse_id"], unique=False)

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders", sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pulse_window_hours", sa.Integer(), server_default="24", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.drop_column("pulse_window_hours")

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("reminders")

    with op.batch_alter_table("pulse_votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pulse_votes_pulse_id"))
        batch_op.drop_index(batch_op.f("ix_pulse_votes_person_id"))

    op.drop_table("pulse_votes")
    op.drop_table("pulse_tallies")
    op.drop_table("pulse_reminders")
    with op.batch_alter_table("pulse_ballots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pulse_ballots_pulse_id"))

    op.drop_table("pulse_ballots")
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pulses_ritual_id"))
        batch_op.drop_index(batch_op.f("ix_pulses_closes_at"))

    op.drop_table("pulses")
