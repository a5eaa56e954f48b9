"""`assessment_0003` adds the family member's optional details, and goes with its downgrade, keeping the members."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from services.access.projection import MIGRATIONS as ACCESS_MIGRATIONS
from services.assessment.main import MIGRATIONS
from services.kit.db import Database
from services.kit.migrations import alembic_config, upgrade_database
from services.kit.settings import DatabaseSettings
from services.kit.testing import DatabaseFactory

ADDED = {"sex", "ethnicity", "first_language", "send_status", "young_carer", "postcode"}


@pytest.fixture
async def database(database_factory: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(DatabaseSettings(url=await database_factory("assessment-migrations")))
    yield database
    await database.dispose()


async def _downgrade_to(database: Database, revision: str) -> None:
    config = alembic_config([ACCESS_MIGRATIONS, MIGRATIONS])

    def downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(downgrade)


async def _person_columns(database: Database) -> dict[str, bool]:
    def read(connection: Connection) -> dict[str, bool]:
        return {column["name"]: bool(column["nullable"]) for column in inspect(connection).get_columns("person")}

    async with database.engine.connect() as connection:
        return await connection.run_sync(read)


async def test_member_details_are_added_as_optional_columns_and_dropped_again_keeping_the_members(
    database: Database,
) -> None:
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    columns = await _person_columns(database)
    assert {name: columns[name] for name in ADDED} == dict.fromkeys(ADDED, True)
    async with database.engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO family (id, created_by_organisation, created_at) VALUES ('f', 'org', :at)"),
            {"at": datetime(2026, 12, 3, 10, tzinfo=UTC)},
        )
        await connection.execute(
            text(
                "INSERT INTO person (id, family_id, position, role, given_name, family_name, postcode, young_carer) "
                "VALUES ('p', 'f', 0, 'child', 'Amara', 'Okafor', 'LS6 2AB', true)"
            )
        )

    await _downgrade_to(database, "assessment_0002")
    assert not ADDED & set(await _person_columns(database))
    async with database.engine.connect() as connection:
        kept = (await connection.execute(text("SELECT id, given_name FROM person"))).all()
    assert [tuple(row) for row in kept] == [("p", "Amara")]

    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    assert set(await _person_columns(database)) >= ADDED
