"""The Supporting Families ledger: families enrolled in an episode of their plan, on the areas that make them
eligible, and the claims made for them, one per family and episode.

Revision ID: plan_0006
Revises: plan_0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "plan_0006"
down_revision: str | Sequence[str] | None = "plan_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "supporting_families_enrolment",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column(
            "plan_id",
            sa.String(36),
            sa.ForeignKey("plan.id", name="fk_supporting_families_enrolment_plan_id_plan"),
            nullable=False,
        ),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("enrolled_by", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_supporting_families_enrolment"),
        sa.UniqueConstraint("plan_id", "episode", name="uq_supporting_families_enrolment_plan_id_episode"),
    )
    op.create_index("ix_supporting_families_enrolment_family_id", "supporting_families_enrolment", ["family_id"])
    op.create_table(
        "supporting_families_claim",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column(
            "enrolment_id",
            sa.String(36),
            # The naming convention's name would be 72 characters; PostgreSQL's identifiers end at 63.
            sa.ForeignKey("supporting_families_enrolment.id", name="fk_supporting_families_claim_enrolment_id"),
            nullable=False,
        ),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(30), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("employment", sa.JSON(), nullable=True),
        sa.Column("claimed_on", sa.Date(), nullable=False),
        sa.Column("financial_year", sa.String(7), nullable=False),
        sa.Column("payment", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("claimed_by", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_supporting_families_claim"),
        sa.UniqueConstraint("enrolment_id", name="uq_supporting_families_claim_enrolment_id"),
        sa.UniqueConstraint(
            "family_id", "plan_id", "episode", name="uq_supporting_families_claim_family_id_plan_id_episode"
        ),
    )
    op.create_index("ix_supporting_families_claim_financial_year", "supporting_families_claim", ["financial_year"])
    op.create_index("ix_supporting_families_claim_organisation_id", "supporting_families_claim", ["organisation_id"])


def downgrade() -> None:
    op.drop_table("supporting_families_claim")
    op.drop_table("supporting_families_enrolment")
