"""Entry point: `uvicorn --factory services.notifications.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.access.projection import MIGRATIONS as ACCESS_MIGRATIONS
from services.access.projection import access_consumers, deciding_access
from services.kit.app import create_service_app
from services.kit.events.consumer import ConsumerSpec
from services.kit.events.envelope import SUBJECT_PREFIX, nats_subject
from services.kit.periodic import running_every
from services.kit.service_token import ServiceToken
from services.notifications import events, routes, service
from services.notifications.clients import ConsentClient, PlanClient
from services.notifications.config import NotificationsSettings
from services.notifications.destinations import Destinations
from services.notifications.dispatcher import Dispatcher, webhook_client
from services.notifications.reminders import REVIEW_DUE, Mailer
from services.notifications.signing import SecretBox, embedded_secrets_key
from services.notifications.visibility import Visibility

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
FORGET_EVERY_SECONDS = 3600.0

INTAKE = ConsumerSpec(
    name="notifications-intake",
    subjects=[f"{SUBJECT_PREFIX}.{aggregate}.>" for aggregate in service.FORWARDED_AGGREGATES],
    handler=events.forwardable_event_received,
    in_order=True,  # a family's events go out in the order they happened
)
REMINDERS = ConsumerSpec(name="notifications-reminders", subjects=[nats_subject(REVIEW_DUE)], handler=events.review_due)


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    box = SecretBox(_secrets_key(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = app.state.database
        app.state.settings = settings
        app.state.secret_box = box
        app.state.destinations = destinations = Destinations(settings.allowed_networks)
        token = ServiceToken(app.state.http, settings.service_client)
        plans = PlanClient(token, settings.plan_url)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(deciding_access(app, settings))
            http = await stack.enter_async_context(webhook_client(settings))
            dispatcher = Dispatcher(
                database,
                settings,
                destinations=destinations,
                box=box,
                visibility=Visibility(
                    app.state.access_policy, plans, ConsentClient(token, settings.access_decisions_url), token
                ),
                http=http,
                metrics=app.state.metrics,
            )
            mailer = Mailer(database, settings, plans)
            dispatcher.start()
            stack.push_async_callback(dispatcher.stop)
            mailer.start()
            stack.push_async_callback(mailer.stop)

            async def forget_old_events(session: AsyncSession) -> None:
                await service.forget_old_events(session, settings.keep_events_days)

            await stack.enter_async_context(
                running_every(database, FORGET_EVERY_SECONDS, forget_old_events, "forget-old-events")
            )
            yield

    return create_service_app(
        settings,
        title="Graduated Pathway: notifications",
        routers=[routes.router],
        consumers=[INTAKE, REMINDERS, *access_consumers(settings)],
        migrations_dirs=[ACCESS_MIGRATIONS, MIGRATIONS],
        lifespan=lifespan,
    )


def _secrets_key(settings: NotificationsSettings) -> str:
    """The configured key; on the embedded default (SQLite) one is made and kept in the data folder.

    On PostgreSQL, a missing key stops the start rather than the first subscription.
    """
    if settings.secrets_key:
        return settings.secrets_key
    if settings.database.url.startswith("sqlite"):
        return embedded_secrets_key(settings.data_dir)
    raise ValueError("Set NOTIFICATIONS_SECRETS_KEY (a Fernet key) to keep webhook signing secrets.")
