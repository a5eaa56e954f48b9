"""Contacts recorded on a plan (visits, calls, meetings, messages, notes): the family's case notes, for its
chronology.

Revision ID: plan_0005
Revises: plan_0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "plan_0005"
down_revision: str | Sequence[str] | None = "plan_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "plan_contact",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column(
            "plan_id", sa.String(36), sa.ForeignKey("plan.id", name="fk_plan_contact_plan_id_plan"), nullable=False
        ),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_contact"),
    )
    op.create_index("ix_plan_contact_family_id", "plan_contact", ["family_id"])
    op.create_index("ix_plan_contact_plan_id_occurred_at", "plan_contact", ["plan_id", "occurred_at", "id"])


def downgrade() -> None:
    op.drop_table("plan_contact")
