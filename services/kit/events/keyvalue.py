"""A counter in JetStream's key-value store: raised by the one process that owns it, watched by the others.

The owner keeps the counter in its database, which stays the record; `CounterRaiser` copies it
into a key of the system's bucket after every commit that raised it, and again at start, after an
outage and once a minute (a bucket made anew is filled), so a crash or NATS being away delays the
copy and never loses it. It writes with compare-and-set and never lowers the key, so two replicas
writing at once cannot leave an older value in it. After each write, and every `STAMP_SECONDS`
between them, it publishes the value it holds as a plain NATS message on the key's sign-of-life
subject (`alive_subject_of`): a watcher trusts a value only while such a message is recent, so an
owner that has stopped (crashed between a commit and the key's write, or cut off from NATS while
the watchers are not) is noticed as silence, not taken for "nothing changed". The sign of life is
a core message, not a write of the key, because a write is stored (and replicated) by the server
and delivered by each watch's consumer: five times a second, that was most of the system's idle
work. A message lost on the way only makes a watcher distrust its value for a moment.

`CounterWatch` is how another process knows the counter without asking: a consumer of its own,
pushed to its own inbox, that delivers the key's last value at once and every new one as it is
written, with idle heartbeats from the server between them, and a subscription to the key's sign
of life. The value is only given out while the owner's last sign of life arrived within the
caller's bound and the consumer was heard from within three heartbeats, so an owner or a watch
that is down, cut off or stuck reads as unknown, never as an old value believed current. The
server's heartbeats tell a lost consumer, which is made again. Nothing is asked over HTTP and
nothing is logged while nothing changes.

Like the revocation listener's consumer (`services.kit.revocation`), it is made through the API
subject that names its filter, so NATS can let a process watch this key and nothing else
(`services.kit.events.permissions`); only the owner may publish the sign of life.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from services.kit.events.broker import Broker, stream_of
from services.kit.tasks import stop_task

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 60.0  # how often the raiser reads the database unwoken: a bucket made anew (NATS restored) is filled
STAMP_SECONDS = 0.2  # how often the owner publishes its sign of life while nothing changes
WATCH_PREFIX = "watch-"  # the name of each process's consumer of a key starts so
IDLE_SECONDS = 60.0  # a watch's consumer is removed by the server this long after the process has gone
STATUS = "Status"
HEARTBEAT = "100"


def subject_of(bucket: str, key: str) -> str:
    return f"$KV.{bucket}.{key}"


def alive_subject_of(bucket: str, key: str) -> str:
    """Where the owner of a key says it is alive, with the value it holds: outside every stream's subjects."""
    return f"alive.{bucket}.{key}"


@dataclass(frozen=True)
class Counter:
    """A counter's value and the stream sequence that holds it (0: the key was never written)."""

    value: int
    sequence: int


async def read_counter(kv: KeyValue, key: str) -> Counter | None:
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return Counter(int(entry.value or b"0"), entry.revision or 0)


async def raise_counter(kv: KeyValue, key: str, value: int) -> None:
    """Make the key hold at least `value`: written only over a smaller value, never lowered."""
    while True:
        held = await read_counter(kv, key)
        if held is not None and held.value >= value:
            return
        try:
            if held is None:
                await kv.create(key, str(value).encode())
            else:
                await kv.update(key, str(value).encode(), last=held.sequence)
            return
        except KeyWrongLastSequenceError:
            continue  # written meanwhile (another replica): read it again


class CounterRaiser:
    """Copies a counter from the database into its key after each commit that raised it, until it holds."""

    def __init__(self, broker: Broker, key: str, read: Callable[[], Awaitable[int]]) -> None:
        self.broker = broker
        self.key = key
        self.read = read
        self.wake = asyncio.Event()  # set on every commit that raised the counter (`Database.wake_on_commit`)
        self.wake.set()  # at start: the key may be behind (a crash after a commit, an outage)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"raise-{self.key}")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)

    async def run(self) -> None:
        await self.broker.ready.wait()
        failing = False
        value: int | None = None
        read_at = float("-inf")
        kv: KeyValue | None = None  # nats-py asks the server for the bucket's stream each time it makes one
        alive = alive_subject_of(self.broker.settings.bucket, self.key)
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can lose a cancellation (`services.kit.tasks`).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STAMP_SECONDS):
                    await self.wake.wait()
            woken = self.wake.is_set()
            self.wake.clear()
            try:
                if kv is None:
                    kv = await self.broker.js.key_value(self.broker.settings.bucket)
                if woken or value is None or time.monotonic() - read_at > RECHECK_SECONDS:
                    value, read_at = await self.read(), time.monotonic()
                    await raise_counter(kv, self.key, value)
                # Only on a live connection: nats-py would otherwise keep the message for after a reconnect,
                # and deliver as alive now an owner that said so before it was cut off.
                if not self.broker.nc.is_connected:
                    raise ConnectionError("not connected")
                await self.broker.nc.publish(alive, str(value).encode())
            except Exception as error:  # noqa: BLE001 (NATS or the database away: whatever it is, try again)
                kv = None
                if not failing:  # once per outage
                    logger.warning("counter not written yet", extra={"key": self.key, "error": type(error).__name__})
                failing = True
                self.wake.set()  # try again: the database still holds it
                await asyncio.sleep(self.broker.settings.reconnect_wait_seconds)
                continue
            if failing:
                logger.info("counter written again", extra={"key": self.key})
            failing = False


