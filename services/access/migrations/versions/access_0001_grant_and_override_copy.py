"""A service's copy of sharing grants and safeguarding overrides, for deciding reads without a call.

Revision ID: kit_0003
Revises: kit_0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kit_0003"
down_revision: str | Sequence[str] | None = "kit_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_grant_copy",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("recipient_organisations", sa.JSON(), nullable=False),
        sa.Column("recipient_types", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=True),
        sa.Column("withdrawn_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_grant_copy"),
    )
    op.create_index("ix_access_grant_copy_family_id", "access_grant_copy", ["family_id"])
    op.create_table(
        "access_override_copy",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("practitioner", sa.String(255), nullable=False),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_override_copy"),
    )
    op.create_index("ix_access_override_copy_family_id", "access_override_copy", ["family_id"])
    applied = op.create_table(
        "access_revision_applied",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_revision_applied"),
    )
    op.bulk_insert(applied, [{"id": 1, "value": 0}])


def downgrade() -> None:
    op.drop_table("access_revision_applied")
    op.drop_table("access_override_copy")
    op.drop_table("access_grant_copy")
