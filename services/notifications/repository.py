"""Every query the notifications service makes: subscriptions, the events kept for them, deliveries and reminders."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from services.notifications.models import Delivery, DeliveryAttempt, ForwardedEvent, Reminder, Subscription

# --- subscriptions ------------------------------------------------------------------


async def subscription_for_update(session: AsyncSession, subscription_id: str) -> Subscription | None:
    return await session.get(Subscription, subscription_id, with_for_update=True)


async def subscriptions_of(session: AsyncSession, organisation_id: str) -> list[Subscription]:
    statement = (
        select(Subscription)
        .where(col(Subscription.organisation_id) == organisation_id)
        .order_by(col(Subscription.created_at), col(Subscription.id))
    )
    return list((await session.execute(statement)).scalars())


async def lock_subscriptions_of(session: AsyncSession, organisation_id: str) -> None:
    """Until the transaction ends, no other transaction counts or adds the organisation's subscriptions.

    On SQLite the one writer connection already makes the count and the insert take turns.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:organisation))"),
            {"namespace": _SUBSCRIPTIONS_LOCK_NAMESPACE, "organisation": organisation_id},
        )


# The first key of the two-key advisory lock on an organisation's subscriptions ("subs" in ASCII).
_SUBSCRIPTIONS_LOCK_NAMESPACE = 0x73756273


async def count_subscriptions_of(session: AsyncSession, organisation_id: str) -> int:
    statement = select(func.count()).where(col(Subscription.organisation_id) == organisation_id)
    return int(await session.scalar(statement) or 0)


async def all_subscriptions(session: AsyncSession) -> list[Subscription]:
    return list((await session.execute(select(Subscription))).scalars())


async def delete_subscription(session: AsyncSession, subscription: Subscription) -> None:
    """The subscription, what it is owed and its delivery log."""
    await session.execute(delete(DeliveryAttempt).where(col(DeliveryAttempt.subscription_id) == subscription.id))
    await session.execute(delete(Delivery).where(col(Delivery.subscription_id) == subscription.id))
    await session.delete(subscription)


# --- forwarded events ---------------------------------------------------------------


EventKey = tuple[datetime, str]


async def events_page(
    session: AsyncSession, since: datetime, after: EventKey | None, size: int
) -> list[tuple[datetime, str, str, str | None]]:
    """Up to `size` kept events from `since` on, after `after` (their time and id), in the order they happened.

    Each as (time, id, type, family id): what deciding whether it is owed needs, and not its body.
    """
    statement = (
        select(
            col(ForwardedEvent.time), col(ForwardedEvent.id), col(ForwardedEvent.type), col(ForwardedEvent.family_id)
        )
        .where(col(ForwardedEvent.time) >= since)
        .order_by(col(ForwardedEvent.time), col(ForwardedEvent.id))
        .limit(size)
    )
    if after is not None:
        at, event_id = after
        statement = statement.where(
            or_(
                col(ForwardedEvent.time) > at,
                and_(col(ForwardedEvent.time) == at, col(ForwardedEvent.id) > event_id),
            )
        )
    return [
        (time, event_id, event_type, family_id)
        for time, event_id, event_type, family_id in await session.execute(statement)
    ]


async def insert_deliveries(session: AsyncSession, deliveries: Sequence[dict[str, Any]]) -> None:
    """Deliveries as column values, in one statement, without the unit of work holding each one."""
    await session.execute(insert(Delivery), deliveries)


async def oldest_event_time(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.min(ForwardedEvent.time)))


async def forget_events_before(session: AsyncSession, cutoff: datetime) -> None:
    """Events older than `cutoff` with their finished deliveries and attempts; an event still owed stays."""
    old = select(col(ForwardedEvent.id)).where(col(ForwardedEvent.time) < cutoff)
    finished = select(col(Delivery.id)).where(col(Delivery.event_id).in_(old), col(Delivery.status) != "pending")
    await session.execute(delete(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(finished)))
    await session.execute(delete(Delivery).where(col(Delivery.event_id).in_(old), col(Delivery.status) != "pending"))
    still_owed = select(col(Delivery.event_id)).where(col(Delivery.status) == "pending")
    await session.execute(
        delete(ForwardedEvent).where(col(ForwardedEvent.time) < cutoff, col(ForwardedEvent.id).not_in(still_owed))
    )


# --- deliveries ---------------------------------------------------------------------

# One alias for every query, so that SQLAlchemy compiles the statement once and reuses it.
_EARLIER = aliased(Delivery)


def _lease_free(at: datetime) -> ColumnElement[bool]:
    return or_(col(Delivery.leased_until).is_(None), col(Delivery.leased_until) < at)


