"""An integrator reading events straight off JetStream while the faults happen, through a durable consumer."""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import nats
from cloudevents.core.formats.json import JSONFormat
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tests.faults.system import STREAM


@dataclass(frozen=True)
class Received:
    id: str
    type: str
    data: dict[str, Any]


class StreamReader:
    """Reads and acknowledges every event on `subjects`; an event redelivered after a lost ack is kept again."""

    def __init__(self, nats_url: str, subjects: list[str], durable: str = "faults-integrator") -> None:
        self.nats_url = nats_url
        self.subjects = subjects
        self.durable = durable
        self.received: list[Received] = []
        self._task: asyncio.Task[None] | None = None

    def by_id(self) -> dict[str, Received]:
        return {event.id: event for event in self.received}

    async def start(self) -> None:
        self._connection = await nats.connect(
            servers=self.nats_url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2, error_cb=_expected
        )
        js = self._connection.jetstream()
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=5,
            filter_subjects=self.subjects,
        )
        await js.add_consumer(STREAM, config)
        subscription = await js.pull_subscribe_bind(self.durable, stream=STREAM)
        self._task = asyncio.create_task(self._read(subscription), name="faults-integrator")

    async def _read(self, subscription: Any) -> None:
        while True:
            try:
                messages = await subscription.fetch(100, timeout=1)
            except (NatsError, TimeoutError):  # nothing new, or NATS away for now
                await asyncio.sleep(0.1)
                continue
            for message in messages:
                event = JSONFormat().read(None, message.data)
                data = event.get_data()
                assert isinstance(data, dict)
                self.received.append(Received(event.get_id(), event.get_type(), data))
                with contextlib.suppress(NatsError, TimeoutError):  # unacknowledged, it comes again
                    await message.ack()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(OSError, NatsError):  # NATS may be away: nothing is left to flush
            await self._connection.close()


async def _expected(error: Exception) -> None:
    """Connection errors are what these tests cause; nats-py would log each with its traceback."""
