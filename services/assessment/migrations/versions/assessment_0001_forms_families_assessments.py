"""Form versions, families and their members, assessments and their revisions.

Revision ID: assessment_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "assessment_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("assessment",)
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "form_version",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("published_at", TIMESTAMP, nullable=True),
        sa.Column("retired_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("key", "version", name="pk_form_version"),
    )
    op.create_table(
        "family",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_by_organisation", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_family"),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("given_name", sa.String(100), nullable=False),
        sa.Column("family_name", sa.String(100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("relationship", sa.String(50), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_person"),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"], name="fk_person_family_id_family"),
    )
    op.create_index("ix_person_family_id", "person", ["family_id"])
    op.create_table(
        "person_identifier",
        sa.Column("system", sa.String(100), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("system", "value", name="pk_person_identifier"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name="fk_person_identifier_person_id_person"),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"], name="fk_person_identifier_family_id_family"),
    )
    op.create_index("ix_person_identifier_person_id", "person_identifier", ["person_id"])
    op.create_index("ix_person_identifier_family_id", "person_identifier", ["family_id"])
    op.create_table(
        "assessment",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("form_key", sa.String(100), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("form_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("carried_from", sa.String(36), nullable=True),
        sa.Column("carried_forward", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_assessment"),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"], name="fk_assessment_family_id_family"),
        sa.ForeignKeyConstraint(
            ["form_key", "form_version"],
            ["form_version.key", "form_version.version"],
            name="fk_assessment_form_key_form_version",
        ),
    )
    op.create_index("ix_assessment_family_id", "assessment", ["family_id"])
    op.create_table(
        "assessment_revision",
        sa.Column("assessment_id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("assessment_id", "number", name="pk_assessment_revision"),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name="fk_assessment_revision_assessment_id_assessment"
        ),
    )


def downgrade() -> None:
    for table in ("assessment_revision", "assessment", "person_identifier", "person", "family", "form_version"):
        op.drop_table(table)
