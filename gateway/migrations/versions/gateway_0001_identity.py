"""Organisations, API clients, staff users and signing keys.

Revision ID: gateway_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("gateway",)
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("disabled_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_organisation"),
        sa.UniqueConstraint("name", name="uq_organisation_name"),
    )
    op.create_table(
        "api_client",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("disabled_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_client"),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name="fk_api_client_organisation_id_organisation"
        ),
    )
    op.create_index("ix_api_client_organisation_id", "api_client", ["organisation_id"])
    op.create_table(
        "staff_user",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("disabled_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_staff_user"),
        sa.UniqueConstraint("email", name="uq_staff_user_email"),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name="fk_staff_user_organisation_id_organisation"
        ),
    )
    op.create_index("ix_staff_user_organisation_id", "staff_user", ["organisation_id"])
    op.create_table(
        "signing_key",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("retire_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_key"),
    )


def downgrade() -> None:
    op.drop_table("signing_key")
    op.drop_table("staff_user")
    op.drop_table("api_client")
    op.drop_table("organisation")
