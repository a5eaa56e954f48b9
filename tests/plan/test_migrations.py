"""The lead's e-mail column comes with `plan_0002`, the referrals table with `plan_0004`, the contacts table with
`plan_0005`, the Supporting Families ledger with `plan_0006` and the reports' index of a family's episodes with
`plan_0008`; each goes with its downgrade, leaving the plans as they were."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from services.access.projection import MIGRATIONS as ACCESS_MIGRATIONS
from services.kit.db import Database
from services.kit.migrations import alembic_config, upgrade_database
from services.kit.settings import DatabaseSettings
from services.kit.testing import DatabaseFactory
from services.plan.document import Participant
from services.plan.main import MIGRATIONS
from services.plan.models import (
    Plan,
    PlanContact,
    SocialCareReferral,
    SupportingFamiliesClaim,
    SupportingFamiliesEnrolment,
)


@pytest.fixture
async def database(database_factory: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database(DatabaseSettings(url=await database_factory("plan-migrations")))
    yield database
    await database.dispose()


async def _downgrade_to(database: Database, revision: str) -> None:
    config = alembic_config([ACCESS_MIGRATIONS, MIGRATIONS])

    def downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

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
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
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

    await _downgrade_to(database, "plan_0001")

    columns, indexes = await _plan_table(database)
    assert "lead_email" not in columns
    assert indexes == indexes_before and indexes["uq_plan_open_per_family"] is True
    async with database.engine.connect() as connection:
        kept = (await connection.execute(text("SELECT id, version, lead_name FROM plan"))).all()
    assert [tuple(row) for row in kept] == [("plan-1", 3, "Sam Lead")]

    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    async with database.engine.connect() as connection:
        again = (await connection.execute(text("SELECT id, lead_email FROM plan"))).all()
    assert [tuple(row) for row in again] == [("plan-1", None)]


async def test_the_referrals_table_comes_with_plan_0004_and_goes_with_its_downgrade(database: Database) -> None:
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    at = datetime.now(UTC)
    async with database.sessionmaker() as session:
        session.add(SocialCareReferral(
            id="referral-1", family_id="family-1", organisation_id="org-council", source="front_door",
            referred_on=date(2026, 11, 2), reason="Concerns at home.", assessment_id="assessment-1", created_at=at,
        ))  # fmt: skip
        await session.commit()
    async with database.sessionmaker() as session:
        session.add(SocialCareReferral(
            id="referral-2", family_id="family-1", organisation_id="org-council", source="front_door",
            referred_on=date(2026, 11, 2), assessment_id="assessment-1", created_at=at,
        ))  # fmt: skip
        with pytest.raises(IntegrityError):  # one referral per assessment, however often its event comes
            await session.commit()

    await _downgrade_to(database, "plan_0003")

    def tables(connection: Connection) -> list[str]:
        return inspect(connection).get_table_names()

    async with database.engine.connect() as connection:
        assert "social_care_referral" not in await connection.run_sync(tables)
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    async with database.engine.connect() as connection:
        assert "social_care_referral" in await connection.run_sync(tables)
        assert (await connection.execute(text("SELECT count(*) FROM social_care_referral"))).scalar_one() == 0


async def test_the_contacts_table_comes_with_plan_0005_and_goes_with_its_downgrade(database: Database) -> None:
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    at = datetime.now(UTC).replace(microsecond=0)
    summary = "A long note of a home visit. " * 300  # beyond any VARCHAR a default would give
    async with database.sessionmaker() as session:
        session.add(Plan(
            id="plan-1", family_id="family-1", status="active", version=1, organisation_id="org-council",
            created_by="worker@org-council", opened_on=date(2026, 11, 2), created_at=at, updated_at=at,
        ))  # fmt: skip
        await session.flush()
        session.add(PlanContact(
            id="contact-1", plan_id="plan-1", family_id="family-1", kind="visit", occurred_at=at,
            participants=[Participant(name="Grace", role="mother")], summary=summary,
            organisation_id="org-council", recorded_by="worker@org-council", recorded_at=at,
        ))  # fmt: skip
        await session.commit()
    async with database.sessionmaker() as session:
        contact = await session.get(PlanContact, "contact-1")
        assert contact is not None
        assert (contact.summary, contact.occurred_at, contact.participants) == (
            summary, at, [Participant(name="Grace", role="mother")]
        )  # fmt: skip

    await _downgrade_to(database, "plan_0004")

    def tables(connection: Connection) -> list[str]:
        return inspect(connection).get_table_names()

    async with database.engine.connect() as connection:
        assert "plan_contact" not in await connection.run_sync(tables)
        assert (await connection.execute(text("SELECT count(*) FROM plan"))).scalar_one() == 1
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    async with database.engine.connect() as connection:
        assert "plan_contact" in await connection.run_sync(tables)


async def test_the_supporting_families_ledger_comes_with_plan_0006_once_per_episode_and_goes_with_its_downgrade(
    database: Database,
) -> None:
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    at = datetime.now(UTC)
    areas = ["education_and_attendance", "housing"]
    async with database.sessionmaker() as session:
        session.add(Plan(
            id="plan-1", family_id="family-1", status="active", version=1, organisation_id="org-council",
            created_by="worker@org-council", opened_on=date(2025, 1, 6), created_at=at, updated_at=at,
        ))  # fmt: skip
        await session.flush()
        session.add(SupportingFamiliesEnrolment(
            id="enrolment-1", family_id="family-1", plan_id="plan-1", episode=1, areas=areas,
            enrolled_on=date(2025, 1, 20), organisation_id="org-council", enrolled_by="worker@org-council",
            created_at=at,
        ))  # fmt: skip
        await session.flush()
        session.add(SupportingFamiliesClaim(
            id="claim-1", enrolment_id="enrolment-1", family_id="family-1", plan_id="plan-1", episode=1,
            route="continuous_employment", employment={"started_on": "2025-02-03", "sustained_until": "2025-08-03"},
            claimed_on=date(2026, 2, 10), financial_year="2025-26", payment=800, organisation_id="org-council",
            claimed_by="worker@org-council", created_at=at,
        ))  # fmt: skip
        await session.commit()
    async with database.sessionmaker() as session:
        enrolment = await session.get(SupportingFamiliesEnrolment, "enrolment-1")
        assert enrolment is not None and enrolment.areas == areas
    async with database.sessionmaker() as session:  # a second enrolment in the episode
        session.add(SupportingFamiliesEnrolment(
            id="enrolment-2", family_id="family-1", plan_id="plan-1", episode=1, areas=areas,
            enrolled_on=date(2025, 1, 21), organisation_id="org-hub", enrolled_by="worker@org-hub", created_at=at,
        ))  # fmt: skip
        with pytest.raises(IntegrityError):
            await session.commit()
    async with database.sessionmaker() as session:  # a second claim for the family and episode
        session.add(SupportingFamiliesClaim(
            id="claim-2", enrolment_id="enrolment-1", family_id="family-1", plan_id="plan-1", episode=1,
            route="significant_and_sustained", claimed_on=date(2026, 2, 11), financial_year="2025-26", payment=800,
            organisation_id="org-hub", claimed_by="worker@org-hub", created_at=at,
        ))  # fmt: skip
        with pytest.raises(IntegrityError):
            await session.commit()

    await _downgrade_to(database, "plan_0005")

    def tables(connection: Connection) -> list[str]:
        return inspect(connection).get_table_names()

    async with database.engine.connect() as connection:
        left = await connection.run_sync(tables)
        assert "supporting_families_enrolment" not in left and "supporting_families_claim" not in left
        assert (await connection.execute(text("SELECT count(*) FROM plan"))).scalar_one() == 1
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])
    async with database.engine.connect() as connection:
        assert {"supporting_families_enrolment", "supporting_families_claim"} <= set(await connection.run_sync(tables))


async def test_the_family_returns_index_comes_with_plan_0008_and_goes_with_its_downgrade(database: Database) -> None:
    await upgrade_database(database, [ACCESS_MIGRATIONS, MIGRATIONS])

    def episode_indexes(connection: Connection) -> dict[str, list[str | None]]:
        return {str(index["name"]): index["column_names"] for index in inspect(connection).get_indexes("plan_episode")}

    async with database.engine.connect() as connection:
        indexes = await connection.run_sync(episode_indexes)
    family_returns = ["family_id", "opened_on", "close_reason", "plan_id", "number"]
    assert indexes["ix_plan_episode_family_id_opened_on"] == family_returns
    await _downgrade_to(database, "plan_0007")
    async with database.engine.connect() as connection:
        left = await connection.run_sync(episode_indexes)
    assert "ix_plan_episode_family_id_opened_on" not in left and "ix_plan_episode_family_id" in left
