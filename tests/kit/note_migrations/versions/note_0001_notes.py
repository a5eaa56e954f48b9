"""Notes and their effects.

Revision ID: note_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "note_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("note",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "note",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("aggregate", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_table(
        "note_effect",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("aggregate", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("note_effect")
    op.drop_table("note")
