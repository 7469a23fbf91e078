"""rituals, occurrences, custom prompts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 07:54:45.173539
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_custom_prompts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_prompts")),
    )
    with op.batch_alter_table("custom_prompts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custom_prompts_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "rituals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("cadence_kind", sa.String(length=16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("interval_weeks", sa.Integer(), nullable=False),
        sa.Column("week_of_month", sa.Integer(), nullable=False),
        sa.Column("anchor_date", sa.Date(), nullable=True),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("pulse_enabled", sa.Boolean(), nullable=False),
        sa.Column("pulse_anonymous", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "paused",
                "deleted",
                name="ritual_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("paused_reason", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("schedule_from", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_rituals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rituals")),
    )
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rituals_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rituals_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ritual_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "claimed",
                "posted",
                "skipped",
                "missed",
                "failed",
                name="occurrence_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("prompt_key", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("posted_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ritual_id"], ["rituals.id"], name=op.f("fk_occurrences_ritual_id_rituals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occurrences")),
        sa.UniqueConstraint("ritual_id", "scheduled_at", name=op.f("uq_occurrences_ritual_id_scheduled_at")),
    )
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_occurrences_ritual_id"), ["ritual_id"], unique=False)

    op.create_table(
        "ritual_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ritual_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "side",
            sa.Enum(
                "marketing",
                "it",
                "other",
                name="member_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_ritual_members_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ritual_id"],
            ["rituals.id"],
            name=op.f("fk_ritual_members_ritual_id_rituals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ritual_members")),
        sa.UniqueConstraint("ritual_id", "person_id", name=op.f("uq_ritual_members_ritual_id_person_id")),
    )
    with op.batch_alter_table("ritual_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ritual_members_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ritual_members_ritual_id"), ["ritual_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ritual_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ritual_members_ritual_id"))
        batch_op.drop_index(batch_op.f("ix_ritual_members_person_id"))

    op.drop_table("ritual_members")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_occurrences_ritual_id"))

    op.drop_table("occurrences")
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rituals_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_rituals_channel_id"))

    op.drop_table("rituals")
    with op.batch_alter_table("custom_prompts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_prompts_workspace_id"))

    op.drop_table("custom_prompts")
