"""The consent service and the assessment service, each on a real port, talking over HTTP as they do in production."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint
from tests.support.consent import ConsentStack
from tests.support.stack import MigratedDatabase, started


@pytest.fixture
async def stack(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[ConsentStack]:
    """Here `stack` is these two services, not the whole system."""
    async with started(
        "consent",
        "assessment",
        nats=nats_server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
    ) as running_stack:
        yield ConsentStack.of(running_stack)
