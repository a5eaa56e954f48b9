"""The lead's e-mail column comes with `plan_0002` and goes with its downgrade, leaving the plans as they were."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from services.kit.db import Database
from services.kit.migrations import alembic_config, upgrade_database
from services.kit.settings import DatabaseSettings
from services.kit.testing import DatabaseFactory
from services.plan.main import MIGRATIONS
from services.plan.models import Plan


@pytest.fixture
async def database(database_factory: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(DatabaseSettings(url=await database_factory("plan-migrations")))
    yield database
    await database.dispose()


async def _downgrade_to_plan_0001(database: Database) -> None:
    config = alembic_config(MIGRATIONS)

    def downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, "plan_0001")

    async with database.engine.begin() as connection:
        await connection.run_sync(downgrade)


async def _plan_table(database: Database) -> tuple[dict[str, Any], dict[str, bool]]:
    """The plan table's columns by name, and whether each of its indexes is unique."""

    def read(connection: Connection) -> tuple[dict[str, Any], dict[str, bool]]:
        inspector = inspect(connection)
        columns = {column["name"]: column for column in inspector.get_columns("plan")}
        indexes = {str(index["name"]): bool(index["unique"]) for index in inspector.get_indexes("plan")}
        return columns, indexes

    async with database.engine.connect() as connection:
        return await connection.run_sync(read)


async def test_the_leads_email_column_is_added_and_dropped_again_keeping_the_plans(database: Database) -> None:
    await upgrade_database(database, MIGRATIONS)
    columns, indexes_before = await _plan_table(database)
    assert columns["lead_email"]["nullable"] is True
    assert columns["lead_email"]["type"].length == 254
    at = datetime.now(UTC)
    async with database.sessionmaker() as session:
        plan = Plan(
            id="plan-1", family_id="family-1", status="active", version=3, organisation_id="org-council",
            created_by="worker@org-council", lead_name="Sam Lead", lead_organisation_id="org-council",
            lead_email="sam.lead@council.example.gov.uk", opened_on=date(2025, 2, 17), created_at=at, updated_at=at,
        )  # fmt: skip
        session.add(plan)
        await session.commit()

    await _downgrade_to_plan_0001(database)

    columns, indexes = await _plan_table(database)
    assert "lead_email" not in columns
    assert indexes == indexes_before and indexes["uq_plan_open_per_family"] is True
    async with database.engine.connect() as connection:
        kept = (await connection.execute(text("SELECT id, version, lead_name FROM plan"))).all()
    assert [tuple(row) for row in kept] == [("plan-1", 3, "Sam Lead")]

    await upgrade_database(database, MIGRATIONS)
    async with database.engine.connect() as connection:
        again = (await connection.execute(text("SELECT id, lead_email FROM plan"))).all()
    assert [tuple(row) for row in again] == [("plan-1", None)]
