"""Entry point: `uvicorn --factory services.plan.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.access.projection import MIGRATIONS as ACCESS_MIGRATIONS
from services.access.projection import access_consumers, deciding_access
from services.access.standing import Standing
from services.kit.app import create_service_app
from services.kit.idempotency import purge_expired
from services.kit.periodic import running_every
from services.kit.service_token import ServiceToken
from services.plan import routes
from services.plan.clients import AssessmentFindings
from services.plan.config import PlanSettings
from services.plan.events import AssessmentEvents, PlanOpenings
from services.plan.outcomes_plan import load_outcomes_plan
from services.plan.population import load_population
from services.plan.service import announce_reviews_due
from services.plan.service.reporting_profiles import filling_missing_profiles

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
PURGE_EVERY_SECONDS = 3600.0


def create_app(settings: PlanSettings | None = None) -> FastAPI:
    settings = settings or PlanSettings()
    # Read before anything starts: a council's outcomes plan that does not hold together stops the service here.
    outcomes_plan = load_outcomes_plan(settings.supporting_families_plan)
    population = load_population(settings.child_population)
    app: FastAPI

    def findings() -> AssessmentFindings:
        found: AssessmentFindings = app.state.findings
        return found

    def standing() -> Standing:
        told: Standing = app.state.standing
        return told

    assessments = AssessmentEvents(findings, standing, acting_as=f"service:{settings.name}")
    openings = PlanOpenings(findings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        token = ServiceToken(app.state.http, settings.service_client)
        app.state.findings = AssessmentFindings(token, settings.assessment_url)
        app.state.standing = Standing(token, settings.access_decisions_url)
        async with AsyncExitStack() as jobs:
            database = app.state.database
            await jobs.enter_async_context(deciding_access(app, settings))
            await jobs.enter_async_context(
                running_every(database, settings.review_sweep_seconds, announce_reviews_due, "reviews-due")
            )
            await jobs.enter_async_context(
                running_every(database, PURGE_EVERY_SECONDS, purge_expired, "idempotency-purge")
            )
            await jobs.enter_async_context(filling_missing_profiles(database, app.state.findings))
            yield

    app = create_service_app(
        settings,
        title="Graduated Pathway: plans",
        routers=[routes.router, routes.reports, routes.supporting_families],
        consumers=[assessments.consumer(), openings.consumer(), *access_consumers(settings)],
        migrations_dirs=[ACCESS_MIGRATIONS, MIGRATIONS],
        lifespan=lifespan,
    )
    app.state.outcomes_plan = outcomes_plan
    app.state.population = population
    return app
