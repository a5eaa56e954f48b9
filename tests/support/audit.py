"""The consent service's access log as the tests reach it: its database, and the entries of a shared, read record."""

from fastapi import FastAPI
from sqlalchemy import func, select

from services.consent.models import AuditEntry
from services.kit.db import Database
from services.kit.events.outbox import OutboxEvent
from tests.support.consent import ConsentStack
from tests.support.streams import stream_messages


def database_of(app: FastAPI) -> Database:
    database: Database = app.state.database
    return database


async def audit_settled(stack: ConsentStack) -> bool:
    """Both outboxes are empty and the consent service has logged every `audit.recorded` event in the stream."""
    for app in (stack.consent_app, stack.assessment_app):
        async with database_of(app).sessionmaker() as session:
            if await session.scalar(select(func.count()).select_from(OutboxEvent)):
                return False
    published = [m for m in await stream_messages(stack.nats.url) if m.event.get_type() == "audit.recorded"]
    async with database_of(stack.consent_app).sessionmaker() as session:
        logged = await session.scalar(select(func.count()).select_from(AuditEntry))
    return logged == len(published)


async def shared_and_read(stack: ConsentStack) -> tuple[str, str, str]:
    """The health visitor's assessment, shared with the school, read by both; the family, assessment and grant."""
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    grant = await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=[school.id])
    for reader in (school, health):
        read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=reader.headers)
        assert read.status_code == 200, read.text
    return family_id, assessment_id, grant["id"]
