"""Subscriptions and the events owed to them: the rules. HTTP is in `routes`, queries in `repository`."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.kit.problems import Conflict, NotFound, ValidationFailed
from services.notifications import repository
from services.notifications.destinations import Destinations
from services.notifications.models import Delivery, DeliveryAttempt, ForwardedEvent, Subscription
from services.notifications.schemas import SubscriptionIn
from services.notifications.signing import SecretBox, new_secret
from services.notifications.visibility import HEARD_BY, audience_of

DELIVERIES_PENDING = "notifications_deliveries_pending"


def forwarded_types() -> frozenset[str]:
    """Every event type a subscription may name: those `visibility.HEARD_BY` says someone may hear of."""
    return frozenset(event_type for event_type, audience in HEARD_BY.items() if audience.forwarded)


# The aggregates whose events are taken in from JetStream, in the order `HEARD_BY` names them: the durable
# consumer's subjects stay as they were, so an upgrade does not change its configuration.
FORWARDED_AGGREGATES = tuple(
    dict.fromkeys(event_type.split(".", 1)[0] for event_type, audience in HEARD_BY.items() if audience.forwarded)
)


class SubscriptionNotFound(NotFound):
    slug, title = "subscription-not-found", "No such subscription"


class UnknownEventType(ValidationFailed):
    slug, title = "unknown-event-type", "An event type names no event that is forwarded"


class SubscriptionLimitReached(Conflict):
    slug, title = "subscription-limit-reached", "Your organisation holds as many subscriptions as it may"


class SubscriptionNotPaused(Conflict):
    slug, title = "subscription-not-paused", "Only a paused or failing subscription can be resumed"


def matches(subscription: Subscription, event_type: str, family_id: str | None) -> bool:
    """Whether the subscription asked for the event; whether it may hear of it is decided at delivery."""
    audience = audience_of(event_type)
    if audience is None or not audience.forwarded:
        return False
    if not any(fnmatchcase(event_type, pattern) for pattern in subscription.event_types):
        return False
    # Grants and overrides are read over REST with `consent:read`: a subscription made without it hears of none.
    if audience.kind == "sharing_record" and not subscription.sees_consent_events:
        return False
    return subscription.family_ids is None or family_id in subscription.family_ids


# --- subscriptions ------------------------------------------------------------------


async def create_subscription(
    session: AsyncSession,
    principal: Principal,
    body: SubscriptionIn,
    destinations: Destinations,
    box: SecretBox,
    *,
    limit: int,
) -> tuple[Subscription, str]:
    """The new subscription and its secret, which is shown once and kept only sealed.

    An organisation holds at most `limit` subscriptions: each one costs deliveries, retries and a share of
    the slots every organisation's deliveries take turns in.
    """
    known = forwarded_types()
    for index, pattern in enumerate(body.event_types):
        if not any(fnmatchcase(event_type, pattern) for event_type in known):
            raise UnknownEventType(
                f"'{pattern}' matches no event type that is forwarded.",
                errors=[{"pointer": f"/event_types/{index}", "detail": "matches no forwarded event type"}],
            )
    await destinations.check(body.url)
    await repository.lock_subscriptions_of(session, principal.organisation_id)
    if await repository.count_subscriptions_of(session, principal.organisation_id) >= limit:
        raise SubscriptionLimitReached(
            f"Your organisation holds {limit} subscriptions, the most it may; delete one to make another.",
            limit=limit,
        )
    secret = new_secret()
    subscription = Subscription(
        id=new_id(),
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
    subscription = await repository.subscription_for_update(session, subscription_id)
    if subscription is None or subscription.organisation_id != principal.organisation_id:
        raise SubscriptionNotFound(f"There is no subscription {subscription_id} of your organisation.")
    return subscription


async def subscriptions_of(session: AsyncSession, principal: Principal) -> list[Subscription]:
    return await repository.subscriptions_of(session, principal.organisation_id)


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
    await repository.delete_subscription(session, subscription)


async def delivery_log(
    session: AsyncSession, subscription: Subscription, limit: int, before: int | None
) -> tuple[Sequence[tuple[DeliveryAttempt, str, str, bool]], bool]:
    """Up to `limit` attempts older than `before`, newest first, and whether there are older ones still."""
    rows = await repository.attempts_page(session, subscription.id, limit + 1, before)
    return rows[:limit], len(rows) > limit


# --- events in ----------------------------------------------------------------------


async def take_in(session: AsyncSession, event: ForwardedEvent) -> None:
    """Keep the event and owe it to every subscription it matches, in the transaction that acknowledges it."""
    session.add(event)
    subscriptions = await repository.all_subscriptions(session)
    owed = [s for s in subscriptions if matches(s, event.type, event.family_id)]
    _owe(session, event, owed)


def _owe(session: AsyncSession, event: ForwardedEvent, subscriptions: list[Subscription]) -> None:
    at = now()
    for subscription in subscriptions:
        session.add(Delivery(**_delivery_row(subscription, event.id, event.family_id or event.type, at, replay=False)))
    if subscriptions:
        session.info[DELIVERIES_PENDING] = True


async def replay(
    session: AsyncSession, subscription: Subscription, since: datetime, page_size: int
) -> tuple[int, datetime]:
    """Owe again every kept event since `since` that the subscription matches, with the same webhook ids.

    The kept events are read `page_size` at a time, and only their keys: a subscription with months of
    events owes them all without holding them in memory at once. Returns how many, and since when events are kept.
    """
    at, owed, after = now(), 0, None
    while True:
        page = await repository.events_page(session, since, after, page_size)
        deliveries = [
            _delivery_row(subscription, event_id, family_id or event_type, at, replay=True)
            for _time, event_id, event_type, family_id in page
            if matches(subscription, event_type, family_id)
        ]
        if deliveries:
            await repository.insert_deliveries(session, deliveries)
        owed += len(deliveries)
        if len(page) < page_size:
            break
        after = page[-1][0], page[-1][1]
    if owed:
        session.info[DELIVERIES_PENDING] = True
    oldest = await repository.oldest_event_time(session)
    return owed, oldest or now()


def _delivery_row(
    subscription: Subscription, event_id: str, lane: str, at: datetime, *, replay: bool
) -> dict[str, Any]:
    return {
        "subscription_id": subscription.id,
        "event_id": event_id,
        "lane": lane,
        "status": "pending",
        "next_attempt_at": at,
        "replay": replay,
        "created_at": at,
    }


async def forget_old_events(session: AsyncSession, keep_days: int) -> None:
    """Drop events older than the replay window, with their finished deliveries and attempts."""
    await repository.forget_events_before(session, now() - timedelta(days=keep_days))
