"""Plans, who may see them by right of the plan, and the assessments this service has seen.

Revision ID: plan_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "plan_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("plan",)
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "plan",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("assessment_id", sa.String(36), nullable=True),
        sa.Column("lead_name", sa.String(200), nullable=True),
        sa.Column("lead_organisation_id", sa.String(64), nullable=True),
        sa.Column("team", sa.JSON(), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("goals", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("reviews", sa.JSON(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False),
        sa.Column("level_of_need", sa.String(2), nullable=True),
        sa.Column("requested_on", sa.Date(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("activated_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("stepped_up_on", sa.Date(), nullable=True),
        sa.Column("working_days_to_active", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("next_review_due", sa.Date(), nullable=True),
        sa.Column("review_due_announced", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.String(40), nullable=True),
        sa.Column("close_note", sa.String(2000), nullable=True),
        sa.Column("outcome_areas", sa.Integer(), nullable=False),
        sa.Column("all_needs_met", sa.Boolean(), nullable=False),
        sa.Column("step_up_reason", sa.String(2000), nullable=True),
        sa.Column("stepped_down_from", sa.String(36), nullable=True),
        sa.Column("re_referral", sa.Boolean(), nullable=False),
        sa.Column("days_since_last_closure", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_plan"),
        sa.UniqueConstraint("assessment_id", name="uq_plan_assessment_id"),
    )
    op.create_index("ix_plan_family_id", "plan", ["family_id"])
    op.create_index("ix_plan_lead_organisation_id", "plan", ["lead_organisation_id"])
    op.create_index("ix_plan_opened_on", "plan", ["opened_on"])
    op.create_index("ix_plan_activated_on", "plan", ["activated_on"])
    op.create_index("ix_plan_closed_on", "plan", ["closed_on"])
    op.create_index("ix_plan_next_review_due", "plan", ["next_review_due"])
    op.create_index(
        "uq_plan_open_per_family",
        "plan",
        ["family_id"],
        unique=True,
        sqlite_where=sa.text("status != 'closed'"),
        postgresql_where=sa.text("status != 'closed'"),
    )
    op.create_table(
        "plan_organisation",
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], name="fk_plan_organisation_plan"),
        sa.PrimaryKeyConstraint("plan_id", "organisation_id", name="pk_plan_organisation"),
    )
    op.create_index("ix_plan_organisation_organisation_id", "plan_organisation", ["organisation_id"])
    op.create_table(
        "assessment_record",
        sa.Column("assessment_id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("organisation_type", sa.String(20), nullable=False),
        sa.Column("form_key", sa.String(100), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.Column("re_referral", sa.Boolean(), nullable=False),
        sa.Column("days_since_last_closure", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("assessment_id", name="pk_assessment_record"),
    )
    op.create_index("ix_assessment_record_family_id", "assessment_record", ["family_id"])
    op.create_index("ix_assessment_record_started_at", "assessment_record", ["started_at"])


def downgrade() -> None:
    op.drop_table("assessment_record")
    op.drop_table("plan_organisation")
    op.drop_table("plan")
