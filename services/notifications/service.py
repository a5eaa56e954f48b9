"""Subscriptions, and the events owed to them: the rules; HTTP is in `routes`, sending in `dispatcher`."""

import uuid
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.kit.auth import Principal
from services.kit.events.envelope import FAMILY_EXTENSION, ORGANISATION_EXTENSION, BaseCloudEvent, to_json
from services.kit.events.schemas import EVENT_SCHEMAS_DIR
from services.kit.problems import Conflict, NotFound, ValidationFailed
from services.notifications.destinations import Destinations
from services.notifications.models import Delivery, DeliveryAttempt, ForwardedEvent, Subscription
from services.notifications.schemas import SubscriptionIn
from services.notifications.signing import SecretBox, new_secret

# The aggregates whose events may be forwarded. `audit.recorded` is not among them: who read
# what is answered by the consent service's audit, to those entitled to see it.
FORWARDED_AGGREGATES = ("assessment", "plan", "consent", "override", "form")
# Events about the sharing of a family's data go only to an organisation that may see grants.
CONSENT_AGGREGATES = frozenset({"consent", "override"})
# The data category whose reading an event reveals; form events concern no family.
CATEGORY_OF_AGGREGATE = {"assessment": "assessment", "plan": "plan"}
DELIVERIES_PENDING = "notifications_deliveries_pending"


def forwarded_types() -> frozenset[str]:
    """Every event type a subscription may name, from the published event schemas."""
    return frozenset(
        path.name.removesuffix(".json")
        for path in EVENT_SCHEMAS_DIR.glob("*.json")
        if path.name.split(".", 1)[0] in FORWARDED_AGGREGATES
    )


def category_of(event_type: str) -> str | None:
    return CATEGORY_OF_AGGREGATE.get(event_type.split(".", 1)[0])


class SubscriptionNotFound(NotFound):
    slug, title = "subscription-not-found", "No such subscription"


class UnknownEventType(ValidationFailed):
    slug, title = "unknown-event-type", "An event type names no event that is forwarded"


class SubscriptionNotPaused(Conflict):
    slug, title = "subscription-not-paused", "Only a paused or failing subscription can be resumed"


def now() -> datetime:
    return datetime.now(UTC)


def matches(subscription: Subscription, event_type: str, family_id: str | None) -> bool:
    if not any(fnmatchcase(event_type, pattern) for pattern in subscription.event_types):
        return False
    if event_type.split(".", 1)[0] in CONSENT_AGGREGATES and not subscription.sees_consent_events:
        return False
    return subscription.family_ids is None or family_id in subscription.family_ids


# --- subscriptions ------------------------------------------------------------------


async def create_subscription(
    session: AsyncSession, principal: Principal, body: SubscriptionIn, destinations: Destinations, box: SecretBox
) -> tuple[Subscription, str]:
    """The new subscription and its secret, which is shown once and kept only sealed."""
    known = forwarded_types()
    for index, pattern in enumerate(body.event_types):
        if not any(fnmatchcase(event_type, pattern) for event_type in known):
            raise UnknownEventType(
                f"'{pattern}' matches no event type that is forwarded.",
                errors=[{"pointer": f"/event_types/{index}", "detail": "matches no forwarded event type"}],
            )
    await destinations.check(body.url)
    secret = new_secret()
    subscription = Subscription(
        id=str(uuid.uuid4()),
        organisation_id=principal.organisation_id,
        organisation_type=principal.organisation_type,
        sees_consent_events="consent:read" in principal.scopes,
        url=body.url,
        event_types=sorted(set(body.event_types)),
        family_ids=sorted(set(body.family_ids)) if body.family_ids is not None else None,
        description=body.description,
        status="active",
        secret=box.seal(secret),
        created_at=now(),
        created_by=principal.subject,
    )
    session.add(subscription)
    return subscription, secret


async def owned_subscription(session: AsyncSession, principal: Principal, subscription_id: str) -> Subscription:
    """The caller's organisation's subscription; another organisation's is as absent as a missing one."""
    subscription = await session.get(Subscription, subscription_id, with_for_update=True)
    if subscription is None or subscription.organisation_id != principal.organisation_id:
        raise SubscriptionNotFound(f"There is no subscription {subscription_id} of your organisation.")
    return subscription


async def subscriptions_of(session: AsyncSession, principal: Principal) -> list[Subscription]:
    statement = (
        select(Subscription)
        .where(col(Subscription.organisation_id) == principal.organisation_id)
        .order_by(col(Subscription.created_at), col(Subscription.id))
    )
    return list((await session.execute(statement)).scalars())


