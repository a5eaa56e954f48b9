"""The gateway's key ring: every key not yet retired is published, a settled one signs.

Keys live in the gateway's database so that every replica publishes and signs
with the same ones. Each replica holds the ring in memory and reads it again
every `key_reload_seconds` in the background (never inside a request, which
already holds its database connection), and sooner when a token names a key id
it does not know, at most once per `jwks_min_refresh_seconds`: made-up key ids
cannot turn into a flood of reads. Rotation is done the standard way: a
new key is published at once but signs only once it is older than one reload
period, by which time every replica publishes it; the keys it replaces retire
when every token they signed has expired. So rotating refuses no token.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import repository
from gateway.config import IdentitySettings
from gateway.models import SigningKey
from services.kit.db import Database

ALGORITHM = "ES256"

logger = logging.getLogger(__name__)


def _new_key() -> SigningKey:
    kid = uuid.uuid4().hex[:16]
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return SigningKey(kid=kid, private_pem=key.as_pem(private=True).decode(), created_at=datetime.now(UTC))


def _ec_key(row: SigningKey) -> ECKey:
    return ECKey.import_key(row.private_pem, {"kid": row.kid, "alg": ALGORITHM, "use": "sig"})


class SigningKeys:
    def __init__(
        self, database: Database, settings: IdentitySettings, leeway_seconds: int, min_refresh_seconds: float
    ) -> None:
        self.database = database
        self.settings = settings
        self.leeway_seconds = leeway_seconds
        self.min_refresh_seconds = min_refresh_seconds  # at most one reload this often for unknown key ids
        self._refresh_asked_at = float("-inf")
        self._ring: list[tuple[SigningKey, ECKey]] = []  # newest first
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the ring (making the first key if there is none) and keep it fresh."""
        await self._load()
        self._task = asyncio.create_task(self._reload_forever(), name="signing-key-reload")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _load(self) -> None:
        async with self.database.sessionmaker() as session, session.begin():
            rows = list(await repository.published_keys(session, datetime.now(UTC)))
            if not rows:
                rows = [_new_key()]
                session.add(rows[0])
        self._ring = [(row, _ec_key(row)) for row in rows]

    async def _reload_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for, which on Python 3.11 can lose a cancellation.
                async with asyncio.timeout(self.settings.key_reload_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._load()
            except SQLAlchemyError as error:
                logger.warning("signing keys not reloaded", extra={"error": type(error).__name__})

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        if refresh and time.monotonic() - self._refresh_asked_at >= self.min_refresh_seconds:
            # A key id we do not know yet: read the ring again soon, but not again for every made-up kid.
            self._refresh_asked_at = time.monotonic()
            self._wake.set()
        return KeySet([key for _, key in self._ring])

    def signing_key(self) -> ECKey:
        settled_before = datetime.now(UTC) - timedelta(seconds=self.settings.key_reload_seconds)
        settled = [key for row, key in self._ring if row.created_at <= settled_before]
        return settled[0] if settled else self._ring[-1][1]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for _, key in self._ring]}

    async def rotate(self, session: AsyncSession) -> SigningKey:
        """Publish a new key; it signs after one reload period, and the others then retire."""
        now = datetime.now(UTC)
        retire_at = now + timedelta(
            seconds=self.settings.key_reload_seconds + self.settings.token_ttl_seconds + self.leeway_seconds
        )
        for older in await repository.published_keys(session, now):
            older.retire_at = older.retire_at or retire_at
        row = _new_key()
        session.add(row)
        await session.flush()
        self._wake.set()
        return row
