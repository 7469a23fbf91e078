"""exactly once: occurrence leases and prepared payloads, the uncertain outcome, seen submissions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("claimed", "posted", "skipped", "missed", "failed")
NEW = (*OLD, "uncertain")


def _check(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _statuses(values: tuple[str, ...]) -> None:
    # The status columns are VARCHAR with a named CHECK constraint (db.models._str_enum): a new value
    # is a new constraint.
    for table, name in (("occurrences", "occurrence_status"), ("win_digests", "digest_status")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
            batch_op.create_check_constraint(name, _check(values))


def upgrade() -> None:
    _statuses(NEW)
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
    op.create_table(
        "seen_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("view_id", sa.String(length=64), nullable=False),
        sa.Column("view_hash", sa.String(length=128), nullable=False),
        sa.Column("seen_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_seen_submissions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_submissions")),
        sa.UniqueConstraint("view_id", "view_hash", name=op.f("uq_seen_submissions_view_id_view_hash")),
    )
    with op.batch_alter_table("seen_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_submissions_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seen_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_submissions_seen_at"))
    op.drop_table("seen_submissions")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_column("payload")
        batch_op.drop_column("lease")
    op.execute("UPDATE occurrences SET status = 'failed' WHERE status = 'uncertain'")
    op.execute("UPDATE win_digests SET status = 'failed' WHERE status = 'uncertain'")
    _statuses(OLD)
