"""The access log's signed checkpoints: signed every N entries or every so often, published as `audit.checkpoint`,
verifiable with the public key the consent service publishes; a rewrite made inside the database, every hash after it
recomputed, is reported against them; `/audit/verify` reads only what follows the last checkpoint unless asked for all.
"""

import asyncio
import contextlib
import itertools
import json
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import OKPKey
from sqlalchemy import delete, select, update
from sqlmodel import col

from services.consent.chain import ChainCheck, entry_hash
from services.consent.config import ConsentSettings
from services.consent.main import create_app
from services.consent.models import AuditCheckpoint, AuditEntry
from services.consent.signing import EMBEDDED_KEY_FILE
from services.kit.natsserver import NatsServer
from services.kit.settings import DatabaseSettings
from services.kit.testing import TokenMint
from tests.support.audit import audit_settled, database_of, shared_and_read
from tests.support.consent import ConsentStack
from tests.support.stack import MigratedDatabase, started
from tests.support.streams import stream_messages
from tests.support.waiting import eventually

AUDITOR_SCOPES = "audit:read"
PUBLISHED = ("sequence", "position", "hash", "key_id", "signature", "signed_at")
Running = Callable[..., AbstractAsyncContextManager[ConsentStack]]


@pytest.fixture
def running(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> Running:
    """Starts the consent and assessment services with the checkpoint settings a test names."""

    @contextlib.asynccontextmanager
    async def with_checkpoints(*, entries: int, seconds: float) -> AsyncIterator[ConsentStack]:
        settings = {"audit_checkpoint_entries": entries, "audit_checkpoint_seconds": seconds}
        async with started(
            "consent",
            "assessment",
            nats=nats_server,
            database=migrated_database,
            data_dir=tmp_path,
            mint=token_mint,
            settings={"consent": settings},
        ) as stack:
            yield ConsentStack.of(stack)

    return with_checkpoints


async def _checkpoints(stack: ConsentStack) -> list[AuditCheckpoint]:
    async with database_of(stack.consent_app).sessionmaker() as session:
        return list(await session.scalars(select(AuditCheckpoint).order_by(col(AuditCheckpoint.sequence))))


async def _entries(stack: ConsentStack) -> list[AuditEntry]:
    async with database_of(stack.consent_app).sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry).order_by(col(AuditEntry.position))))