class CounterWatch:
    """The last value of one key, known while the server has been heard from recently."""

    def __init__(self, broker: Broker, key: str, *, heartbeat: float) -> None:
        self.broker = broker
        self.key = key
        self.heartbeat = heartbeat
        self._value: int | None = None
        self._heard_at = float("-inf")  # the consumer's last word: a value or a heartbeat
        self._alive_at = float("-inf")  # the owner's last sign of life
        self._subscriptions: list[Subscription] = []
        self._generation = 0
        self._task: asyncio.Task[None] | None = None

    def current(self, within: float) -> int | None:
        """The key's value, if the owner said it was alive within `within` seconds and the consumer is; else None."""
        now = time.monotonic()
        if not self.broker.nc.is_connected or now - self._alive_at > within or now - self._heard_at > self.silent_after:
            return None
        return self._value

    @property
    def silent_after(self) -> float:
        """How long the consumer may go unheard before it is taken for lost."""
        return 3 * self.heartbeat

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_watching(), name=f"watch-{self.key}")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
        await self._unsubscribe()

    async def _keep_watching(self) -> None:
        """Make the consumer, and make it again whenever the server has fallen silent."""
        await self.broker.ready.wait()
        watching = False
        failed = False
        while True:
            if time.monotonic() - self._heard_at > self.silent_after and self.broker.nc.is_connected:
                if watching:  # once per loss, not on every attempt
                    logger.warning("watch lost: watching again", extra={"key": self.key})
                watching = await self._subscribe(quietly=failed)
                failed = not watching
            await asyncio.sleep(self.silent_after)

    async def _subscribe(self, *, quietly: bool) -> bool:
        await self._unsubscribe()
        settings = self.broker.settings
        self._generation += 1
        generation = self._generation

        async def received(message: Msg) -> None:
            if generation == self._generation:  # not an earlier consumer's, still in flight
                self._received(message)

        async def alive(message: Msg) -> None:
            if generation == self._generation:
                self._alive(message)

        try:
            self._subscriptions.append(
                await self.broker.nc.subscribe(alive_subject_of(settings.bucket, self.key), cb=alive)
            )
            inbox = self.broker.nc.new_inbox()
            self._subscriptions.append(await self.broker.nc.subscribe(inbox, cb=received))
            config = ConsumerConfig(
                name=f"{WATCH_PREFIX}{uuid.uuid4().hex}",
                filter_subject=subject_of(settings.bucket, self.key),
                deliver_subject=inbox,
                deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
                ack_policy=AckPolicy.NONE,
                idle_heartbeat=self.heartbeat,
                inactive_threshold=IDLE_SECONDS,
                num_replicas=1,
                mem_storage=True,
            )
            await self.broker.js.add_consumer(stream_of(settings.bucket), config)
        except (NatsError, TimeoutError, OSError) as error:
            if not quietly:
                logger.warning("watch not made yet", extra={"key": self.key, "error": type(error).__name__})
            await self._unsubscribe()
            return False
        return True

    async def _unsubscribe(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        self._generation += 1
        for subscription in subscriptions:
            with contextlib.suppress(NatsError, TimeoutError, OSError):
                await subscription.unsubscribe()

    def _received(self, message: Msg) -> None:
        if (message.headers or {}).get(STATUS) != HEARTBEAT:
            self._take(message)
        self._heard_at = time.monotonic()

    def _alive(self, message: Msg) -> None:
        if self._take(message):
            self._alive_at = time.monotonic()

    def _take(self, message: Msg) -> bool:
        """Keep the value a message carries, never lowering what is held; False when it is unreadable."""
        try:
            value = int(message.data or b"0")
        except ValueError:
            logger.error("counter unreadable", extra={"key": self.key})
            return False
        self._value = value if self._value is None else max(self._value, value)
        return True
