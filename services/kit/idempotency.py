"""`Idempotency-Key`: a retried POST gets the first answer again instead of a second effect.

A key belongs to the client that sent it. The first request with a key
reserves it by inserting a row in the request's own transaction; the primary
key on (client, key) decides between concurrent requests, never a
search-then-insert. The answer is stored in the same row before the
transaction commits, so a key is either unused or holds the answer to a
change that committed. A request that fails rolls its reservation back with
everything else, so a retry after an error does the work afresh.

The same key with a different body is refused with 422. Keys are kept for
`retention_hours`; after that a key may be used again.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Header, Response
from pydantic import BaseModel
from sqlalchemy import JSON, LargeBinary, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Column, Field, SQLModel, col

from services.kit.auth import PrincipalDep
from services.kit.db import SessionDep, UtcDateTime
from services.kit.problems import ValidationFailed

REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("location", "etag", "content-type")
KEY_MAX_LENGTH = 255
RETENTION = timedelta(hours=24)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    client: str = Field(primary_key=True, max_length=255)
    key: str = Field(primary_key=True, max_length=KEY_MAX_LENGTH)
    request_sha256: str = Field(max_length=64)
    status_code: int | None = None  # None while the first request is still in its transaction
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    body: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_type=UtcDateTime, index=True)


class IdempotencyKeyReused(ValidationFailed):
    slug, title = "idempotency-key-reused", "This Idempotency-Key was used with a different request"


def fingerprint(body: BaseModel) -> str:
    """The request as parsed: the same JSON sent with other spacing or key order is the same request."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Idempotency:
    """The idempotency key of one request, if it sent one."""

    def __init__(self, session: AsyncSession, client: str, key: str | None, retention: timedelta = RETENTION) -> None:
        self.session = session
        self.client = client
        self.key = key
        self.retention = retention
        self._record: IdempotencyRecord | None = None

    async def replay(self, body: BaseModel) -> Response | None:
        """The first answer when this key was used before with the same body; None to go ahead.

        Going ahead reserves the key in the request's transaction.
        """
        if self.key is None:
            return None
        request_sha256 = fingerprint(body)
        now = datetime.now(UTC)
        record = IdempotencyRecord(client=self.client, key=self.key, request_sha256=request_sha256, created_at=now)
        try:
            async with self.session.begin_nested():
                self.session.add(record)
        except IntegrityError:
            existing = await self.session.scalar(
                select(IdempotencyRecord).where(
                    col(IdempotencyRecord.client) == self.client, col(IdempotencyRecord.key) == self.key
                )
            )
            if existing is None:  # expired and purged between our insert and this read
                return await self.replay(body)
            if existing.created_at < now - self.retention:
                await self.session.delete(existing)
                await self.session.flush()
                return await self.replay(body)
            if existing.request_sha256 != request_sha256 or existing.status_code is None:
                raise IdempotencyKeyReused(
                    "Use a new Idempotency-Key for a different request; a key is kept for 24 hours."
                ) from None
            headers = {**existing.headers, REPLAYED_HEADER: "true"}
            return Response(existing.body, status_code=existing.status_code, headers=headers)
        self._record = record
        return None

    def remember(self, response: Response) -> Response:
        """Keep the answer with the key, in the same transaction as the change it reports."""
        if self._record is not None:
            self._record.status_code = response.status_code
            self._record.body = bytes(response.body)
            self._record.headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        return response


async def purge_expired(session: AsyncSession, retention: timedelta = RETENTION) -> None:
    cutoff = datetime.now(UTC) - retention
    await session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff))


# async, like every dependency here: a plain function would be run in a worker thread.
async def _idempotency(
    session: SessionDep,
    principal: PrincipalDep,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=KEY_MAX_LENGTH,
            description="Makes a retry safe: the same key and body return the first answer again.",
        ),
    ] = None,
) -> Idempotency:
    return Idempotency(session, principal.subject, key)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
