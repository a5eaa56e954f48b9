"""An index for the reports' look-ups of a family's later episodes: the re-referrals report finds, for each
episode closed in its period, the family's next episode opened since. On the family's id alone PostgreSQL read
each of the family's episodes from the table; with the opening date and the columns the look-up filters on, it
reads the index alone and stops at the first row.

Revision ID: plan_0008
Revises: plan_0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "plan_0008"
down_revision: str | Sequence[str] | None = "plan_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAMILY_RETURNS = "ix_plan_episode_family_id_opened_on"


def upgrade() -> None:
    op.create_index(FAMILY_RETURNS, "plan_episode", ["family_id", "opened_on", "close_reason", "plan_id", "number"])


def downgrade() -> None:
    op.drop_index(FAMILY_RETURNS, table_name="plan_episode")
