"""Entry point: `uvicorn --factory services.consent.main:create_app`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from services.access.audit import AUDIT_EVENT_TYPE
from services.access.projection import ACCESS_REVISION_KEY
from services.access.projection import MIGRATIONS as ACCESS_MIGRATIONS
from services.consent import routes, service
from services.consent.clients import FamilyMatcher
from services.consent.config import ConsentSettings
from services.consent.events import apply_access_recorded
from services.consent.repository import ENDINGS_CHANGED, REVISION_RAISED
from services.consent.service.audit import Anchor
from services.consent.signing import EMBEDDED_KEY_FILE, AuditSigningKey, ensure_key_file
from services.kit.app import create_service_app
from services.kit.events.consumer import ConsumerSpec
from services.kit.events.envelope import nats_subject
from services.kit.events.keyvalue import CounterRaiser
from services.kit.periodic import running_when_due
from services.kit.service_token import ServiceToken

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


# Batched: every entry waits on the chain's one lock, and one commit per entry could not keep
# up with the audited reads of a steady load (docs/performance.md, "events waiting").
ACCESS_LOG = ConsumerSpec(
    name="consent-access-log", subjects=[nats_subject(AUDIT_EVENT_TYPE)], handler=apply_access_recorded, batched=True
)


def create_app(settings: ConsentSettings | None = None) -> FastAPI:
    settings = settings or ConsentSettings()
    anchor = Anchor(AuditSigningKey.from_file(_signing_key_file(settings)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.family_matcher = FamilyMatcher(
            ServiceToken(app.state.http, settings.service_client), settings.assessment_url
        )
        app.state.audit_anchor = anchor
        database = app.state.database
        # Each end announced at its time; woken early by a commit that made or ended a grant or override.
        endings_changed = asyncio.Event()
        database.wake_on_commit(ENDINGS_CHANGED, endings_changed)
        sweeping = running_when_due(
            database,
            service.announce_endings_when_due,
            "expiry-sweep",
            wake=endings_changed,
            at_most=settings.expiry_sweep_seconds,
        )
        sign = partial(
            service.sign_checkpoint_when_due,
            anchor=anchor,
            every_entries=settings.audit_checkpoint_entries,
            every_seconds=settings.audit_checkpoint_seconds,
        )
        # Looked at every second while entries wait for a checkpoint; with none waiting, asleep until one is appended.
        entry_appended = asyncio.Event()
        database.wake_on_commit(service.ENTRY_APPENDED, entry_appended)
        signing = running_when_due(
            database,
            sign,
            "audit-checkpoints",
            wake=entry_appended,
            at_most=settings.audit_checkpoint_seconds,
            at_least=min(1.0, settings.audit_checkpoint_seconds),
        )

        async def current_revision() -> int:
            async with app.state.database.sessionmaker() as session:
                return await service.access_revision(session)

        # The revision every service's copy of grants is checked against, pushed to them through NATS
        # after each commit that raised it; the database stays its record (`services.access.projection`).
        revision = CounterRaiser(app.state.broker, ACCESS_REVISION_KEY, current_revision)
        app.state.database.wake_on_commit(REVISION_RAISED, revision.wake)
        app.state.access_revision = revision
        revision.start()
        try:
            async with sweeping, signing:
                yield
        finally:
            await revision.stop()

    return create_service_app(
        settings,
        title="Graduated Pathway: consent",
        routers=[routes.router],
        consumers=[ACCESS_LOG],
        migrations_dirs=[ACCESS_MIGRATIONS, MIGRATIONS],
        lifespan=lifespan,
    )


def _signing_key_file(settings: ConsentSettings) -> Path:
    """The configured key file; on the embedded default (SQLite) one is made in the data folder.

    On PostgreSQL, a missing key stops the start: a key made inside a container is lost with it,
    and the checkpoints it signed could no longer be checked.
    """
    if settings.audit_signing_key_file is not None:
        if not settings.audit_signing_key_file.is_file():
            raise ValueError(f"CONSENT_AUDIT_SIGNING_KEY_FILE names no file: {settings.audit_signing_key_file}")
        return settings.audit_signing_key_file
    if settings.database.is_sqlite:
        return ensure_key_file(settings.data_dir / EMBEDDED_KEY_FILE)
    raise ValueError(
        "Set CONSENT_AUDIT_SIGNING_KEY_FILE: the Ed25519 key (PEM) that signs the access log's checkpoints."
    )
