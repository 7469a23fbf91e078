"""anonymity below the SQL: the server key's fingerprint on pulses, no planner statistics of voters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 08:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL's ANALYZE (autovacuum runs it on its own) copies sample values of each column into
# pg_statistic: salts and voter hashes of open pulses would outlive the pulse there. A statistics
# target of 0 leaves these columns out (the planner never needed them: they are looked up by key);
# restating the column's type drops what an earlier ANALYZE gathered (SET STATISTICS alone keeps it).
NO_STATISTICS = (("pulses", "ballot_salt"), ("pulse_ballots", "voter"), ("pulse_reminders", "voter"))


def upgrade() -> None:
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voter_key_check", sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for table, column in NO_STATISTICS:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS 0, "
                f"ALTER COLUMN {column} TYPE VARCHAR(64)"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in NO_STATISTICS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS -1")
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.drop_column("voter_key_check")
