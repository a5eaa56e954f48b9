"""Services trust the gateway's tokens through its JWKS, across a key rotation."""

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from gateway.config import IdentitySettings
from services.kit.natsserver import NatsServer
from services.kit.settings import AuthSettings, DatabaseSettings, NatsSettings
from services.kit.testing import DatabaseFactory, TokenMint, serve
from services.plan.config import PlanSettings
from services.plan.main import create_app as create_plan
from tests.support.gateway import BOOTSTRAP_ID, BOOTSTRAP_SECRET, Gateway
from tests.support.stack import MigratedDatabase, started
from tests.support.waiting import eventually

RELOAD_SECONDS = 2.0


def kid_of(token: str) -> str:
    header = token.split(".", 1)[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


@pytest.fixture
async def gateway(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[Gateway]:
    """A gateway whose replicas would see a rotated key within RELOAD_SECONDS."""
    identity = IdentitySettings(
        bootstrap_client_id=BOOTSTRAP_ID, bootstrap_client_secret=BOOTSTRAP_SECRET, key_reload_seconds=RELOAD_SECONDS
    )
    async with started(
        "gateway",
        nats=nats_server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        upstream_url="http://127.0.0.1:9",
        settings={"gateway": {"identity": identity}},
    ) as stack:
        assert stack.gateway is not None
        yield stack.gateway


async def test_a_service_verifies_gateway_tokens_before_and_after_a_rotation(
    gateway: Gateway, nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    plan = create_plan(
        PlanSettings(
            data_dir=tmp_path,
            database=DatabaseSettings(url=await database_factory("plan")),
            nats=NatsSettings(url=nats_server.url),
            auth=AuthSettings(
                issuer=gateway.url, jwks_url=f"{gateway.url}/.well-known/jwks.json", jwks_min_refresh_seconds=0
            ),
        )
    )
    async with serve(plan) as service:
        await eventually(lambda: connected(plan))
        before = await gateway.token()
        answer = await service.get("/internal/dead-letters", headers={"Authorization": f"Bearer {before}"})
        assert (answer.status_code, answer.json()) == (200, []), answer.text

        rotating_since = time.monotonic()
        rotated = await gateway.http.post("/admin/signing-keys/rotate", headers={"Authorization": f"Bearer {before}"})
        assert rotated.status_code == 201
        new_kid = rotated.json()["kid"]

        async def both_published() -> bool:
            keys = (await gateway.http.get("/.well-known/jwks.json")).json()["keys"]
            return {key["kid"] for key in keys} == {kid_of(before), new_kid}

        await eventually(both_published, within=RELOAD_SECONDS * 2)
        meanwhile = await gateway.token()
        # The new key is younger than one reload period whenever less than that has passed since the rotation
        # was asked for; on a loaded machine publishing can take longer, and then the old key rightly stops signing.
        if time.monotonic() - rotating_since < RELOAD_SECONDS:
            assert kid_of(meanwhile) == kid_of(before), "a new key signs only once every replica has it"

        await asyncio.sleep(RELOAD_SECONDS * 1.5)
        after = await gateway.token()
        assert kid_of(after) == new_kid
        for token in (before, after):  # the service fetches the JWKS again for the kid it has not seen
            answer = await service.get("/internal/dead-letters", headers={"Authorization": f"Bearer {token}"})
            assert (answer.status_code, answer.json()) == (200, []), answer.text


async def connected(app: FastAPI) -> bool:
    return bool(app.state.broker.is_connected)
