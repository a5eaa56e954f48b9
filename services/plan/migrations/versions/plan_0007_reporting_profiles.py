"""The reports' pseudonymised read model: each family's locality, and each child's age band, sex and ethnicity.

Revision ID: plan_0007
Revises: plan_0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "plan_0007"
down_revision: str | Sequence[str] | None = "plan_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reporting_family",
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("locality_code", sa.String(40), nullable=True),
        sa.Column("locality_name", sa.String(100), nullable=True),
        sa.Column("profiled_on", sa.Date(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("family_id", name="pk_reporting_family"),
    )
    op.create_index("ix_reporting_family_locality_code", "reporting_family", ["locality_code"])
    op.create_table(
        "reporting_child",
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("age_band", sa.String(20), nullable=True),
        sa.Column("sex", sa.String(20), nullable=True),
        sa.Column("ethnicity", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("family_id", "position", name="pk_reporting_child"),
    )


def downgrade() -> None:
    op.drop_table("reporting_child")
    op.drop_index("ix_reporting_family_locality_code", table_name="reporting_family")
    op.drop_table("reporting_family")
