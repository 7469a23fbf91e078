"""the scheduler at scale: each ritual's next occurrence, and a change stamp for the rituals' schedules

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 11:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Left NULL here: the scheduler fills in a ritual's next occurrence when it finds it missing
    # (jobs/scheduler.py), with the same cadence maths as every other write of it (db/schedule.py).
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_due_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_rituals_status_next_due_at", ["status", "next_due_at"], unique=False)
    op.create_table(
        "schedule_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_changes")),
    )
    op.execute("INSERT INTO schedule_changes (id, stamp) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("schedule_changes")
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.drop_index("ix_rituals_status_next_due_at")
        batch_op.drop_column("next_due_at")
