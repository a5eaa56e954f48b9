"""A plan's episodes (opened, closed, reopened), kept rather than overwritten, and drafts that can be discarded.

Every plan written so far gets its one episode from its own columns. A
discarded draft no longer holds the family's one open-plan slot.

Revision ID: plan_0003
Revises: plan_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "plan_0003"
down_revision: str | Sequence[str] | None = "plan_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_BEFORE = "status != 'closed'"
OPEN_NOW = "status NOT IN ('closed', 'discarded')"


def _one_open_plan_per_family(where: str) -> None:
    op.drop_index("uq_plan_open_per_family", table_name="plan")
    op.create_index(
        "uq_plan_open_per_family",
        "plan",
        ["family_id"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.add_column("plan", sa.Column("episodes", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "plan_episode",
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("plan.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("re_referral", sa.Boolean(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.String(40), nullable=True),
        sa.Column("outcome_areas", sa.Integer(), nullable=False),
        sa.Column("all_needs_met", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "number"),
    )
    op.create_index("ix_plan_episode_family_id", "plan_episode", ["family_id"])
    op.create_index("ix_plan_episode_opened_on", "plan_episode", ["opened_on"])
    op.create_index("ix_plan_episode_closed_on", "plan_episode", ["closed_on"])
    _one_open_plan_per_family(OPEN_NOW)
    _first_episodes()


def _first_episodes() -> None:
    plan = sa.table(
        "plan",
        sa.column("id", sa.String),
        sa.column("family_id", sa.String),
        sa.column("opened_on", sa.Date),
        sa.column("re_referral", sa.Boolean),
        sa.column("days_since_last_closure", sa.Integer),
        sa.column("closed_on", sa.Date),
        sa.column("close_reason", sa.String),
        sa.column("close_note", sa.String),
        sa.column("outcome_areas", sa.Integer),
        sa.column("all_needs_met", sa.Boolean),
        sa.column("episodes", sa.JSON),
    )
    episode = sa.table(
        "plan_episode",
        *(sa.column(name) for name in ("plan_id", "number", "family_id", "opened_on", "re_referral")),
        *(sa.column(name) for name in ("closed_on", "close_reason", "outcome_areas", "all_needs_met")),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(plan)).mappings().all():
        first = {
            "number": 1,
            "opened_on": row["opened_on"].isoformat(),
            "re_referral": bool(row["re_referral"]),
            "days_since_last_closure": row["days_since_last_closure"],
            "closed_on": row["closed_on"].isoformat() if row["closed_on"] else None,
            "close_reason": row["close_reason"],
            "close_note": row["close_note"],
            "outcome_areas": row["outcome_areas"],
            "all_needs_met": bool(row["all_needs_met"]),
        }
        connection.execute(sa.update(plan).where(plan.c.id == row["id"]).values(episodes=[first]))
        connection.execute(
            sa.insert(episode).values(
                plan_id=row["id"],
                number=1,
                family_id=row["family_id"],
                opened_on=row["opened_on"],
                re_referral=bool(row["re_referral"]),
                closed_on=row["closed_on"],
                close_reason=row["close_reason"],
                outcome_areas=row["outcome_areas"],
                all_needs_met=bool(row["all_needs_met"]),
            )
        )


def downgrade() -> None:
    op.drop_table("plan_episode")
    # Before this revision a plan could not be discarded: such drafts go, as if never opened.
    op.execute("DELETE FROM plan_organisation WHERE plan_id IN (SELECT id FROM plan WHERE status = 'discarded')")
    op.execute("DELETE FROM plan WHERE status = 'discarded'")
    _one_open_plan_per_family(OPEN_BEFORE)
    op.drop_column("plan", "episodes")