async def due_heads(
    session: AsyncSession,
    at: datetime,
    limit: int,
    *,
    full_subscriptions: Sequence[str],
    full_organisations: Sequence[str],
) -> list[tuple[int, str, str]]:
    """The oldest pending delivery of each lane that is due and free: (delivery id, subscription id, organisation id).

    Taken in turns across organisations (each one's oldest, then each one's next oldest, ...), so that one
    organisation's backlog never fills the page before another's first delivery; subscriptions and
    organisations that have no room for more in flight are left out.
    """
    earlier = _EARLIER
    heads = (
        select(
            col(Delivery.id).label("delivery_id"),
            col(Delivery.subscription_id).label("subscription_id"),
            col(Subscription.organisation_id).label("organisation_id"),
            func.row_number()
            .over(partition_by=col(Subscription.organisation_id), order_by=col(Delivery.id))
            .label("turn"),
        )
        .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
        .where(
            col(Delivery.status) == "pending",
            col(Subscription.status) == "active",
            col(Delivery.next_attempt_at) <= at,
            _lease_free(at),
            col(Delivery.subscription_id).not_in(full_subscriptions),
            col(Subscription.organisation_id).not_in(full_organisations),
            ~exists().where(
                and_(
                    col(earlier.status) == "pending",
                    col(earlier.subscription_id) == col(Delivery.subscription_id),
                    col(earlier.lane) == col(Delivery.lane),
                    col(earlier.id) < col(Delivery.id),
                )
            ),
        )
        .subquery()
    )
    statement = (
        select(heads.c.delivery_id, heads.c.subscription_id, heads.c.organisation_id)
        .order_by(heads.c.turn, heads.c.delivery_id)
        .limit(limit)
    )
    return [
        (int(delivery_id), subscription_id, organisation_id)
        for delivery_id, subscription_id, organisation_id in await session.execute(statement)
    ]


async def next_due(session: AsyncSession, at: datetime) -> datetime | None:
    """The first time after `at` at which a pending delivery's retry falls due or its lease lapses; None if none will.

    Early rather than late: a delivery behind another in its lane counts too, and waking for it costs one look.
    """
    retries = select(func.min(col(Delivery.next_attempt_at))).where(
        col(Delivery.status) == "pending", col(Delivery.next_attempt_at) > at
    )
    lapses = select(func.min(col(Delivery.leased_until))).where(
        col(Delivery.status) == "pending", col(Delivery.leased_until) >= at
    )
    times = [await session.scalar(retries), await session.scalar(lapses)]
    return min((time for time in times if time is not None), default=None)


async def lease(session: AsyncSession, delivery_ids: list[int], at: datetime, lease: timedelta) -> set[int]:
    """Those of `delivery_ids` whose lease was free at `at`, now leased until `at + lease`."""
    leased = await session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(delivery_ids), _lease_free(at))
        .values(leased_until=at + lease)
        .returning(col(Delivery.id))
    )
    return {delivery_id for delivery_id in leased.scalars() if delivery_id is not None}


async def deliveries_to_send(
    session: AsyncSession, delivery_ids: list[int]
) -> list[tuple[int, Subscription, ForwardedEvent]]:
    """Each delivery with its subscription and event, in delivery order."""
    rows = await session.execute(
        select(col(Delivery.id), Subscription, ForwardedEvent)
        .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
        .join(ForwardedEvent, col(ForwardedEvent.id) == col(Delivery.event_id))
        .where(col(Delivery.id).in_(delivery_ids))
        .order_by(col(Delivery.id))
    )
    return [(delivery_id, subscription, event) for delivery_id, subscription, event in rows if delivery_id is not None]


async def finish_deliveries(session: AsyncSession, delivery_ids: list[int], status: str, at: datetime) -> list[int]:
    """Finish deliveries as `status` in one statement; the ids still there (a deleted subscription's are gone)."""
    still_there = await session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(delivery_ids))
        .values(status=status, finished_at=at, leased_until=None, attempts=col(Delivery.attempts) + 1)
        .returning(col(Delivery.id))
    )
    return [delivery_id for delivery_id in still_there.scalars() if delivery_id is not None]


async def insert_attempts(session: AsyncSession, attempts: Sequence[dict[str, Any]]) -> None:
    """Delivery attempts as column values, in one statement, without the unit of work."""
    await session.execute(insert(DeliveryAttempt), attempts)


async def delivery_for_update(session: AsyncSession, delivery_id: int) -> Delivery | None:
    return await session.get(Delivery, delivery_id, with_for_update=True)


async def attempts_page(
    session: AsyncSession, subscription_id: str, limit: int, before: int | None
) -> Sequence[tuple[DeliveryAttempt, str, str, bool]]:
    """A subscription's attempts, newest first, each with its event's type and id and whether it was a replay."""
    statement = (
        select(DeliveryAttempt, col(ForwardedEvent.type), col(ForwardedEvent.id), col(Delivery.replay))
        .join(Delivery, col(Delivery.id) == col(DeliveryAttempt.delivery_id))
        .join(ForwardedEvent, col(ForwardedEvent.id) == col(Delivery.event_id))
        .where(col(DeliveryAttempt.subscription_id) == subscription_id)
        .order_by(col(DeliveryAttempt.id).desc())
        .limit(limit)
    )
    if before is not None:
        statement = statement.where(col(DeliveryAttempt.id) < before)
    rows = await session.execute(statement)
    return [(attempt, event_type, event_id, replay) for attempt, event_type, event_id, replay in rows]


# --- reminders ----------------------------------------------------------------------


async def due_reminders(session: AsyncSession, at: datetime, limit: int) -> list[Reminder]:
    statement = (
        select(Reminder)
        .where(col(Reminder.status) == "pending", col(Reminder.next_attempt_at) <= at)
        .order_by(col(Reminder.next_attempt_at))
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def next_reminder_due(session: AsyncSession, at: datetime) -> datetime | None:
    """When the first pending reminder not due at `at` falls due; None if there is none."""
    statement = select(func.min(col(Reminder.next_attempt_at))).where(
        col(Reminder.status) == "pending", col(Reminder.next_attempt_at) > at
    )
    due: datetime | None = await session.scalar(statement)
    return due


async def reminder_for_update(session: AsyncSession, event_id: str) -> Reminder | None:
    return await session.get(Reminder, event_id, with_for_update=True)
