"""Entry point: `uvicorn --factory services.plan.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.access_projection import access_consumers, deciding_access
from services.kit.app import create_service_app
from services.kit.auth import Principal
from services.kit.events.consumer import ConsumerSpec, Handler
from services.kit.events.envelope import BaseCloudEvent, nats_subject
from services.kit.idempotency import purge_expired
from services.kit.periodic import running_every
from services.kit.service_token import ServiceToken
from services.plan import reports, routes, service
from services.plan.assessments import AssessmentFindings
from services.plan.config import PlanSettings

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
PURGE_EVERY_SECONDS = 3600.0
# The forms whose submission opens a draft plan; a request for support is counted, not planned.
PLAN_OPENING_FORMS = frozenset({"early-help-assessment"})


def create_app(settings: PlanSettings | None = None) -> FastAPI:
    settings = settings or PlanSettings()
    app: FastAPI

    async def prepare_assessment_event(event: BaseCloudEvent) -> Handler:
        """Note every assessment for the reports; a submitted early help assessment opens a draft plan.

        What the assessment found is read before the transaction opens, so no lock waits on the call.
        """
        data = event.get_data()
        assert isinstance(data, dict)
        submitted = event.get_type() == "assessment.submitted"
        at = event.get_time()
        assert at is not None
        opens_a_plan = submitted and data["form_key"] in PLAN_OPENING_FORMS
        findings = await app.state.findings.of(data["assessment_id"]) if opens_a_plan else None

        async def apply(session: AsyncSession, _event: BaseCloudEvent) -> None:
            await service.note_assessment(
                session,
                assessment_id=data["assessment_id"],
                family_id=data["family_id"],
                organisation_id=data["organisation_id"],
                organisation_type=data["organisation_type"],
                form_key=data["form_key"],
                at=at,
                submitted=submitted,
            )
            if findings is not None:
                # Opened by this service, on behalf of the assessing organisation.
                acting = Principal(
                    subject=f"service:{settings.name}",
                    organisation_id=data["organisation_id"],
                    organisation_type=data["organisation_type"],
                    scopes=frozenset(),
                )
                await service.open_from_submission(session, acting, findings)

        return apply

    assessments = ConsumerSpec(
        name="plan-assessments",
        subjects=[nats_subject("assessment.created"), nats_subject("assessment.submitted")],
        prepare=prepare_assessment_event,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.findings = AssessmentFindings(
            app.state.http, ServiceToken(app.state.http, settings.service_client), settings.assessment_url
        )
        async with AsyncExitStack() as jobs:
            database = app.state.database
            await jobs.enter_async_context(deciding_access(app, settings))
            await jobs.enter_async_context(
                running_every(database, settings.review_sweep_seconds, service.announce_reviews_due, "reviews-due")
            )
            await jobs.enter_async_context(
                running_every(database, PURGE_EVERY_SECONDS, purge_expired, "idempotency-purge")
            )
            yield

    app = create_service_app(
        settings,
        title="Graduated Pathway: plans",
        routers=[routes.router, reports.router],
        consumers=[assessments, *access_consumers(settings)],
        migrations_dir=MIGRATIONS,
        lifespan=lifespan,
    )
    return app
