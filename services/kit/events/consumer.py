"""Durable JetStream consumers whose handlers take effect once.

Each event is handled in one database transaction that also records its id in
the inbox; the message is acknowledged only after that commit. A redelivered
event finds its id in the inbox and is acknowledged without a second effect.
An event whose handler keeps failing is moved to the dead-letter subject
`<prefix>.<consumer>` after `max_attempts`, and the consumer goes on with the
events behind it. A failure that says another part of the system is away for
now (`ServiceUnavailable`) is not the event's fault: it is tried again, backing
off to `UNAVAILABLE_RETRY_CAP_SECONDS`, until that part answers, so an outage
delays the event and never drops it.

Each event is handled in a consumer span that continues the trace in the
message's `traceparent` header (or, without one, the event's own attribute).

While nothing arrives, a consumer holds one pull request that the server keeps
for `HOLD_SECONDS` and answers the moment an event comes, instead of asking
again every second: an idle consumer costs the server's heartbeat on that
request every `HEARTBEAT_SECONDS` and nothing else. A request the server can no
longer answer (NATS restarted, the node holding it killed, the connection lost)
is noticed by the missing heartbeats, or at once on a reconnection, and made again.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from services.kit.db import Database, UtcDateTime
from services.kit.events.broker import Broker
from services.kit.events.envelope import REQUEST_ID_EXTENSION, TRACEPARENT_EXTENSION, BaseCloudEvent, from_json
from services.kit.metrics import Metrics, metrics_scope
from services.kit.problems import ServiceUnavailable
from services.kit.requestid import request_id_scope
from services.kit.settings import ConsumerSettings, TracingSettings
from services.kit.tasks import stop_task
from services.kit.tracing import TRACEPARENT, Tracing

logger = logging.getLogger(__name__)

# The longest wait between tries of an event held up by another part's outage.
UNAVAILABLE_RETRY_CAP_SECONDS = 30.0
# How long the server holds a consumer's pull request while no event comes, and how often it says it
# still holds it. Three heartbeats missed and the request is taken for lost and made again.
HOLD_SECONDS = 30.0
HEARTBEAT_SECONDS = 2.0
LOST_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS
# Once an event has come, how long a batched fetch gathers the ones behind it (the wait of every fetch
# before the request was held).
GATHER_SECONDS = 1.0

Handler = Callable[[AsyncSession, BaseCloudEvent], Awaitable[None]]

CONSUMER_HEADER = "Pathway-Consumer"
ERROR_HEADER = "Pathway-Error"
ATTEMPTS_HEADER = "Pathway-Attempts"
SUBJECT_HEADER = "Pathway-Original-Subject"


class InboxEvent(SQLModel, table=True):
    """An event a consumer has applied; the primary key is what makes it once."""

    __tablename__ = "inbox_event"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(sa_type=UtcDateTime)


class AlreadyProcessed(Exception):
    pass


Preparation = Callable[[BaseCloudEvent], Awaitable[Handler]]


@dataclass(frozen=True)
class ConsumerSpec:
    """What a service consumes: a durable name, the subjects, and the handler.

    A handler that needs something slow first (a call to another service)
    gives `prepare` instead: it runs before the transaction opens, so no
    database lock is held while it waits, and returns the handler to run in it.

    `in_order` takes events strictly in stream order, across restarts and
    retries and however many replicas share the consumer: JetStream hands out
    one event at a time and the next only once it is acknowledged. Otherwise an
    event left unacknowledged by a crash, or put back after a failure, comes
    back behind those published after it.

    `batched` applies each fetched batch in one transaction, calling the handler
    for each new event in turn: one commit for up to `batch_size` events instead
    of one each, for a consumer whose every effect waits on one lock (the access
    log's chain). Should any event of the batch fail, the batch is rolled back and
    its events are applied one at a time, so a failing event is retried and
    dead-lettered on its own.
    """

    name: str
    subjects: list[str]
    handler: Handler | None = None
    prepare: Preparation | None = None
    in_order: bool = False
    batched: bool = False

    def __post_init__(self) -> None:
        if self.batched and (self.prepare is not None or self.in_order):
            raise ValueError("a batched consumer takes a plain handler, in any order")

    async def handler_for(self, event: BaseCloudEvent) -> Handler:
        if self.prepare is not None:
            return await self.prepare(event)
        assert self.handler is not None, f"consumer {self.name} has neither handler nor prepare"
        return self.handler


async def apply_once(database: Database, consumer: str, event: BaseCloudEvent, handler: Handler) -> None:
    """Run `handler` and record the event in the inbox, in one transaction.

    Raises AlreadyProcessed, with nothing changed, when the inbox already holds it.
    """
    async with database.sessionmaker() as session, session.begin():
        session.add(InboxEvent(consumer=consumer, event_id=event.get_id(), processed_at=datetime.now(UTC)))
        try:
            await session.flush()
        except IntegrityError as duplicate:
            raise AlreadyProcessed(event.get_id()) from duplicate
        await handler(session, event)


def consumer_config(spec: ConsumerSpec, settings: ConsumerSettings) -> ConsumerConfig:
    """The durable JetStream consumer of `spec`, as the process that manages the streams makes it."""
    return ConsumerConfig(
        durable_name=spec.name,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait_seconds,
        filter_subjects=spec.subjects,
        max_ack_pending=1 if spec.in_order else 1000,
    )


class DurableConsumer:
    def __init__(
        self,
        spec: ConsumerSpec,
        database: Database,
        broker: Broker,
        settings: ConsumerSettings,
        *,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.spec = spec
        self.database = database
        self.broker = broker
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.tracing = tracing or Tracing(TracingSettings(), spec.name)
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._reconnected = asyncio.Event()
        broker.wake_on_reconnect(self._reconnected)

    @property
    def dead_letter_subject(self) -> str:
        return f"{self.broker.settings.dead_letter_prefix}.{self.spec.name}"

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"consumer-{self.spec.name}")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
        if self._subscription is not None:
            # Left subscribed, an interrupted fetch holds the connection's drain for its whole timeout.
            with contextlib.suppress(NatsError, TimeoutError):
                await self._subscription.unsubscribe()

    async def run(self) -> None:
        await self.broker.ready.wait()
        stream = self.broker.settings.stream
        batch = 1 if self.spec.in_order else self.settings.batch_size
        while True:
            try:
                if self.broker.settings.manage_streams:
                    await self.broker.js.add_consumer(stream, consumer_config(self.spec, self.settings))
                else:  # made by the process that manages the streams; until then, not found
                    await self.broker.js.consumer_info(stream, self.spec.name)
                subscription = await self.broker.js.pull_subscribe_bind(
                    self.spec.name, stream=self.broker.settings.stream
                )
                self._subscription = subscription
                break
            except (NatsError, TimeoutError, OSError) as error:
                logger.warning(
                    "consumer not bound yet", extra={"consumer": self.spec.name, "error": type(error).__name__}
                )
                await asyncio.sleep(1)
        while True:
            try:
                messages = await self._next(subscription, batch)
            except (NatsTimeoutError, TimeoutError):
                self.metrics.consumer_pending.labels(self.spec.name).set(0)  # nothing waiting to be handed out
                continue
            except NatsError as error:
                logger.warning("fetch failed", extra={"consumer": self.spec.name, "error": type(error).__name__})
                await asyncio.sleep(0.5)
                continue
            if messages:  # what the stream still holds for this consumer behind the last one handed out
                self.metrics.consumer_pending.labels(self.spec.name).set(messages[-1].metadata.num_pending)
            if self.spec.batched and await self.applied_together(messages):
                continue
            for message in messages:
                try:
                    await self.handle(message)
                except NatsError as error:
                    # The effect is committed; an unacknowledged message comes back and
                    # the inbox turns it into a no-op.
                    logger.warning("ack failed", extra={"consumer": self.spec.name, "error": type(error).__name__})

    async def _next(self, subscription: JetStreamContext.PullSubscription, batch: int) -> list[Msg]:
        """The next events: the first on a request the server holds until it comes, then those behind it.

        Raises TimeoutError when the request expired with nothing, or was lost.
        """
        first = await self._held(subscription)
        if batch == 1:
            return first
        try:
            rest = await subscription.fetch(batch - 1, timeout=GATHER_SECONDS)
        except (NatsTimeoutError, TimeoutError):
            rest = []
        return first + rest

    async def _held(self, subscription: JetStreamContext.PullSubscription) -> list[Msg]:
        """One event, on a pull request held by the server: given up when its heartbeats stop or NATS reconnects.

        nats-py's fetch waits out its whole timeout for a request the server has lost, so the
        heartbeats are watched here: `delivered` counts every message the subscription has had,
        heartbeats included (nats-py offers no other sign of them).
        """
        self._reconnected.clear()
        fetching = asyncio.ensure_future(subscription.fetch(1, timeout=HOLD_SECONDS, heartbeat=HEARTBEAT_SECONDS))
        reconnecting = asyncio.ensure_future(self._reconnected.wait())
        try:
            heard = subscription._sub.delivered
            while True:
                await asyncio.wait(
                    {fetching, reconnecting}, timeout=LOST_AFTER_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if fetching.done():
                    return fetching.result()
                if reconnecting.done() or subscription._sub.delivered == heard:
                    raise TimeoutError("the pull request was lost")
                heard = subscription._sub.delivered
        finally:
            for task in (fetching, reconnecting):
                if not task.done():
                    task.cancel()
            await asyncio.gather(fetching, reconnecting, return_exceptions=True)

    async def applied_together(self, messages: list[Msg]) -> bool:
        """Apply a batch in one transaction and acknowledge it; False, with nothing changed, if any part fails."""
        assert self.spec.handler is not None, f"batched consumer {self.spec.name} has no handler"
        try:
            events = [from_json(message.data) for message in messages]
            async with self.database.sessionmaker() as session, session.begin():
                ids = [event.get_id() for event in events]
                already = set(
                    await session.scalars(
                        select(col(InboxEvent.event_id)).where(
                            col(InboxEvent.consumer) == self.spec.name, col(InboxEvent.event_id).in_(ids)
                        )
                    )
                )
                for event in events:
                    if event.get_id() in already:
                        continue
                    already.add(event.get_id())  # a copy later in the same batch is skipped too
                    session.add(
                        InboxEvent(consumer=self.spec.name, event_id=event.get_id(), processed_at=datetime.now(UTC))
                    )
                    await self.spec.handler(session, event)
        except Exception as failure:  # noqa: BLE001 (whatever failed, each event is tried on its own next)
            logger.warning(
                "batch failed; applying its events one at a time",
                extra={"consumer": self.spec.name, "events": len(messages), "error": type(failure).__name__},
            )
            return False
        self.metrics.events_consumed.labels(self.spec.name, "applied").inc(len(messages))
        for message in messages:
            try:
                await message.ack()
            except NatsError as error:  # unacknowledged, it comes back and the inbox skips it
                logger.warning("ack failed", extra={"consumer": self.spec.name, "error": type(error).__name__})
        return True

    async def handle(self, message: Msg) -> None:
        try:
            event = from_json(message.data)
        except Exception as unreadable:  # noqa: BLE001 (any parse failure means the same thing)
            await self._dead_letter(message, unreadable)
            return
        extension = event.get_attributes().get(REQUEST_ID_EXTENSION)
        with (
            request_id_scope(extension if isinstance(extension, str) else None),
            metrics_scope(self.metrics),
            self._span(message, event),
        ):
            try:
                await apply_once(self.database, self.spec.name, event, await self.spec.handler_for(event))
            except AlreadyProcessed:
                logger.info("duplicate skipped", extra={"consumer": self.spec.name, "event_id": event.get_id()})
                self.metrics.events_consumed.labels(self.spec.name, "duplicate").inc()
            except Exception as failure:
                attempts = message.metadata.num_delivered
                logger.warning(
                    "handler failed",
                    extra={"consumer": self.spec.name, "event_id": event.get_id(), "attempt": attempts},
                    exc_info=failure,
                )
                delay = self.settings.retry_delay_seconds * 2 ** min(attempts - 1, 16)
                if isinstance(failure, ServiceUnavailable):
                    await message.nak(delay=min(delay, UNAVAILABLE_RETRY_CAP_SECONDS))
                    self.metrics.events_consumed.labels(self.spec.name, "retried").inc()
                elif attempts >= self.settings.max_attempts:
                    await self._dead_letter(message, failure)
                else:
                    await message.nak(delay=delay)
                    self.metrics.events_consumed.labels(self.spec.name, "retried").inc()
                return
            else:
                self.metrics.events_consumed.labels(self.spec.name, "applied").inc()
        await message.ack()

    def _span(self, message: Msg, event: BaseCloudEvent) -> AbstractContextManager[object]:
        """The consumer span of one event, in the trace the publisher's header (or the event) names."""
        if self.tracing.tracer is None:
            return contextlib.nullcontext()
        parent = (message.headers or {}).get(TRACEPARENT) or event.get_extension(TRACEPARENT_EXTENSION)
        return self.tracing.span(
            f"process {message.subject}",
            SpanKind.CONSUMER,
            parent=parent if isinstance(parent, str) else None,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": message.subject,
                "messaging.consumer.group.name": self.spec.name,
                "messaging.message.id": event.get_id(),
            },
        )

    async def _dead_letter(self, message: Msg, failure: Exception) -> None:
        headers = {
            CONSUMER_HEADER: self.spec.name,
            SUBJECT_HEADER: message.subject,
            # The type only: an exception's message may quote personal data.
            ERROR_HEADER: type(failure).__name__,
            ATTEMPTS_HEADER: str(message.metadata.num_delivered),
            "Nats-Msg-Id": f"{self.spec.name}:{message.metadata.sequence.stream}",
        }
        try:
            await self.broker.js.publish(self.dead_letter_subject, message.data, headers=headers)
        except (NatsError, TimeoutError) as error:
            logger.warning("dead-lettering failed", extra={"consumer": self.spec.name, "error": type(error).__name__})
            await message.nak(delay=self.settings.retry_delay_seconds)
            return
        logger.error(
            "event dead-lettered", extra={"consumer": self.spec.name, "stream_seq": message.metadata.sequence.stream}
        )
        self.metrics.dead_letters.labels(self.spec.name).inc()
        self.metrics.events_consumed.labels(self.spec.name, "dead_lettered").inc()
        await message.term()
