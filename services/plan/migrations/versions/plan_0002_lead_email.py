"""The lead professional's work e-mail address, where review reminders go.

Revision ID: plan_0002
Revises: plan_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "plan_0002"
down_revision: str | Sequence[str] | None = "plan_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plan", sa.Column("lead_email", sa.String(254), nullable=True))


def downgrade() -> None:
    # In place, not in a batch: rebuilding the table on SQLite would risk its partial unique index.
    # SQLite drops a column in place from 3.35.
    op.drop_column("plan", "lead_email")
