"""The front door's decisions on requests for support, and the index its queue is read by.

Revision ID: assessment_0002
Revises: assessment_0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "assessment_0002"
down_revision: str | Sequence[str] | None = "assessment_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_assessment_form_key_status_submitted_at", "assessment", ["form_key", "status", "submitted_at"])
    op.create_table(
        "request_decision",
        sa.Column("assessment_id", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("allocated_organisation_id", sa.String(64), nullable=True),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=False),
        sa.Column("decided_by_organisation", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("working_days_to_decision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("assessment_id", name="pk_request_decision"),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name="fk_request_decision_assessment_id_assessment"
        ),
    )
    op.create_index("ix_request_decision_allocated_organisation_id", "request_decision", ["allocated_organisation_id"])
    op.create_index("ix_request_decision_decided_at", "request_decision", ["decided_at"])


def downgrade() -> None:
    op.drop_table("request_decision")
    op.drop_index("ix_assessment_form_key_status_submitted_at", "assessment")