async def _verify(stack: ConsentStack, *, full: bool = False) -> dict[str, Any]:
    auditor = stack.organisation("org-council", "council", scopes=AUDITOR_SCOPES)
    response = await stack.consent.get("/audit/verify", params={"full": str(full).lower()}, headers=auditor.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _settled_and_signed_to_the_end(stack: ConsentStack) -> list[AuditCheckpoint]:
    """Once every audit event is logged and a checkpoint covers the last entry; the checkpoints then."""
    found: list[AuditCheckpoint] = []

    async def signed_to_the_end() -> bool:
        nonlocal found
        if not await audit_settled(stack):
            return False
        found, entries = await _checkpoints(stack), await _entries(stack)
        return bool(found) and found[-1].position == entries[-1].position

    await eventually(signed_to_the_end, within=15)
    return found


async def _rewrite_and_rehash(stack: ConsentStack, position: int) -> None:
    """What someone with the database and the hash recipe can do: change an entry, recompute every hash after it."""
    async with database_of(stack.consent_app).sessionmaker() as session, session.begin():
        query = select(AuditEntry).where(col(AuditEntry.position) >= position).order_by(col(AuditEntry.position))
        rewritten = list(await session.scalars(query))
        previous_hash = rewritten[0].previous_hash
        for entry in rewritten:
            if entry.position == position:
                entry.actor, entry.basis, entry.basis_reference = "someone-else", "authorship", entry.organisation_id
            entry.previous_hash = previous_hash
            entry.hash = previous_hash = entry_hash(entry)


async def test_checkpoints_are_signed_every_n_entries_and_published_with_a_signature_the_public_key_verifies(
    running: Running,
) -> None:
    async with running(entries=3, seconds=3600) as stack:  # by count alone: no checkpoint falls due by time
        _, assessment_id, _ = await shared_and_read(stack)
        health = stack.organisation("org-health", "health")

        async def several_signed() -> bool:  # each read one more entry, until two checkpoints are signed
            read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=health.headers)
            assert read.status_code == 200, read.text
            return len(await _checkpoints(stack)) >= 2

        await eventually(several_signed, within=15)
        stored = await _checkpoints(stack)
        assert [c.sequence for c in stored] == list(range(1, len(stored) + 1))
        assert all(later.position - earlier.position >= 3 for earlier, later in itertools.pairwise(stored))
        assert stored[0].position >= 3
        by_position = {entry.position: entry for entry in await _entries(stack)}
        assert all(c.hash == by_position[c.position].hash for c in stored)

        # The consent service asks no token for the public key: it is for whoever keeps the checkpoints.
        keys = await stack.consent.get("/audit/signing-keys")
        assert keys.status_code == 200, keys.text
        (jwk,) = keys.json()["keys"]
        assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "Ed25519") and "d" not in jwk
        public = OKPKey.import_key({k: jwk[k] for k in ("kty", "crv", "x")})

        async def published() -> list[dict[str, Any]]:
            messages = await stream_messages(stack.nats.url)
            events = [m.event for m in messages if m.event.get_type() == "audit.checkpoint"]
            return [data for data in (event.get_data() for event in events) if isinstance(data, dict)]

        async def every_checkpoint_published() -> bool:
            return len(await published()) >= len(stored)

        await eventually(every_checkpoint_published, within=15)
        for event, checkpoint in zip(await published(), stored, strict=False):
            assert event["sequence"] == checkpoint.sequence and event["position"] == checkpoint.position
            assert event["hash"] == checkpoint.hash and event["key_id"] == jwk["kid"]
            token = jws.deserialize_compact(event["signature"], public, algorithms=["Ed25519"])
            assert token.headers()["kid"] == jwk["kid"]
            assert json.loads(token.payload) == {
                "sequence": event["sequence"],
                "position": event["position"],
                "hash": event["hash"],
                "signed_at": datetime.fromisoformat(event["signed_at"]).isoformat(),
            }
        # About no family: no family, organisation or person in a checkpoint's event.
        messages = [m.event for m in await stream_messages(stack.nats.url) if m.event.get_type() == "audit.checkpoint"]
        assert all(event.get_attributes().get("familyid") is None for event in messages)
        assert all(set(event) == set(PUBLISHED) for event in await published())


async def test_verify_reads_from_the_last_checkpoint_and_in_full_on_demand(running: Running) -> None:
    async with running(entries=1000, seconds=0.3) as stack:  # by time: every 0.3 s while entries arrive
        await shared_and_read(stack)
        stored = await _settled_and_signed_to_the_end(stack)
        last, total = stored[-1], len(await _entries(stack))

        incremental = await _verify(stack)
        assert incremental == {
            "valid": True,
            "entries": total - last.position + 1,  # the checkpoint's own entry, and any after it
            "first_broken_position": None,
            "problem": None,
            "checked_from": last.position,
            "checkpoints": 1,
        }
        full = await _verify(stack, full=True)
        assert full == {
            "valid": True,
            "entries": total,
            "first_broken_position": None,
            "problem": None,
            "checked_from": 1,
            "checkpoints": len(stored),
        }


async def test_a_rewrite_rehashed_inside_the_database_is_reported_against_the_signed_checkpoints(
    running: Running,
) -> None:
    async with running(entries=1000, seconds=0.3) as stack:
        _, assessment_id, _ = await shared_and_read(stack)
        stored = await _settled_and_signed_to_the_end(stack)
        entries = await _entries(stack)
        (school_read,) = [e for e in entries if (e.actor, e.resource_id) == ("client-org-school", assessment_id)]
        k = school_read.position
        first_signed_after = min(c.position for c in stored if c.position >= k)

        await _rewrite_and_rehash(stack, k)
        # The chain alone no longer shows it: every entry follows the one before and matches its hash.
        alone = ChainCheck()
        assert alone.feed(await _entries(stack), {}) and alone.result().valid

        incremental = await _verify(stack)
        assert (incremental["valid"], incremental["first_broken_position"]) == (False, stored[-1].position)
        assert f"signed in checkpoint {stored[-1].sequence}" in incremental["problem"], incremental
        full = await _verify(stack, full=True)
        assert (full["valid"], full["first_broken_position"]) == (False, first_signed_after), full
        assert "rewritten and rehashed" in full["problem"]

        # Nor is a checkpoint signed over the rewrite: an entry after it waits five periods, unsigned.
        health = stack.organisation("org-health", "health")
        read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=health.headers)
        assert read.status_code == 200, read.text
        await eventually(lambda: audit_settled(stack))
        await asyncio.sleep(1.5)
        assert [c.sequence for c in await _checkpoints(stack)] == [c.sequence for c in stored]


