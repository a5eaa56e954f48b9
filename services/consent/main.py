"""Entry point: `uvicorn --factory services.consent.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.consent import routes, service
from services.consent.config import ConsentSettings
from services.kit.app import create_service_app
from services.kit.audit import AUDIT_EVENT_TYPE, AccessRecorded
from services.kit.events.consumer import ConsumerSpec
from services.kit.events.envelope import BaseCloudEvent, nats_subject
from services.kit.periodic import running_every

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


async def apply_access_recorded(session: AsyncSession, event: BaseCloudEvent) -> None:
    """Every service's `audit.recorded` events become entries of the one access log."""
    await service.append_to_audit(session, event.get_id(), AccessRecorded.model_validate(event.get_data()))


# Batched: every entry waits on the chain's one lock, and one commit per entry could not keep
# up with the audited reads of a steady load (docs/performance.md, "events waiting").
ACCESS_LOG = ConsumerSpec(
    name="consent-access-log", subjects=[nats_subject(AUDIT_EVENT_TYPE)], handler=apply_access_recorded, batched=True
)


def create_app(settings: ConsentSettings | None = None) -> FastAPI:
    settings = settings or ConsentSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeping = running_every(
            app.state.database, settings.expiry_sweep_seconds, service.announce_endings, "expiry-sweep"
        )
        async with sweeping:
            yield

    return create_service_app(
        settings,
        title="Graduated Pathway: consent",
        routers=[routes.router],
        consumers=[ACCESS_LOG],
        migrations_dir=MIGRATIONS,
        lifespan=lifespan,
    )
