"""Agreements, sharing grants, safeguarding overrides and the hash-chained access audit.

Revision ID: consent_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "consent_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("consent",)
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("given_by_role", sa.String(40), nullable=False),
        sa.Column("given_by_name", sa.String(200), nullable=True),
        sa.Column("evidence", sa.String(40), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("given_at", TIMESTAMP, nullable=False),
        sa.Column("withdrawn_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agreement"),
    )
    op.create_index("ix_agreement_family_id", "agreement", ["family_id"])
    op.create_table(
        "sharing_grant",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("given_by_role", sa.String(40), nullable=False),
        sa.Column("given_by_name", sa.String(200), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("recipient_organisations", sa.JSON(), nullable=False),
        sa.Column("recipient_types", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("basis", sa.String(30), nullable=False),
        sa.Column("evidence", sa.String(40), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=True),
        sa.Column("withdrawn_at", TIMESTAMP, nullable=True),
        sa.Column("withdrawal_reason", sa.String(1000), nullable=True),
        sa.Column("expired_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sharing_grant"),
    )
    op.create_index("ix_sharing_grant_family_id", "sharing_grant", ["family_id"])
    op.create_table(
        "safeguarding_override",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("organisation_type", sa.String(30), nullable=False),
        sa.Column("practitioner", sa.String(255), nullable=False),
        sa.Column("justification", sa.String(4000), nullable=False),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("expired_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safeguarding_override"),
    )
    op.create_index("ix_safeguarding_override_family_id", "safeguarding_override", ["family_id"])
    op.create_table(
        "audit_entry",
        sa.Column("position", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("organisation_type", sa.String(30), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("resource_type", sa.String(40), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("basis", sa.String(30), nullable=False),
        sa.Column("basis_reference", sa.String(64), nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_audit_entry"),
        sa.UniqueConstraint("event_id", name="uq_audit_entry_event_id"),
    )
    op.create_index("ix_audit_entry_family_id", "audit_entry", ["family_id"])


def downgrade() -> None:
    for table in ("audit_entry", "safeguarding_override", "sharing_grant", "agreement"):
        op.drop_table(table)
