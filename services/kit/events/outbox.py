"""The transactional outbox and its relay to JetStream.

`record_event` adds an event row to the session of the change it describes, so
both commit or neither does. The relay publishes committed rows in order with
`Nats-Msg-Id` set to the event id, then deletes them. If the relay dies between
publishing and deleting, the rows are published again on restart, and
JetStream's duplicate window drops the copies; consumers' inboxes cover
redeliveries older than that window.

An event written under a trace keeps its `traceparent` with its row; the relay
publishes it in a span of that trace and sends that span's context in the
message's `traceparent` header, for the consumers to continue.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from nats.errors import Error as NatsError
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy import LargeBinary, Row, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Column, Field, SQLModel, col

from services.kit.db import Database, UtcDateTime
from services.kit.events.broker import Broker
from services.kit.events.envelope import TRACEPARENT_EXTENSION, BaseCloudEvent, nats_subject, to_json
from services.kit.metrics import Metrics
from services.kit.settings import OutboxSettings, TracingSettings
from services.kit.tasks import stop_task
from services.kit.tracing import TRACEPARENT, Tracing, context_of, traceparent_of

logger = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
_PENDING_FLAG = "outbox_pending"
PendingRow = Row[int | None, str, str, bytes, str | None]  # position, event id, subject, body, traceparent
# Any fixed number: only one relay per database publishes at a time on PostgreSQL.
_RELAY_LOCK_KEY = 0x6F7574626F78
# How soon a relay looks again when another replica held the lock: what this one's commit wrote may have
# missed the other's batch, and the other's relay is not woken by it.
LOCK_RETRY_SECONDS = 0.1


class AnotherRelayPublishing(Exception):
    pass


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"

    position: int | None = Field(default=None, primary_key=True)
    # Not unique in the database: JetStream's de-duplication on Nats-Msg-Id is
    # what keeps an event single, and a unique index of random ids made each
    # batch's delete touch pages all over the index (the relay's largest cost).
    event_id: str = Field(max_length=64)
    subject: str = Field(max_length=255)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_type=UtcDateTime)
    traceparent: str | None = Field(default=None, max_length=55)


def record_event(session: AsyncSession, event: BaseCloudEvent) -> None:
    """Add an event to the transaction of the change it describes."""
    session.add(
        OutboxEvent(
            event_id=event.get_id(),
            subject=nats_subject(event.get_type()),
            body=to_json(event),
            created_at=datetime.now(UTC),
            traceparent=event.get_extension(TRACEPARENT_EXTENSION),
        )
    )
    session.info[_PENDING_FLAG] = True


class OutboxRelay:
    """Publishes committed outbox rows, woken by each commit that wrote one.

    It looks at the table again on a timer only while rows it could not publish are waiting (NATS
    away: backing off to `backoff_max_seconds`); with the table empty it sleeps until woken, or
    for `idle_check_seconds` at most (rows committed by another process).
    """

    def __init__(
        self,
        database: Database,
        broker: Broker,
        settings: OutboxSettings,
        *,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.database = database
        self.broker = broker
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.tracing = tracing or Tracing(TracingSettings(), "outbox")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        database.wake_on_commit(_PENDING_FLAG, self._wake)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)

    async def run(self) -> None:
        await self.count_backlog()
        await self.broker.ready.wait()
        backoff = 0.0
        while True:
            self._wake.clear()
            try:
                _, full = await self.publish_pending()
            except AnotherRelayPublishing:
                await asyncio.sleep(LOCK_RETRY_SECONDS)
                continue
            except (NatsError, TimeoutError, OSError) as error:
                backoff = min(max(backoff * 2, 0.1), self.settings.backoff_max_seconds)
                logger.warning("outbox publish failed", extra={"error": type(error).__name__, "retry_in": backoff})
                await self.count_backlog()
                await asyncio.sleep(backoff)
                continue
            backoff = 0.0
            if full:
                await self.count_backlog()
                continue  # a backlog: go straight on to the next batch
            # Fewer than a batch were waiting, and all are published: the backlog is what commits meanwhile,
            # and each commit that writes a row wakes the relay. Nothing is looked for until then.
            self.metrics.outbox_backlog.set(0)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
            # arrives as the event is set, and the relay would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.idle_check_seconds):
                    await self._wake.wait()

    async def count_backlog(self) -> None:
        """Count the rows waiting, for the backlog gauge: only when there is a backlog or NATS is away,
        so that the usual round (a few events, all published) costs no query."""
        try:
            async with self.database.sessionmaker() as session:
                waiting = await session.scalar(select(func.count()).select_from(OutboxEvent))
        except Exception as error:  # noqa: BLE001 (a gauge left as it was is better than a relay that stops)
            logger.warning("outbox backlog not counted", extra={"error": type(error).__name__})
            return
        self.metrics.outbox_backlog.set(waiting or 0)

    async def publish_pending(self) -> tuple[int, bool]:
        """Publish one batch; returns how many were published and whether the batch was full.

        Raises AnotherRelayPublishing, with nothing done, while another replica's relay publishes.
        """
        if not self.broker.nc.is_connected:
            raise TimeoutError("NATS is not connected")
        if self.database.dialect != "postgresql":
            return await self._publish_outside_the_transaction()
        async with self.database.sessionmaker() as session, session.begin():
            # The lock makes one replica the publisher; it lasts as long as this transaction.
            locked = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _RELAY_LOCK_KEY})
            if not locked:
                raise AnotherRelayPublishing
            rows = await self._pending(session)
            published = await self._publish(rows) if rows else []
            await self._forget(session, published)
        return self._outcome(rows, published)

    async def _publish_outside_the_transaction(self) -> tuple[int, bool]:
        # SQLite has one connection for the whole service: holding it while JetStream
        # answers (or times out, with NATS away) would stall every request.
        async with self.database.sessionmaker() as session:
            async with session.begin():
                rows = await self._pending(session)
            published = await self._publish(rows) if rows else []
            async with session.begin():
                await self._forget(session, published)
        return self._outcome(rows, published)

    async def _pending(self, session: AsyncSession) -> Sequence[PendingRow]:
        statement = (
            select(
                col(OutboxEvent.position),
                col(OutboxEvent.event_id),
                col(OutboxEvent.subject),
                col(OutboxEvent.body),
                col(OutboxEvent.traceparent),
            )
            .order_by(col(OutboxEvent.position))
            .limit(self.settings.batch_size)
        )
        return (await session.execute(statement)).all()

    async def _forget(self, session: AsyncSession, published: Sequence[PendingRow]) -> None:
        if published:
            await session.execute(
                delete(OutboxEvent).where(col(OutboxEvent.position).in_([row.position for row in published]))
            )
            await self.mark_published(session)

    def _outcome(self, rows: Sequence[PendingRow], published: Sequence[PendingRow]) -> tuple[int, bool]:
        if len(published) < len(rows):
            raise TimeoutError("part of a batch was not acknowledged")
        return len(published), len(rows) == self.settings.batch_size

    async def mark_published(self, session: AsyncSession) -> None:
        """Make the deletion of published rows durable (a seam for crash tests)."""
        await session.flush()

    async def _publish(self, rows: Sequence[PendingRow]) -> list[PendingRow]:
        """Publish asynchronously; return the longest prefix of rows JetStream acknowledged.

        Publishing stops being counted at the first failure so that a retry
        resends in order; copies of later rows that did land are dropped by
        JetStream's de-duplication.
        """
        js = self.broker.js
        spans = [self._publish_span(row) for row in rows]
        futures = [
            await js.publish_async(row.subject, row.body, headers=self._headers(row, span))
            for row, span in zip(rows, spans, strict=True)
        ]
        done, pending = await asyncio.wait(futures, timeout=self.settings.publish_timeout_seconds)
        for future in pending:
            future.cancel()
        acknowledged: list[PendingRow] = []
        for row, future in zip(rows, futures, strict=True):
            if future not in done or future.exception() is not None:
                break
            acknowledged.append(row)
        for index, span in enumerate(spans):
            if span is not None:
                if index >= len(acknowledged):
                    span.set_status(Status(StatusCode.ERROR, "not acknowledged"))
                span.end()
        self.metrics.events_published.inc(len(acknowledged))
        return acknowledged

    def _publish_span(self, row: PendingRow) -> Span | None:
        """A producer span in the trace the event was written in; None when tracing is off or it was in none."""
        tracer = self.tracing.tracer
        if tracer is None or row.traceparent is None:
            return None
        return tracer.start_span(
            f"publish {row.subject}",
            context=context_of(row.traceparent),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "publish",
                "messaging.destination.name": row.subject,
                "messaging.message.id": row.event_id,
            },
        )

    @staticmethod
    def _headers(row: PendingRow, span: Span | None) -> dict[str, str]:
        headers = {MSG_ID_HEADER: row.event_id}
        traceparent = traceparent_of(span) if span is not None else row.traceparent
        if traceparent is not None:
            headers[TRACEPARENT] = traceparent
        return headers
