"""The NATS connection of one service, and the streams it relies on.

The broker connects in the background and keeps trying, so a service starts
and commits changes while NATS is away; the outbox relay and the consumers
wait for `ready` before they touch JetStream.
"""

import asyncio
import contextlib
import logging
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from services.kit.settings import NatsSettings

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
DRAIN_TIMEOUT_SECONDS = 5  # nats-py waits 30 s by default, longer than a stop is given


def stream_configs(settings: NatsSettings) -> list[StreamConfig]:
    """The domain event stream and the dead-letter stream beside it."""
    common: dict[str, Any] = {
        "retention": RetentionPolicy.LIMITS,
        "storage": StorageType.FILE,
        "num_replicas": settings.replicas,
        "max_age": settings.max_age_days * SECONDS_PER_DAY,
        "duplicate_window": settings.duplicate_window_seconds,
    }
    return [
        StreamConfig(name=settings.stream, subjects=list(settings.subjects), **common),
        StreamConfig(name=settings.dead_letter_stream, subjects=[f"{settings.dead_letter_prefix}.>"], **common),
    ]


def signing_in(settings: NatsSettings) -> dict[str, Any]:
    """nats-py's options for the process's own NATS user (none when NATS is open) and its reply inbox."""
    options: dict[str, Any] = {"inbox_prefix": settings.inbox_prefix}
    if settings.nkey_seed_file is not None:
        options["nkeys_seed"] = str(settings.nkey_seed_file)
    elif seed := settings.nkey_seed.get_secret_value():
        options["nkeys_seed_str"] = seed
    return options


async def streams_exist(js: JetStreamContext, settings: NatsSettings) -> None:
    """Raises NotFoundError until the process that manages the streams has made them."""
    for config in stream_configs(settings):
        assert config.name is not None
        await js.stream_info(config.name)


def stream_of(bucket: str) -> str:
    """The stream that holds a key-value bucket."""
    return f"KV_{bucket}"


async def ensure_bucket(js: JetStreamContext, settings: NatsSettings) -> None:
    """Create the system's key-value bucket (`services.kit.events.keyvalue`) if it is missing. Idempotent."""
    try:
        await js.stream_info(stream_of(settings.bucket))
    except NotFoundError:
        config = KeyValueConfig(
            bucket=settings.bucket, history=1, storage=StorageType.FILE, replicas=settings.replicas, direct=True
        )
        await js.create_key_value(config)
        logger.info("bucket created", extra={"bucket": settings.bucket})


async def ensure_streams(js: JetStreamContext, settings: NatsSettings) -> None:
    """Create the streams and the bucket, or bring the streams' configuration in line with settings. Idempotent."""
    await ensure_bucket(js, settings)
    for config in stream_configs(settings):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
            logger.info("stream created", extra={"stream": config.name})
        else:
            await js.update_stream(config)


class Broker:
    def __init__(self, settings: NatsSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.nc = NatsClient()
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._js: JetStreamContext | None = None
        self._js_of: NatsClient | None = None
        self._on_reconnect: list[asyncio.Event] = []

    @property
    def js(self) -> JetStreamContext:
        """One context for the connection's life: each new context's first async
        publish subscribes a reply inbox that is never removed."""
        if self._js is None or self._js_of is not self.nc:
            self._js, self._js_of = self.nc.jetstream(), self.nc
        return self._js

    @property
    def is_connected(self) -> bool:
        return self.ready.is_set() and self.nc.is_connected

    def wake_on_reconnect(self, event: asyncio.Event) -> None:
        """Set `event` whenever the connection comes back: what the server held for this client may be gone."""
        self._on_reconnect.append(event)

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name=f"{self.name}-nats-connect")

    async def _connect(self) -> None:
        while True:
            try:
                await self.nc.connect(
                    servers=self.settings.servers,
                    name=self.name,
                    max_reconnect_attempts=-1,
                    # nats-py sleeps on it, so a float works; its annotation says int.
                    reconnect_time_wait=self.settings.reconnect_wait_seconds,  # type: ignore[arg-type]
                    connect_timeout=2,
                    drain_timeout=DRAIN_TIMEOUT_SECONDS,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    **signing_in(self.settings),
                )
                if self.settings.manage_streams:
                    await ensure_streams(self.nc.jetstream(), self.settings)
                else:
                    await streams_exist(self.nc.jetstream(), self.settings)
            except (OSError, TimeoutError, nats.errors.Error) as error:
                logger.warning("nats not ready yet", extra={"error": type(error).__name__})
                if not self.nc.is_closed:
                    await self.nc.close()
                self.nc = NatsClient()
                await asyncio.sleep(self.settings.reconnect_wait_seconds)
                continue
            self.ready.set()
            logger.info("nats connected")
            return

    async def _on_error(self, error: Exception) -> None:
        logger.warning("nats error", extra={"error": type(error).__name__})

    async def _on_disconnected(self) -> None:
        logger.warning("nats disconnected")

    async def _on_reconnected(self) -> None:
        logger.info("nats reconnected")
        for event in self._on_reconnect:
            event.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        # Shutting down while NATS is away must still shut down. Closing a connection that is
        # between reconnect attempts writes to a transport uvloop has already closed: RuntimeError.
        with contextlib.suppress(OSError, TimeoutError, RuntimeError, nats.errors.Error):
            if self.nc.is_connected:
                await self.nc.drain()
            elif not self.nc.is_closed:
                await self.nc.close()
