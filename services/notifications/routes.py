"""HTTP for webhook subscriptions: translation only; the rules are in `service`."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.kit.auth import Principal, require_scope
from services.kit.db import SessionDep
from services.kit.ids import ID_PATTERN
from services.kit.openapi import problems
from services.notifications import service
from services.notifications.config import NotificationsSettings
from services.notifications.destinations import Destinations
from services.notifications.models import Subscription
from services.notifications.schemas import (
    DeliveriesOut,
    DeliveryAttemptOut,
    ReplayIn,
    ReplayOut,
    SecretRotated,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
)
from services.notifications.signing import SecretBox

router = APIRouter(tags=["subscriptions"])

ManagesSubscriptions = Annotated[Principal, Depends(require_scope("subscriptions:manage"))]
Id = Annotated[str, Path(max_length=36, pattern=ID_PATTERN)]


# async: FastAPI runs a plain function dependency in a worker thread, a cost on every request.
async def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


async def _destinations(request: Request) -> Destinations:
    destinations: Destinations = request.app.state.destinations
    return destinations


async def _settings(request: Request) -> NotificationsSettings:
    settings: NotificationsSettings = request.app.state.settings
    return settings


BoxDep = Annotated[SecretBox, Depends(_box)]
DestinationsDep = Annotated[Destinations, Depends(_destinations)]
SettingsDep = Annotated[NotificationsSettings, Depends(_settings)]


def _out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=subscription.id,
        url=subscription.url,
        event_types=subscription.event_types,
        family_ids=subscription.family_ids,
        description=subscription.description,
        status=subscription.status,
        created_at=subscription.created_at,
        failing_since=subscription.failing_since,
        previous_secret_valid_until=subscription.previous_secret_until,
    )


@router.post("/subscriptions", status_code=201, responses=problems(409))
async def create_subscription(
    body: SubscriptionIn,
    session: SessionDep,
    principal: ManagesSubscriptions,
    box: BoxDep,
    destinations: DestinationsDep,
    settings: SettingsDep,
    response: Response,
) -> SubscriptionCreated:
    """Subscribe a URL to events; the signing secret is in this answer and never again."""
    subscription, secret = await service.create_subscription(
        session, principal, body, destinations, box, limit=settings.max_subscriptions_per_organisation
    )
    response.headers["Location"] = f"/subscriptions/{subscription.id}"
    return SubscriptionCreated(**_out(subscription).model_dump(), secret=secret)


@router.get("/subscriptions")
async def list_subscriptions(session: SessionDep, principal: ManagesSubscriptions) -> list[SubscriptionOut]:
    """Your organisation's subscriptions."""
    return [_out(s) for s in await service.subscriptions_of(session, principal)]


@router.get("/subscriptions/{subscription_id}")
async def get_subscription(
    subscription_id: Id, session: SessionDep, principal: ManagesSubscriptions
) -> SubscriptionOut:
    return _out(await service.owned_subscription(session, principal, subscription_id))


@router.delete("/subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: Id, session: SessionDep, principal: ManagesSubscriptions) -> Response:
    """Stop for good: what was still owed is dropped with the delivery log."""
    await service.delete_subscription(session, await service.owned_subscription(session, principal, subscription_id))
    return Response(status_code=204)


@router.post("/subscriptions/{subscription_id}/pause")
async def pause_subscription(
    subscription_id: Id, session: SessionDep, principal: ManagesSubscriptions
) -> SubscriptionOut:
    """Stop sending for a while; events are kept and sent, in order, on resume."""
    subscription = await service.owned_subscription(session, principal, subscription_id)
    service.pause(subscription)
    return _out(subscription)


@router.post("/subscriptions/{subscription_id}/resume", responses=problems(409))
async def resume_subscription(
    subscription_id: Id, session: SessionDep, principal: ManagesSubscriptions
) -> SubscriptionOut:
    """Send again after a pause, or after the subscription was marked failing."""
    subscription = await service.owned_subscription(session, principal, subscription_id)
    service.resume(session, subscription)
    return _out(subscription)


@router.post("/subscriptions/{subscription_id}/rotate-secret")
async def rotate_secret(
    subscription_id: Id, session: SessionDep, principal: ManagesSubscriptions, box: BoxDep, settings: SettingsDep
) -> SecretRotated:
    """A new signing secret, shown once; the old one also signs until `previous_secret_valid_until`."""
    subscription = await service.owned_subscription(session, principal, subscription_id)
    secret = service.rotate_secret(subscription, box, timedelta(seconds=settings.rotation_overlap_seconds))
    assert subscription.previous_secret_until is not None
    return SecretRotated(
        subscription_id=subscription.id, secret=secret, previous_secret_valid_until=subscription.previous_secret_until
    )


@router.get("/subscriptions/{subscription_id}/deliveries")
async def list_deliveries(
    subscription_id: Id,
    session: SessionDep,
    principal: ManagesSubscriptions,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, description="an attempt id: older attempts than it")] = None,
) -> DeliveriesOut:
    """Every attempt to deliver to this subscription, newest first."""
    subscription = await service.owned_subscription(session, principal, subscription_id)
    rows, more = await service.delivery_log(session, subscription, limit, before)
    items = [
        DeliveryAttemptOut(
            id=attempt.id,
            webhook_id=event_id,
            event_type=event_type,
            attempted_at=attempt.attempted_at,
            outcome=attempt.outcome,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
            replay=replay,
        )
        for attempt, event_type, event_id, replay in rows
    ]
    next_page = f"/subscriptions/{subscription.id}/deliveries?limit={limit}&before={items[-1].id}" if more else None
    return DeliveriesOut(items=items, next=next_page)


@router.post("/subscriptions/{subscription_id}/replay", status_code=202)
async def replay(
    subscription_id: Id, body: ReplayIn, session: SessionDep, principal: ManagesSubscriptions, settings: SettingsDep
) -> ReplayOut:
    """Send again every event since `since` that the subscription matches, with the same webhook ids."""
    subscription = await service.owned_subscription(session, principal, subscription_id)
    count, kept_since = await service.replay(session, subscription, body.since, settings.replay_page_size)
    return ReplayOut(subscription_id=subscription.id, since=body.since, events=count, kept_since=kept_since)
