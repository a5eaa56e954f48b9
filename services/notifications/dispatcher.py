"""Sending what is owed: each subscription on its own, each family's events in order, retried for days.

The dispatcher takes the oldest pending delivery of each lane (a subscription
and a family) that is due, leases it, and sends it in its own task. A lane's
next event waits until the one before it is delivered, withheld or given up, so
a family's events arrive in the order they happened. A subscription has at most
`in_flight_per_subscription` deliveries in flight and an organisation at most
`in_flight_per_organisation`, and due deliveries are taken in turns across
organisations, so a slow or dead receiver holds a few slots and never another
organisation's turn. Retries wait 5 s, 30 s, 2 min, 10
min, 1 h, 6 h and then every 12 h (with jitter), until three days after the
first failure; then the delivery is dead-lettered, the subscription is marked
failing and `notification.subscription_failing` is emitted.

A lease outlives one attempt, so a delivery left half-done by a crash is taken
up again when its lease lapses; receivers tell the copy by its `webhook-id`.

Between rounds the dispatcher sleeps: until a commit brings new deliveries, an
attempt ends, or the first retry or lapsed lease falls due, and for
`idle_check_seconds` at most (deliveries another replica committed).
"""

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpcore
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.kit.db import Database
from services.kit.metrics import Metrics
from services.kit.periodic import seconds_until, wait_for_work
from services.kit.problems import ServiceError
from services.kit.tasks import stop_task
from services.notifications import events, repository
from services.notifications.config import NotificationsSettings
from services.notifications.destinations import Destinations, PinnedNetwork, RefusedDestination, pinned_to
from services.notifications.models import Delivery, DeliveryAttempt, ForwardedEvent, Subscription
from services.notifications.service import DELIVERIES_PENDING, signing_secrets
from services.notifications.signing import SecretBox, signature_headers
from services.notifications.visibility import Visibility

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "GraduatedPathway-Webhooks/1"
LEASE_MARGIN_SECONDS = 5.0
# How long a round waits for more work to join it: fewer transactions, each for more deliveries.
GATHER_SECONDS = 0.02
RETRY_SECONDS = 0.5  # how soon deliveries are looked for again after the database failed to answer


