"""A family member's sex, ethnicity, first language, SEND status, young-carer flag and postcode, all optional.

Revision ID: assessment_0003
Revises: assessment_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "assessment_0003"
down_revision: str | Sequence[str] | None = "assessment_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("sex", sa.String(20)),
    ("ethnicity", sa.String(40)),
    ("first_language", sa.String(60)),
    ("send_status", sa.String(20)),
    ("young_carer", sa.Boolean()),
    ("postcode", sa.String(8)),
)


def upgrade() -> None:
    # Batch mode: SQLite alters a table by copying it; PostgreSQL adds the columns in place.
    with op.batch_alter_table("person") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
