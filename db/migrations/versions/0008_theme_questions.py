"""theme questions: a pulse asks one mirrored question on its check-in's theme, and keeps its team sizes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The three columns that name a pulse question are VARCHAR with a CHECK of the allowed values
# (db.models._str_enum); "theme" joins "partner" and "level".
_QUESTION_CHECKS = (
    ("pulse_ballots", "ballot_question"),
    ("pulse_tallies", "pulse_question"),
    ("pulse_votes", "vote_question"),
)


def _recheck(values: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{v}'" for v in values)
    for table, name in _QUESTION_CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
            batch_op.create_check_constraint(name, sa.text(f"question IN ({allowed})"))


def upgrade() -> None:
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("theme_question", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("team_marketing", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("team_it", sa.Integer(), nullable=True))
    _recheck(("partner", "level", "theme"))


def downgrade() -> None:
    for table, _ in _QUESTION_CHECKS:
        op.execute(sa.text(f"DELETE FROM {table} WHERE question = 'theme'"))
    _recheck(("partner", "level"))
    with op.batch_alter_table("pulses", schema=None) as batch_op:
        batch_op.drop_column("team_it")
        batch_op.drop_column("team_marketing")
        batch_op.drop_column("theme_question")
