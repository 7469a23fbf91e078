"""monthly digest to the leads: a per-ritual setting and the claims of each month's DMs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leads_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ritual_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("claimed_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["ritual_id"],
            ["rituals.id"],
            name=op.f("fk_leads_digests_ritual_id_rituals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads_digests")),
        sa.UniqueConstraint(
            "ritual_id", "period", "user_id", name=op.f("uq_leads_digests_ritual_id_period_user_id")
        ),
    )
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leads_digest", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("rituals", schema=None) as batch_op:
        batch_op.drop_column("leads_digest")
    op.drop_table("leads_digests")
