"""The fixtures every test directory shares: each stack is `started(...)` with its names, and nothing else.

Loaded from `tests/conftest.py` beside `services.kit.testing`, whose session
nats-server and migrated-once databases they build on.
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from services.kit.natsserver import NatsServer
from services.kit.testing import DatabaseFactory, TokenMint, running
from tests.gateway.upstream import create_echo_app
from tests.support.assessment import RunningAssessments
from tests.support.databases import migrate
from tests.support.gateway import Gateway, GatewayStack
from tests.support.notifications import NotificationsStack
from tests.support.plan import PlanStack
from tests.support.stack import MigratedDatabase, started


@pytest.fixture
def migrated_database(database_factory: DatabaseFactory) -> MigratedDatabase:
    """A copy, for this test, of the named app's database as migrated once this session."""

    async def copy(name: str) -> str:
        return await database_factory.migrated(name, migrate(name))

    return copy


@pytest.fixture
async def assessments(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[RunningAssessments]:
    async with started(
        "assessment", nats=nats_server, database=migrated_database, data_dir=tmp_path, mint=token_mint, transport="asgi"
    ) as stack:
        yield RunningAssessments.of(stack)


# Sweeps that run often enough for a test to see their effect; each one costs a transaction every time it runs.
QUICK_REVIEWS = {"plan": {"review_sweep_seconds": 0.2}}
QUICK_DELIVERIES = {
    "retry_delays_seconds": [0.2, 0.4, 0.8],
    "delivery_timeout_seconds": 2.0,
}


@pytest.fixture
async def plan_stack(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[PlanStack]:
    async with started(
        "consent",
        "assessment",
        "plan",
        nats=nats_server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        settings=QUICK_REVIEWS,
    ) as stack:
        yield PlanStack.of(stack)


@pytest.fixture
def notifications_options() -> dict[str, Any]:
    """Settings of the notifications service that a test module overrides."""
    return {}


@pytest.fixture
async def notifications(
    nats_server: NatsServer,
    migrated_database: MigratedDatabase,
    tmp_path: Path,
    token_mint: TokenMint,
    notifications_options: dict[str, Any],
) -> AsyncIterator[NotificationsStack]:
    async with started(
        "consent",
        "assessment",
        "plan",
        "notifications",
        nats=nats_server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        settings=QUICK_REVIEWS | {"notifications": QUICK_DELIVERIES | notifications_options},
    ) as stack:
        notifications = NotificationsStack.of(stack)
        try:
            yield notifications
        finally:
            for receiver in notifications.receivers:
                await receiver.stop()


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, FastAPI]]:
    """A stand-in for every service, which tells what reached it."""
    app = create_echo_app()
    async with running(app) as url:
        yield url, app


@pytest.fixture
async def gateway(
    nats_server: NatsServer,
    migrated_database: MigratedDatabase,
    tmp_path: Path,
    token_mint: TokenMint,
    echo: tuple[str, FastAPI],
) -> AsyncIterator[Gateway]:
    """The gateway alone, routing to `echo`."""
    async with started(
        "gateway",
        nats=nats_server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        upstream_url=echo[0],
    ) as stack:
        assert stack.gateway is not None
        yield stack.gateway


@pytest.fixture
async def stack(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[GatewayStack]:
    """Every service and the gateway, each on its own port, as `make up` runs them."""
    names = ("consent", "assessment", "plan", "notifications", "gateway")
    async with started(
        *names, nats=nats_server, database=migrated_database, data_dir=tmp_path, mint=token_mint
    ) as running_stack:
        assert running_stack.gateway is not None
        services = {name: app for name, app in running_stack.apps.items() if name != "gateway"}
        yield GatewayStack(running_stack.gateway, services)
