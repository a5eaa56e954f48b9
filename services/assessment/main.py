"""Entry point: `uvicorn --factory services.assessment.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.access.projection import MIGRATIONS as ACCESS_MIGRATIONS
from services.access.projection import access_consumers, deciding_access
from services.assessment import routes
from services.assessment.clients import Consent
from services.assessment.config import AssessmentSettings
from services.assessment.forms import read_definition_files
from services.assessment.localities import load_localities
from services.assessment.service.form_versions import CompiledForms, load_shipped_forms
from services.kit.app import create_service_app
from services.kit.db import Database
from services.kit.idempotency import purge_expired
from services.kit.periodic import running_every
from services.kit.service_token import ServiceToken

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
PURGE_EVERY_SECONDS = 3600.0


def create_app(settings: AssessmentSettings | None = None) -> FastAPI:
    settings = settings or AssessmentSettings()
    # Read before anything starts: a lookup that does not hold together stops the service here.
    localities = load_localities(settings.locality_lookup)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database: Database = app.state.database
        async with database.sessionmaker() as session, session.begin():
            await load_shipped_forms(session, read_definition_files(settings.forms_dir))
        app.state.forms = CompiledForms()
        app.state.consent = Consent(
            ServiceToken(app.state.http, settings.service_client), settings.access_decisions_url
        )
        async with (
            deciding_access(app, settings),
            running_every(database, PURGE_EVERY_SECONDS, purge_expired, "idempotency-purge"),
        ):
            yield

    app = create_service_app(
        settings,
        title="Graduated Pathway: assessments",
        routers=[routes.router],
        consumers=access_consumers(settings),
        migrations_dirs=[ACCESS_MIGRATIONS, MIGRATIONS],
        lifespan=lifespan,
    )
    app.state.localities = localities
    return app