@dataclass(frozen=True)
class Sending:
    """One delivery, ready to go: everything read, nothing held while the receiver answers."""

    delivery_id: int
    subscription: Subscription
    event: ForwardedEvent
    body: str
    secrets: list[str]

    @property
    def subscription_id(self) -> str:
        return self.subscription.id

    @property
    def organisation_id(self) -> str:
        return self.subscription.organisation_id

    @property
    def url(self) -> str:
        return self.subscription.url

    @property
    def webhook_id(self) -> str:
        return self.event.id


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt, waiting to be written with the others that ended about the same time."""

    sending: Sending
    at: datetime
    outcome: str  # delivered, failed, withheld
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None


def webhook_client(settings: NotificationsSettings) -> httpx.AsyncClient:
    # Its own client: no redirects followed, no proxies from the environment, none of the request-id
    # hooks the services' shared client carries into calls between services, and connections opened
    # only to the address each attempt checked (`destinations.PinnedNetwork`).
    limits = httpx.Limits(max_connections=settings.in_flight_total, max_keepalive_connections=64)
    transport = httpx.AsyncHTTPTransport(trust_env=False, limits=limits)
    # httpx's transport takes no network backend, so its pool is replaced by the same pool over `PinnedNetwork`.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=PinnedNetwork(),
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=settings.delivery_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


class Dispatcher:
    """Leases due deliveries in batches, sends each in its own task, and writes outcomes in batches.

    On SQLite every transaction waits its turn for the one connection, so a
    delivery costs three transactions shared with all that are due at the same
    moment (the lease, the decision on who may see it, the outcome) rather than
    three of its own.
    """

    def __init__(
        self,
        database: Database,
        settings: NotificationsSettings,
        *,
        destinations: Destinations,
        box: SecretBox,
        visibility: Visibility,
        http: httpx.AsyncClient,
        metrics: Metrics | None = None,
    ) -> None:
        self.database = database
        self.metrics = metrics or Metrics()
        self.settings = settings
        self.destinations = destinations
        self.box = box
        self.visibility = visibility
        self.http = http
        self.lease = timedelta(seconds=settings.delivery_timeout_seconds + LEASE_MARGIN_SECONDS)
        self._wake = asyncio.Event()
        self._ended = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._in_flight: Counter[str] = Counter()  # by subscription
        self._in_flight_for: Counter[str] = Counter()  # by organisation
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._random = random.Random()
        database.wake_on_commit(DELIVERIES_PENDING, self._wake)

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._dispatch(), name="webhook-dispatcher"),
            asyncio.create_task(self._record_outcomes(), name="webhook-outcomes"),
        ]

    async def stop(self) -> None:
        for task in [*self._loops, *self._tasks]:
            await stop_task(task)

    async def _dispatch(self) -> None:
        while True:
            self._wake.clear()
            # A round that took some is followed by another when their outcomes are written (they wake it).
            wait = self.settings.idle_check_seconds
            try:
                taken = await self._take_due()
                sendable = await self._decide(taken)
                if not taken:
                    wait = await self._until_next_due()
            except Exception as error:  # noqa: BLE001 (the database away: try again shortly)
                logger.warning("dispatcher could not read deliveries", extra={"error": type(error).__name__})
                taken, sendable, wait = [], [], RETRY_SECONDS
            for sending in sendable:
                task = asyncio.create_task(self._send(sending), name=f"webhook-{sending.delivery_id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await wait_for_work(self._wake, wait)
            if self._wake.is_set():
                # Let what else is about to commit or finish join this round rather than start its own.
                await asyncio.sleep(GATHER_SECONDS)

    async def _until_next_due(self) -> float:
        """How long nothing is due: until the first retry or lapsed lease, capped by `idle_check_seconds`."""
        async with self.database.sessionmaker() as session:
            due = await repository.next_due(session, now())
        return seconds_until(due, self.settings.idle_check_seconds)

    async def _take_due(self) -> list[Sending]:
        free = self.settings.in_flight_total - sum(self._in_flight.values())
        if free <= 0:
            return []
        per_subscription, per_organisation = (
            self.settings.in_flight_per_subscription,
            self.settings.in_flight_per_organisation,
        )
        at = now()
        async with self.database.sessionmaker() as session, session.begin():
            chosen: list[int] = []
            taking: Counter[str] = Counter()
            taking_for: Counter[str] = Counter()
            heads = await repository.due_heads(
                session,
                at,
                limit=free,
                full_subscriptions=[s for s, n in self._in_flight.items() if n >= per_subscription],
                full_organisations=[o for o, n in self._in_flight_for.items() if n >= per_organisation],
            )
            for delivery_id, subscription_id, organisation_id in heads:
                if (
                    self._in_flight[subscription_id] + taking[subscription_id] < per_subscription
                    and self._in_flight_for[organisation_id] + taking_for[organisation_id] < per_organisation
                ):
                    chosen.append(delivery_id)
                    taking[subscription_id] += 1
                    taking_for[organisation_id] += 1
            if not chosen:
                return []
            leased = await repository.lease(session, chosen, at, self.lease)
            taken = await self._prepare(session, [delivery_id for delivery_id in chosen if delivery_id in leased])
        for sending in taken:
            self._in_flight[sending.subscription_id] += 1
            self._in_flight_for[sending.organisation_id] += 1
        return taken

    async def _prepare(self, session: AsyncSession, delivery_ids: list[int]) -> list[Sending]:
        rows = await repository.deliveries_to_send(session, delivery_ids)
        at = now()
        return [
            Sending(
                delivery_id=delivery_id,
                subscription=subscription,
                event=event,
                body=event.body.decode(),
                secrets=signing_secrets(subscription, self.box, at),
            )
            for delivery_id, subscription, event in rows
        ]

    async def _decide(self, taken: list[Sending]) -> list[Sending]:
        """Those the subscriber may see now; the others are recorded as withheld."""
        if not taken:
            return []
        sendable: list[Sending] = []
        async with self.database.sessionmaker() as session, session.begin():
            for sending in taken:
                try:
                    if await self.visibility.may_see(session, sending.subscription, sending.event):
                        sendable.append(sending)
                    else:
                        self._ended_with(sending, "withheld", error="the subscriber may not see this family's data now")
                except ServiceError as unavailable:  # consent or plan service away: retried like any failure
                    error = f"could not decide who may see it ({unavailable.status})"
                    self._ended_with(sending, "failed", error=error)
        return sendable

    async def _send(self, sending: Sending) -> None:
        try:
            address = await self.destinations.check(sending.url)
            with pinned_to(address):
                status, latency, error = await self._post(sending)
        except RefusedDestination as refused:
            status, latency, error = None, None, f"destination refused ({refused.extensions['rule']})"
        except Exception as failure:  # noqa: BLE001 (recorded; the lease brings the delivery back if even that fails)
            logger.warning("delivery failed", extra={"delivery": sending.delivery_id, "error": type(failure).__name__})
            status, latency, error = None, None, f"internal error ({type(failure).__name__})"
        delivered = status is not None and 200 <= status < 300
        self._ended_with(
            sending, "delivered" if delivered else "failed", status_code=status, latency_ms=latency, error=error
        )

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

    def _ended_with(self, sending: Sending, outcome: str, **details: Any) -> None:
        self.metrics.webhook_deliveries.labels(outcome).inc()
        self._outcomes.append(Outcome(sending, now(), outcome, **details))
        self._ended.set()

    async def _record_outcomes(self) -> None:
        """Write what ended, all in one transaction, then free the lanes for their next events."""
        while True:
            await self._ended.wait()
            await asyncio.sleep(GATHER_SECONDS)  # outcomes that end about now share the transaction
            self._ended.clear()
            ended, self._outcomes = self._outcomes, []
            try:
                async with self.database.sessionmaker() as session, session.begin():
                    await self._record_finished(session, [o for o in ended if o.outcome != "failed"])
                    for outcome in ended:
                        if outcome.outcome == "failed":
                            await self._record(session, outcome)
            except Exception as error:  # noqa: BLE001 (not written: the leases lapse and the deliveries come back)
                logger.warning("delivery outcomes not recorded", extra={"error": type(error).__name__})
            for outcome in ended:
                _release(self._in_flight, outcome.sending.subscription_id)
                _release(self._in_flight_for, outcome.sending.organisation_id)
            self._wake.set()

    @staticmethod
    async def _record_finished(session: AsyncSession, finished: list[Outcome]) -> None:
        """Delivered and withheld deliveries, a statement for each kind rather than a round of them each."""
        for kind in ("delivered", "withheld"):
            of_kind = {o.sending.delivery_id: o for o in finished if o.outcome == kind}
            if not of_kind:
                continue
            at = max(o.at for o in of_kind.values())
            still_there = await repository.finish_deliveries(session, list(of_kind), kind, at)
            # a deleted subscription's deliveries are gone, and get no attempt
            attempts = [_attempt_row(of_kind[delivery_id]) for delivery_id in still_there]
            if attempts:
                await repository.insert_attempts(session, attempts)

    async def _record(self, session: AsyncSession, ended: Outcome) -> None:
        delivery = await repository.delivery_for_update(session, ended.sending.delivery_id)
        if delivery is None:  # the subscription was deleted meanwhile
            return
        delivery.attempts += 1
        delivery.leased_until = None
        outcome = ended.outcome
        if outcome == "failed":
            delivery.first_failed_at = delivery.first_failed_at or ended.at
            if ended.at - delivery.first_failed_at >= timedelta(seconds=self.settings.give_up_after_seconds):
                outcome = "dead"
                self.metrics.webhook_deliveries.labels(outcome).inc()
                await self._mark_failing(session, delivery, ended.at)
            else:
                delays = self.settings.retry_delays_seconds
                wait = delays[min(delivery.attempts, len(delays)) - 1] * self._random.uniform(0.8, 1.2)
                delivery.next_attempt_at = ended.at + timedelta(seconds=wait)
        if outcome != "failed":
            delivery.status, delivery.finished_at = outcome, ended.at
        session.add(_attempt(delivery, ended.at, outcome, ended.status_code, ended.latency_ms, ended.error))

    @staticmethod
    async def _mark_failing(session: AsyncSession, delivery: Delivery, at: datetime) -> None:
        subscription = await repository.subscription_for_update(session, delivery.subscription_id)
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


def _attempt_row(ended: Outcome) -> dict[str, Any]:
    return {
        "delivery_id": ended.sending.delivery_id,
        "subscription_id": ended.sending.subscription_id,
        "attempted_at": ended.at,
        "status_code": ended.status_code,
        "latency_ms": ended.latency_ms,
        "error": ended.error,
        "outcome": ended.outcome,
    }


def _release(in_flight: Counter[str], key: str) -> None:
    in_flight[key] -= 1
    if in_flight[key] <= 0:
        del in_flight[key]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
