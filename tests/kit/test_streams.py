"""Streams are provisioned from settings, idempotently, and services start without NATS."""

from pathlib import Path

import nats

from services.kit.events.broker import ensure_streams
from services.kit.natsserver import NatsServer, free_port
from services.kit.settings import NatsSettings
from services.kit.testing import serve
from tests.kit.note_service import create_note_app
from tests.support.notes import note_settings
from tests.support.streams import stream_messages
from tests.support.waiting import eventually


async def test_streams_follow_settings_and_provisioning_twice_changes_nothing(nats_server: NatsServer) -> None:
    settings = NatsSettings(url=nats_server.url, max_age_days=30, duplicate_window_seconds=60)
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        await ensure_streams(js, settings)
        events = await js.stream_info("PATHWAY")
        assert events.config.subjects == ["pathway.>"]
        assert events.config.max_age == 30 * 86_400
        assert events.config.duplicate_window == 60
        assert events.config.num_replicas == 1
        dead = await js.stream_info("PATHWAY_DEAD_LETTER")
        assert dead.config.subjects == ["deadletter.>"]

        await ensure_streams(js, settings.model_copy(update={"max_age_days": 90}))
        assert (await js.stream_info("PATHWAY")).config.max_age == 90 * 86_400
    finally:
        await nc.close()


async def test_a_service_starts_and_commits_while_nats_is_away(database_url: str, tmp_path: Path) -> None:
    absent = NatsServer(tmp_path / "nats", port=free_port())
    app = create_note_app(note_settings(absent.url, database_url, tmp_path))
    async with serve(app) as client:
        written = await client.post("/notes", json={"aggregate": "f", "text": "t"})
        assert written.status_code == 201
        assert (await client.get("/readyz")).json()["checks"] == {"database": True, "nats": False}

        absent.start()
        try:

            async def arrived() -> bool:
                return [m.event.get_id() for m in await stream_messages(absent.url)] == [written.json()["event_id"]]

            await eventually(arrived, within=20)
        finally:
            absent.stop()
