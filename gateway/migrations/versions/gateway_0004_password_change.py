"""A staff member changes the temporary password an administrator gave them before doing anything else.

Every member so far still has the password they were given (nobody could change one), so every
existing row is marked too.

Revision ID: gateway_0004
Revises: gateway_0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0004"
down_revision: str | Sequence[str] | None = "gateway_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "staff_user", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.true())
    )


def downgrade() -> None:
    op.drop_column("staff_user", "must_change_password")
