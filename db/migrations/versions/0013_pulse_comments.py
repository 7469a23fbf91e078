"""anonymous pulse comments; commitments made from a pulse result, a drift alert or a comment

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pulse_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=True),
        sa.Column(
            "side",
            sa.Enum(
                "marketing",
                "it",
                "other",
                name="comment_side",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulses.id"], name=op.f("fk_pulse_comments_pulse_id_pulses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_comments")),
        sa.UniqueConstraint("pulse_id", "voter", name=op.f("uq_pulse_comments_pulse_id_voter")),
    )
    with op.batch_alter_table("pulse_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulse_comments_pulse_id"), ["pulse_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # As for the ballots' voters (0006): ANALYZE must never copy an open pulse's voter hashes
        # into pg_statistic, where they would outlive the pulse.
        op.execute("ALTER TABLE pulse_comments ALTER COLUMN voter SET STATISTICS 0")

    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pulse_comments", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comments", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("source_pulse_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_commitments_source_pulse_id"), ["source_pulse_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_commitments_source_pulse_id_pulses"),
            "pulses",
            ["source_pulse_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_commitments_source_pulse_id_pulses"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_commitments_source_pulse_id"))
        batch_op.drop_column("source_pulse_id")
        batch_op.drop_column("source_kind")
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.drop_column("comments")
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.drop_column("pulse_comments")
    with op.batch_alter_table("pulse_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pulse_comments_pulse_id"))
    op.drop_table("pulse_comments")
