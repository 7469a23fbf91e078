"""wins, commitments, digests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 08:27:12.224975
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "win_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "claimed",
                "posted",
                "skipped",
                "missed",
                "failed",
                name="digest_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("claimed_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_win_digests_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_win_digests")),
        sa.UniqueConstraint(
            "workspace_id", "channel_id", "period", name=op.f("uq_win_digests_workspace_id_channel_id_period")
        ),
    )
    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("ritual_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("what", sa.String(length=500), nullable=False),
        sa.Column("marketing_owner", sa.String(length=32), nullable=False),
        sa.Column("it_owner", sa.String(length=32), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "done",
                "dropped",
                name="commitment_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=32), nullable=True),
        sa.Column("nudged_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ritual_id"], ["rituals.id"], name=op.f("fk_commitments_ritual_id_rituals"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_commitments_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
    )
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commitments_it_owner"), ["it_owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_commitments_marketing_owner"), ["marketing_owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_commitments_ritual_id"), ["ritual_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_commitments_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "wins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("ritual_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["ritual_id"], ["rituals.id"], name=op.f("fk_wins_ritual_id_rituals"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_wins_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wins")),
    )
    with op.batch_alter_table("wins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wins_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_wins_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_wins_ritual_id"), ["ritual_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_wins_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "win_credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("win_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column(
            "side",
            sa.Enum(
                "marketing",
                "it",
                "other",
                name="credit_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["win_id"], ["wins.id"], name=op.f("fk_win_credits_win_id_wins"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_win_credits")),
        sa.UniqueConstraint("win_id", "user_id", name=op.f("uq_win_credits_win_id_user_id")),
    )
    with op.batch_alter_table("win_credits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_win_credits_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_win_credits_win_id"), ["win_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("win_credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_win_credits_win_id"))
        batch_op.drop_index(batch_op.f("ix_win_credits_user_id"))

    op.drop_table("win_credits")
    with op.batch_alter_table("wins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wins_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_wins_ritual_id"))
        batch_op.drop_index(batch_op.f("ix_wins_created_at"))
        batch_op.drop_index(batch_op.f("ix_wins_channel_id"))

    op.drop_table("wins")
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitments_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_commitments_ritual_id"))
        batch_op.drop_index(batch_op.f("ix_commitments_marketing_owner"))
        batch_op.drop_index(batch_op.f("ix_commitments_it_owner"))

    op.drop_table("commitments")
    op.drop_table("win_digests")
