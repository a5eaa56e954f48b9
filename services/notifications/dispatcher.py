"""Sending what is owed: each subscription on its own, each family's events in order, retried for days.

The dispatcher takes the oldest pending delivery of each lane (a subscription
and a family) that is due, leases it, and sends it in its own task. A lane's
next event waits until the one before it is delivered, withheld or given up, so
a family's events arrive in the order they happened. A subscription has at most
`in_flight_per_subscription` deliveries in flight, so a slow or dead receiver
holds a few tasks and never the others' turn. Retries wait 5 s, 30 s, 2 min, 10
min, 1 h, 6 h and then every 12 h (with jitter), until three days after the
first failure; then the delivery is dead-lettered, the subscription is marked
failing and `notification.subscription_failing` is emitted.

A lease outlives one attempt, so a delivery left half-done by a crash is taken
up again when its lease lapses; receivers tell the copy by its `webhook-id`.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from services.kit.db import Database
from services.kit.problems import ServiceError
from services.kit.tasks import stop_task
from services.notifications import events
from services.notifications.config import NotificationsSettings
from services.notifications.destinations import Destinations, RefusedDestination
from services.notifications.models import Delivery, DeliveryAttempt, ForwardedEvent, Subscription
from services.notifications.service import DELIVERIES_PENDING, now, signing_secrets
from services.notifications.signing import SecretBox, signature_headers
from services.notifications.visibility import Visibility

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "GraduatedPathway-Webhooks/1"
LEASE_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class Sending:
    """One delivery, ready to go: everything read, nothing held while the receiver answers."""

    delivery_id: int
    subscription_id: str
    url: str
    webhook_id: str
    body: str
    secrets: list[str]


def webhook_client(settings: NotificationsSettings) -> httpx.AsyncClient:
    # Its own client: no redirects followed, no proxies from the environment, and none of the
    # request-id hooks the services' shared client carries into calls between services.
    return httpx.AsyncClient(
        timeout=settings.delivery_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=settings.in_flight_total, max_keepalive_connections=64),
        headers={"User-Agent": USER_AGENT},
    )


class Dispatcher:
    def __init__(
        self,
        database: Database,
        settings: NotificationsSettings,
        *,
        destinations: Destinations,
        box: SecretBox,
        visibility: Visibility,
        http: httpx.AsyncClient,
    ) -> None:
        self.database = database
        self.settings = settings
        self.destinations = destinations
        self.box = box
        self.visibility = visibility
        self.http = http
        self.lease = timedelta(seconds=settings.delivery_timeout_seconds + LEASE_MARGIN_SECONDS)
        self._wake = asyncio.Event()
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._random = random.Random()
        database.wake_on_commit(DELIVERIES_PENDING, self._wake)

    def start(self) -> None:
        self._loop = asyncio.create_task(self.run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._loop is not None:
            await stop_task(self._loop)
        for task in list(self._tasks):
            await stop_task(task)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                taken = await self._take_due()
            except Exception as error:  # noqa: BLE001 (the database away: try again shortly)
                logger.warning("dispatcher could not read deliveries", extra={"error": type(error).__name__})
                taken = []
            for sending in taken:
                self._in_flight[sending.subscription_id] += 1
                task = asyncio.create_task(self._send(sending), name=f"webhook-{sending.delivery_id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can lose a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_seconds):
                    await self._wake.wait()

    async def _take_due(self) -> list[Sending]:
        free = self.settings.in_flight_total - sum(self._in_flight.values())
        if free <= 0:
            return []
        at = now()
        async with self.database.sessionmaker() as session, session.begin():
            heads = await self._due_heads(session, at, limit=free * 4)
            chosen: list[Delivery] = []
            taking: Counter[str] = Counter()
            for delivery in heads:
                room = self.settings.in_flight_per_subscription - self._in_flight[delivery.subscription_id]
                if taking[delivery.subscription_id] < room and len(chosen) < free:
                    chosen.append(delivery)
                    taking[delivery.subscription_id] += 1
            if not chosen:
                return []
            leased = set(
                (
                    await session.execute(
                        update(Delivery)
                        .where(col(Delivery.id).in_([d.id for d in chosen]), _lease_free(at))
                        .values(leased_until=at + self.lease)
                        .returning(col(Delivery.id))
                    )
                ).scalars()
            )
            return [await self._prepare(session, d) for d in chosen if d.id in leased]

    @staticmethod
    async def _due_heads(session: AsyncSession, at: datetime, limit: int) -> list[Delivery]:
        earlier = aliased(Delivery)
        statement = (
            select(Delivery)
            .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
            .where(
                col(Delivery.status) == "pending",
                col(Subscription.status) == "active",
                col(Delivery.next_attempt_at) <= at,
                _lease_free(at),
                ~exists().where(
                    and_(
                        col(earlier.status) == "pending",
                        col(earlier.subscription_id) == col(Delivery.subscription_id),
                        col(earlier.lane) == col(Delivery.lane),
                        col(earlier.id) < col(Delivery.id),
                    )
                ),
            )
            .order_by(col(Delivery.id))
            .limit(limit)
        )
        return list((await session.execute(statement)).scalars())

    async def _prepare(self, session: AsyncSession, delivery: Delivery) -> Sending:
        subscription = await session.get(Subscription, delivery.subscription_id)
        event = await session.get(ForwardedEvent, delivery.event_id)
        assert subscription is not None and event is not None and delivery.id is not None
        return Sending(
            delivery_id=delivery.id,
            subscription_id=subscription.id,
            url=subscription.url,
            webhook_id=event.id,
            body=event.body.decode(),
            secrets=signing_secrets(subscription, self.box, now()),
        )

    async def _send(self, sending: Sending) -> None:
        try:
            if not await self._visible(sending):
                await self._finish(sending, "withheld", error="the subscriber may not see this family's data now")
                return
            await self.destinations.check(sending.url)
            status, latency, error = await self._post(sending)
            if status is not None and 200 <= status < 300:
                await self._finish(sending, "delivered", status_code=status, latency_ms=latency)
            else:
                await self._failed(sending, status, latency, error)
        except RefusedDestination as refused:
            await self._failed(sending, None, None, f"destination refused ({refused.extensions['rule']})")
        except ServiceError as unavailable:  # consent or plan service away: a failure, retried like any other
            await self._failed(sending, None, None, f"could not decide who may see it ({unavailable.status})")
        except Exception as error:  # noqa: BLE001 (record it; the lease brings the delivery back if even that fails)
            logger.warning("delivery failed", extra={"delivery": sending.delivery_id, "error": type(error).__name__})
            with contextlib.suppress(Exception):
                await self._failed(sending, None, None, f"internal error ({type(error).__name__})")
        finally:
            self._in_flight[sending.subscription_id] -= 1
            if self._in_flight[sending.subscription_id] <= 0:
                del self._in_flight[sending.subscription_id]
            self._wake.set()  # the lane's next event may go now

    async def _visible(self, sending: Sending) -> bool:
        async with self.database.sessionmaker() as session, session.begin():
            subscription = await session.get(Subscription, sending.subscription_id)
            event = await session.get(ForwardedEvent, sending.webhook_id)
            assert subscription is not None and event is not None
            return await self.visibility.may_see(session, subscription, event)

    async def _post(self, sending: Sending) -> tuple[int | None, float, str | None]:
        headers = {
            "Content-Type": CONTENT_TYPE,
            **signature_headers(sending.webhook_id, now(), sending.body, sending.secrets),
        }
        started = time.perf_counter()
        try:
            # Streamed and closed unread: the receiver's body is neither needed nor kept.
            async with self.http.stream("POST", sending.url, content=sending.body, headers=headers) as response:
                status = response.status_code
        except httpx.TimeoutException:
            return None, _ms(started), f"no answer within {self.settings.delivery_timeout_seconds:g} s"
        except httpx.HTTPError as error:
            return None, _ms(started), f"could not connect ({type(error).__name__})"
        latency = _ms(started)
        if 300 <= status < 400:
            return status, latency, "redirects are not followed"
        return status, latency, None if 200 <= status < 300 else f"answered {status}"

    async def _finish(
        self,
        sending: Sending,
        outcome: str,
        *,
        status_code: int | None = None,
        latency_ms: float | None = None,
        error: str | None = None,
    ) -> None:
        at = now()
        async with self.database.sessionmaker() as session, session.begin():
            delivery = await session.get(Delivery, sending.delivery_id, with_for_update=True)
            if delivery is None:  # the subscription was deleted meanwhile
                return
            delivery.status, delivery.finished_at, delivery.leased_until = outcome, at, None
            delivery.attempts += 1
            session.add(_attempt(delivery, at, outcome, status_code, latency_ms, error))

    async def _failed(
        self, sending: Sending, status_code: int | None, latency_ms: float | None, error: str | None
    ) -> None:
        at = now()
        async with self.database.sessionmaker() as session, session.begin():
            delivery = await session.get(Delivery, sending.delivery_id, with_for_update=True)
            if delivery is None:
                return
            delivery.attempts += 1
            delivery.first_failed_at = delivery.first_failed_at or at
            delivery.leased_until = None
            if at - delivery.first_failed_at >= timedelta(seconds=self.settings.give_up_after_seconds):
                delivery.status, delivery.finished_at = "dead", at
                session.add(_attempt(delivery, at, "dead", status_code, latency_ms, error))
                await self._mark_failing(session, delivery, at)
                return
            delays = self.settings.retry_delays_seconds
            wait = delays[min(delivery.attempts, len(delays)) - 1] * self._random.uniform(0.8, 1.2)
            delivery.next_attempt_at = at + timedelta(seconds=wait)
            session.add(_attempt(delivery, at, "failed", status_code, latency_ms, error))

    @staticmethod
    async def _mark_failing(session: AsyncSession, delivery: Delivery, at: datetime) -> None:
        subscription = await session.get(Subscription, delivery.subscription_id, with_for_update=True)
        assert subscription is not None
        if subscription.status == "failing":
            return
        subscription.status, subscription.failing_since = "failing", at
        logger.error("subscription failing", extra={"subscription": subscription.id})
        events.emit(
            session,
            events.SubscriptionFailing(
                subscription_id=subscription.id,
                organisation_id=subscription.organisation_id,
                failing_since=at,
                event_id=delivery.event_id,
            ),
            subject=f"subscription/{subscription.id}",
        )


def _lease_free(at: datetime) -> ColumnElement[bool]:
    return or_(col(Delivery.leased_until).is_(None), col(Delivery.leased_until) < at)


def _attempt(
    delivery: Delivery, at: datetime, outcome: str, status_code: int | None, latency_ms: float | None, error: str | None
) -> DeliveryAttempt:
    assert delivery.id is not None
    return DeliveryAttempt(
        delivery_id=delivery.id,
        subscription_id=delivery.subscription_id,
        attempted_at=at,
        status_code=status_code,
        latency_ms=latency_ms,
        error=error,
        outcome=outcome,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
