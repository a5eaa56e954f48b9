"""Referrals to children's social care (from a step-up, the front door, or after early help closed) and their
outcomes, so that what happens after early help can be counted.

Revision ID: plan_0004
Revises: plan_0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "plan_0004"
down_revision: str | Sequence[str] | None = "plan_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
PLAN_KEY = "fk_social_care_referral_plan_id_plan"


def upgrade() -> None:
    op.create_table(
        "social_care_referral",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("plan.id", name=PLAN_KEY), nullable=True),
        sa.Column("assessment_id", sa.String(36), nullable=True),
        sa.Column("days_since_closure", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("outcome_recorded_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_social_care_referral"),
        sa.UniqueConstraint("assessment_id", name="uq_social_care_referral_assessment_id"),
    )
    op.create_index("ix_social_care_referral_family_id", "social_care_referral", ["family_id"])
    op.create_index("ix_social_care_referral_referred_on", "social_care_referral", ["referred_on"])
    op.create_index("ix_social_care_referral_plan_id", "social_care_referral", ["plan_id"])


def downgrade() -> None:
    op.drop_table("social_care_referral")