def pause(subscription: Subscription) -> None:
    """Stop sending; events keep being recorded, and are sent in order on resume."""
    subscription.status = "paused"


def resume(session: AsyncSession, subscription: Subscription) -> None:
    if subscription.status == "active":
        raise SubscriptionNotPaused("The subscription is already active.")
    subscription.status = "active"
    subscription.failing_since = None
    session.info[DELIVERIES_PENDING] = True


def rotate_secret(subscription: Subscription, box: SecretBox, overlap: timedelta) -> str:
    """A new secret; the current one keeps signing beside it for `overlap`, so receivers can switch over."""
    secret = new_secret()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = now() + overlap
    subscription.secret = box.seal(secret)
    return secret


def signing_secrets(subscription: Subscription, box: SecretBox, at: datetime) -> list[str]:
    secrets_now = [box.open(subscription.secret)]
    previous, until = subscription.previous_secret, subscription.previous_secret_until
    if previous is not None and until is not None and at < until:
        secrets_now.append(box.open(previous))
    return secrets_now


async def delete_subscription(session: AsyncSession, subscription: Subscription) -> None:
    """The subscription, what it is owed and its delivery log."""
    await session.execute(delete(DeliveryAttempt).where(col(DeliveryAttempt.subscription_id) == subscription.id))
    await session.execute(delete(Delivery).where(col(Delivery.subscription_id) == subscription.id))
    await session.delete(subscription)


# --- events in ----------------------------------------------------------------------


async def take_in(session: AsyncSession, event: BaseCloudEvent) -> None:
    """Keep the event and owe it to every subscription it matches, in the transaction that acknowledges it."""
    attributes = event.get_attributes()
    family_id = attributes.get(FAMILY_EXTENSION)
    organisation_id = attributes.get(ORGANISATION_EXTENSION)
    occurred = event.get_time() or now()
    forwarded = ForwardedEvent(
        id=event.get_id(),
        type=event.get_type(),
        family_id=family_id if isinstance(family_id, str) else None,
        organisation_id=organisation_id if isinstance(organisation_id, str) else None,
        time=occurred,
        body=to_json(event),
    )
    session.add(forwarded)
    subscriptions = (await session.execute(select(Subscription))).scalars()
    owed = [s for s in subscriptions if matches(s, forwarded.type, forwarded.family_id)]
    _owe(session, forwarded, owed, replay=False)


def _owe(session: AsyncSession, event: ForwardedEvent, subscriptions: list[Subscription], *, replay: bool) -> None:
    at = now()
    for subscription in subscriptions:
        session.add(
            Delivery(
                subscription_id=subscription.id,
                event_id=event.id,
                lane=event.family_id or event.type,
                status="pending",
                next_attempt_at=at,
                replay=replay,
                created_at=at,
            )
        )
    if subscriptions:
        session.info[DELIVERIES_PENDING] = True


async def replay(session: AsyncSession, subscription: Subscription, since: datetime) -> tuple[int, datetime]:
    """Owe again every kept event since `since` that the subscription matches, with the same webhook ids.

    Returns how many, and since when events are kept.
    """
    statement = (
        select(ForwardedEvent)
        .where(col(ForwardedEvent.time) >= since)
        .order_by(col(ForwardedEvent.time), col(ForwardedEvent.id))
    )
    events = [e for e in (await session.execute(statement)).scalars() if matches(subscription, e.type, e.family_id)]
    for event in events:
        _owe(session, event, [subscription], replay=True)
    oldest = await session.scalar(select(func.min(ForwardedEvent.time)))
    return len(events), oldest or now()


async def forget_old_events(session: AsyncSession, keep_days: int) -> None:
    """Drop events older than the replay window, with their finished deliveries and attempts."""
    cutoff = now() - timedelta(days=keep_days)
    old = select(col(ForwardedEvent.id)).where(col(ForwardedEvent.time) < cutoff)
    finished = select(col(Delivery.id)).where(col(Delivery.event_id).in_(old), col(Delivery.status) != "pending")
    await session.execute(delete(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(finished)))
    await session.execute(delete(Delivery).where(col(Delivery.event_id).in_(old), col(Delivery.status) != "pending"))
    still_owed = select(col(Delivery.event_id)).where(col(Delivery.status) == "pending")
    await session.execute(
        delete(ForwardedEvent).where(col(ForwardedEvent.time) < cutoff, col(ForwardedEvent.id).not_in(still_owed))
    )
