"""Credentials revoked before the tokens issued to them expire.

A token is self-contained: a service that verified one keeps accepting it until
its `exp`. When the issuer disables a caller (an API client, a staff member) or
a whole organisation, it publishes `credentials.revoked`, naming only ids, and
every process of every service refuses from then on the tokens issued to that
subject or organisation at or before the moment of revocation.

Each process reads the event for itself, not through a durable consumer (which
would hand it to one replica only): a consumer of its own, pushed to its own
inbox, which also replays the revocations of the last `revocations_kept_seconds`
at start, so a process started after a revocation knows it too. It is made
through JetStream's API subject that names its filter, so that NATS can let a
process make this consumer and no other (`services.kit.events.permissions`);
an ordered consumer's API subject names no filter, and a process allowed it
could read every subject of the stream. Nothing is stored: once every
token issued before a revocation has expired, the revocation has nothing left
to refuse.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import BaseModel, Field

from services.kit.events.broker import Broker
from services.kit.events.envelope import from_json, nats_subject

logger = logging.getLogger(__name__)

REVOKED_EVENT_TYPE = "credentials.revoked"
LISTENER_PREFIX = "revocations-"  # the name of each process's consumer starts so
IDLE_SECONDS = 60.0  # a process's consumer is removed by the server this long after the process has gone


class CredentialsRevoked(BaseModel):
    """Tokens issued up to `revoked_at` to `subject`, or to anyone of `organisation_id`, are refused from now on."""

    subject: str | None = Field(default=None, description="the token subject: an API client's id or a staff member's")
    organisation_id: str | None = Field(default=None, description="every caller of this organisation")
    revoked_at: datetime


class Revocations:
    """The revocations one process knows, by subject and by organisation: newest moment of each."""

    def __init__(self, kept_seconds: float = 86_400.0) -> None:
        self.kept_seconds = kept_seconds
        self._subjects: dict[str, float] = {}
        self._organisations: dict[str, float] = {}

    def apply(self, revoked: CredentialsRevoked) -> None:
        at = revoked.revoked_at.timestamp()
        for kept, key in ((self._subjects, revoked.subject), (self._organisations, revoked.organisation_id)):
            if key is not None:
                kept[key] = max(at, kept.get(key, at))
        self._forget_older_than(time.time() - self.kept_seconds)

    def refuses(self, subject: str, organisation_id: str, issued_at: float | None) -> bool:
        """Whether a token of `subject` in `organisation_id`, issued at `issued_at`, was revoked since.

        A token that does not say when it was issued is refused whenever its subject or organisation was revoked.
        """
        revoked_at = max(self._subjects.get(subject, -1.0), self._organisations.get(organisation_id, -1.0))
        if revoked_at < 0:
            return False
        return issued_at is None or issued_at <= revoked_at

    def _forget_older_than(self, moment: float) -> None:
        for kept in (self._subjects, self._organisations):
            for key in [key for key, at in kept.items() if at < moment]:
                del kept[key]


class RevocationListener:
    """Applies every `credentials.revoked` event to this process's `Revocations`, within moments of its publishing."""

    def __init__(self, broker: Broker, revocations: Revocations) -> None:
        self.broker = broker
        self.revocations = revocations
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._subscribe(), name="revocation-listener")

    @property
    def listening(self) -> bool:
        """Whether this process's consumer of revocations is in place."""
        return self._subscription is not None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._subscription is not None:
            with contextlib.suppress(NatsError, TimeoutError):
                await self._subscription.unsubscribe()

    async def _subscribe(self) -> None:
        await self.broker.ready.wait()
        since = datetime.now(UTC) - timedelta(seconds=self.revocations.kept_seconds)
        while self._subscription is None:
            try:
                inbox = self.broker.nc.new_inbox()
                subscription = await self.broker.nc.subscribe(inbox, cb=self._received)
                config = ConsumerConfig(
                    name=f"{LISTENER_PREFIX}{uuid.uuid4().hex}",
                    filter_subject=nats_subject(REVOKED_EVENT_TYPE),
                    deliver_subject=inbox,
                    deliver_policy=DeliverPolicy.BY_START_TIME,
                    opt_start_time=since,
                    ack_policy=AckPolicy.NONE,
                    inactive_threshold=IDLE_SECONDS,
                )
                try:
                    await self.broker.js.add_consumer(self.broker.settings.stream, config)
                except BaseException:
                    await subscription.unsubscribe()
                    raise
                self._subscription = subscription
            except (NatsError, TimeoutError, OSError) as error:
                logger.warning("revocations not subscribed yet", extra={"error": type(error).__name__})
                await asyncio.sleep(1)

    async def _received(self, message: Msg) -> None:
        try:
            revoked = CredentialsRevoked.model_validate(from_json(message.data).get_data())
        except Exception as unreadable:  # noqa: BLE001 (whatever cannot be read is skipped alike)
            logger.error("revocation unreadable", extra={"error": type(unreadable).__name__})
            return
        self.revocations.apply(revoked)
        logger.info("credentials revoked", extra={"subject": revoked.subject, "organisation": revoked.organisation_id})
