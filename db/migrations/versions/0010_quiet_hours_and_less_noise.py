"""quiet hours (held DMs, working hours per workspace) and less noise (check-ins notify leads only)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 08:08:43.250122
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "held_dms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("file_content", sa.LargeBinary(), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("file_title", sa.String(length=200), nullable=True),
        sa.Column("file_alt_text", sa.Text(), nullable=True),
        sa.Column("not_before", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "skipped",
                "failed",
                name="held_dm_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_held_dms_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_dms")),
        sa.UniqueConstraint("workspace_id", "key", name=op.f("uq_held_dms_workspace_id_key")),
    )
    with op.batch_alter_table("held_dms", schema=None) as batch_op:
        batch_op.create_index("ix_held_dms_status_not_before", ["status", "not_before"], unique=False)

    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify_members", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("work_start", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("work_end", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("work_days", sa.String(length=7), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("work_days")
        batch_op.drop_column("work_end")
        batch_op.drop_column("work_start")

    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.drop_column("notify_members")

    with op.batch_alter_table("held_dms", schema=None) as batch_op:
        batch_op.drop_index("ix_held_dms_status_not_before")

    op.drop_table("held_dms")
