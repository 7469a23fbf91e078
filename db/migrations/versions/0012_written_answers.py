"""written check-ins: rounds of written answers before a check-in, the ritual's setting, draft wins

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("written_answers", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("written_lead_hours", sa.Integer(), server_default="24", nullable=False)
        )

    with op.batch_alter_table("wins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table(
        "written_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ritual_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("prompt_key", sa.String(length=32), nullable=False),
        sa.Column("prompt_theme", sa.String(length=32), nullable=False),
        sa.Column("prompt_text", sa.Text(), nullable=False),
        sa.Column("asked_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("summary_claimed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("summary_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["ritual_id"],
            ["rituals.id"],
            name=op.f("fk_written_rounds_ritual_id_rituals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_written_rounds")),
        sa.UniqueConstraint(
            "ritual_id", "scheduled_at", name=op.f("uq_written_rounds_ritual_id_scheduled_at")
        ),
    )
    with op.batch_alter_table("written_rounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_written_rounds_ritual_id"), ["ritual_id"], unique=False)

    op.create_table(
        "written_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "side",
            sa.Enum(
                "marketing",
                "it",
                "other",
                name="written_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("need", sa.Text(), nullable=True),
        sa.Column("win_text", sa.Text(), nullable=True),
        sa.Column("win_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("remind_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_written_answers_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["written_rounds.id"],
            name=op.f("fk_written_answers_round_id_written_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["win_id"], ["wins.id"], name=op.f("fk_written_answers_win_id_wins"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_written_answers")),
        sa.UniqueConstraint("round_id", "person_id", name=op.f("uq_written_answers_round_id_person_id")),
    )
    with op.batch_alter_table("written_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_written_answers_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_written_answers_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("written_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_written_answers_round_id"))
        batch_op.drop_index(batch_op.f("ix_written_answers_person_id"))
    op.drop_table("written_answers")
    with op.batch_alter_table("written_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_written_rounds_ritual_id"))
    op.drop_table("written_rounds")
    with op.batch_alter_table("wins", schema=None) as batch_op:
        batch_op.drop_column("draft")
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.drop_column("written_lead_hours")
        batch_op.drop_column("written_answers")
