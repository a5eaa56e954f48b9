"""Organisations' standing with families, told by the services that keep the records; and requests for access.

Revision ID: consent_0003
Revises: consent_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "consent_0003"
down_revision: str | Sequence[str] | None = "consent_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "family_relation",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("since", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_family_relation"),
        sa.UniqueConstraint("family_id", "organisation_id", "kind", name="uq_family_relation"),
    )
    op.create_index("ix_family_relation_family_id", "family_relation", ["family_id"])
    op.create_index("ix_family_relation_organisation_id", "family_relation", ["organisation_id"])
    op.create_table(
        "access_request",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=True),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("organisation_type", sa.String(30), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_by_organisation_id", sa.String(64), nullable=True),
        sa.Column("grant_id", sa.String(36), nullable=True),
        sa.Column("decline_reason", sa.String(2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_request"),
    )
    op.create_index("ix_access_request_family_id", "access_request", ["family_id"])
    op.create_index("ix_access_request_organisation_id", "access_request", ["organisation_id"])


def downgrade() -> None:
    op.drop_table("access_request")
    op.drop_table("family_relation")
