from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint, serve
from tests.kit import note_service
from tests.kit.note_service import create_note_app
from tests.support.notes import RunningNotes, note_settings
from tests.support.waiting import connected, eventually


@pytest.fixture(autouse=True)
def no_failing_aggregates() -> Iterator[None]:
    yield
    note_service.FAILING_AGGREGATES.clear()


@pytest.fixture
async def notes(
    nats_server: NatsServer, database_url: str, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[RunningNotes]:
    app = create_note_app(note_settings(nats_server.url, database_url, tmp_path))
    async with serve(app) as client:
        token_mint.trust(app)
        await eventually(lambda: connected(app))
        yield RunningNotes(app, client, nats_server, token_mint)
