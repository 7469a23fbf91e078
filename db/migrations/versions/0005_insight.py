"""insight

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 08:43:06.042027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("theme", sa.String(length=32), nullable=True))
        batch_op.drop_index(batch_op.f("ix_pulses_ritual_id"))
        batch_op.create_index("ix_pulses_ritual_id_opened_at", ["ritual_id", "opened_at"], unique=False)

    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drift_alerts", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("drift_alerted_pulse_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.drop_column("drift_alerted_pulse_id")
        batch_op.drop_column("drift_alerts")

    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.drop_index("ix_pulses_ritual_id_opened_at")
        batch_op.create_index(batch_op.f("ix_pulses_ritual_id"), ["ritual_id"], unique=False)
        batch_op.drop_column("theme")