async def test_a_checkpoint_rewritten_to_match_or_removed_is_reported(running: Running) -> None:
    async with running(entries=1000, seconds=0.3) as stack:
        await shared_and_read(stack)
        stored = await _settled_and_signed_to_the_end(stack)
        assert (await _verify(stack))["valid"] is True  # seen by this process: the last checkpoint is remembered
        last = stored[-1]

        # The rewrite carried into the checkpoint's stored hash: its signature no longer covers it.
        await _rewrite_and_rehash(stack, 1)
        new_hash = (await _entries(stack))[last.position - 1].hash
        async with database_of(stack.consent_app).sessionmaker() as session, session.begin():
            await session.execute(
                update(AuditCheckpoint).where(col(AuditCheckpoint.sequence) == last.sequence).values(hash=new_hash)
            )
        for full in (False, True):
            forged = await _verify(stack, full=full)
            assert forged["valid"] is False, forged
            assert forged["problem"] == (
                f"checkpoint {last.sequence} does not verify with the consent service's signing key"
            ), forged

        # Removed altogether, the checkpoint is missed: by number, and by what this process saw stored.
        async with database_of(stack.consent_app).sessionmaker() as session, session.begin():
            await session.execute(delete(AuditCheckpoint).where(col(AuditCheckpoint.sequence) == last.sequence))
        for full in (False, True):
            removed = await _verify(stack, full=full)
            assert removed["valid"] is False, removed
            assert removed["problem"] == f"checkpoint {last.sequence} was signed, and is no longer stored", removed


async def test_on_postgresql_the_service_does_not_start_without_its_signing_key(tmp_path: Path) -> None:
    settings = ConsentSettings(database=DatabaseSettings(url="postgresql+asyncpg://consent@127.0.0.1:5432/consent"))
    with pytest.raises(ValueError, match="CONSENT_AUDIT_SIGNING_KEY_FILE"):
        create_app(settings)
    named = settings.model_copy(update={"audit_signing_key_file": tmp_path / "absent.pem"})
    with pytest.raises(ValueError, match="names no file"):
        create_app(named)


async def test_the_embedded_default_makes_its_key_in_the_data_folder_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    embedded = ConsentSettings().model_copy(update={"data_dir": tmp_path})
    assert embedded.database.is_sqlite
    create_app(embedded)
    key_file = tmp_path / EMBEDDED_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_bytes()
    create_app(embedded)
    assert key_file.read_bytes() == first  # kept across restarts: what it signed still verifies


async def test_a_checkpoint_removed_from_between_others_is_reported(running: Running) -> None:
    async with running(entries=1000, seconds=0.3) as stack:
        _, assessment_id, _ = await shared_and_read(stack)
        health = stack.organisation("org-health", "health")

        async def two_signed() -> bool:  # a read after each checkpoint, until a second one is signed
            read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=health.headers)
            assert read.status_code == 200, read.text
            await asyncio.sleep(0.2)
            return len(await _checkpoints(stack)) >= 2

        await eventually(two_signed, within=15)
        async with database_of(stack.consent_app).sessionmaker() as session, session.begin():
            await session.execute(delete(AuditCheckpoint).where(col(AuditCheckpoint.sequence) == 1))
        stored = await _checkpoints(stack)
        for full in (False, True):
            removed = await _verify(stack, full=full)
            assert removed["valid"] is False, removed
            expected = f"{len(stored)} checkpoints are stored, numbered up to {stored[-1].sequence}"
            assert removed["problem"].startswith(expected), removed
