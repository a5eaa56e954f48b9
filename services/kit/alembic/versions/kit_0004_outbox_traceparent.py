"""The trace context an outbox event was written in, continued by the relay's publish span.

Revision ID: kit_0004
Revises: kit_0002
Create Date: 2026-12-03

After kit_0002, beside the access copy's kit_0003 (services/access/migrations), which
only the services that keep that copy have: the two are heads of their own there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kit_0004"
down_revision: str | Sequence[str] | None = "kit_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox_event", sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_event") as table:  # SQLite drops a column by copying the table
        table.drop_column("traceparent")
