"""A nats-server that lets in only the users `deploy.nats_users` generates, as `make up` runs it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.client import Client as NatsClient

from deploy.nats_users import STREAMS_USER, Credentials, generate, provision
from services.kit.events.broker import signing_in
from services.kit.natsserver import NatsServer
from services.kit.settings import NatsSettings


@dataclass
class AuthenticatedNats:
    server: NatsServer
    credentials: Credentials
    errors: list[Exception] = field(default_factory=list)  # what the server told the connections made here

    def settings(self, user: str) -> NatsSettings:
        return self.credentials.nats_settings(user, self.server.url)

    async def connect(self, user: str | None) -> NatsClient:
        """A connection as `user` (as nobody with None) that fails rather than retries."""

        async def told(error: Exception) -> None:
            self.errors.append(error)

        options = signing_in(self.settings(user)) if user else {}
        return await nats.connect(self.server.url, allow_reconnect=False, connect_timeout=2, error_cb=told, **options)

    def violations(self) -> list[str]:
        return [str(error) for error in self.errors if "permissions violation" in str(error).lower()]


@asynccontextmanager
async def authenticated_nats(folder: Path) -> AsyncIterator[AuthenticatedNats]:
    """A nats-server of its own on the generated configuration, its streams and consumers made by their user."""
    credentials = generate(folder / "nats-users")
    server = NatsServer(folder / "nats", arguments=["--config", str(credentials.accounts_config)])
    server.start()
    try:
        await provision(credentials.nats_settings(STREAMS_USER, server.url))
        yield AuthenticatedNats(server, credentials)
    finally:
        server.stop()
