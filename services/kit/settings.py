"""Settings blocks every service composes into its own settings class.

Each block reads its own environment prefix, so one process can hold several
(for example the database of the service and the NATS it talks to) and a
deployment configures them with plain environment variables.
"""

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    """Where a service keeps its own tables.

    `url` is an SQLAlchemy async URL: `sqlite+aiosqlite:///.data/assessment.db`
    by default, `postgresql+asyncpg://...` in production.
    """

    model_config = SettingsConfigDict(env_prefix="DATABASE_", extra="ignore")

    url: str = ""  # empty: an SQLite file named after the service in the data folder
    pool_size: int = 10
    echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class NatsSettings(BaseSettings):
    """The NATS server and the JetStream stream that carries domain events."""

    model_config = SettingsConfigDict(env_prefix="NATS_", extra="ignore")

    url: str = "nats://127.0.0.1:4222"  # several servers of a cluster: comma-separated
    stream: str = "PATHWAY"
    subjects: list[str] = Field(default_factory=lambda: ["pathway.>"])
    dead_letter_stream: str = "PATHWAY_DEAD_LETTER"
    dead_letter_prefix: str = "deadletter"
    replicas: int = 1
    max_age_days: float = 365.0
    duplicate_window_seconds: float = 120.0
    reconnect_wait_seconds: float = 0.5

    @property
    def servers(self) -> list[str]:
        return [server.strip() for server in self.url.split(",") if server.strip()]


class OutboxSettings(BaseSettings):
    """How the outbox relay publishes."""

    model_config = SettingsConfigDict(env_prefix="OUTBOX_", extra="ignore")

    batch_size: int = 2000  # at most nats-py's 4,000 pending async publishes
    poll_seconds: float = 1.0
    publish_timeout_seconds: float = 5.0
    backoff_max_seconds: float = 10.0


class ConsumerSettings(BaseSettings):
    """How durable consumers retry before an event is dead-lettered."""

    model_config = SettingsConfigDict(env_prefix="CONSUMER_", extra="ignore")

    max_attempts: int = 5
    retry_delay_seconds: float = 1.0
    batch_size: int = 50
    ack_wait_seconds: float = 30.0


class AuthSettings(BaseSettings):
    """Who issues the tokens services accept, and for which audience.

    The gateway is the issuer by default. To trust an external identity
    provider (Entra ID, Keycloak) instead, set its issuer and JWKS URL and name
    the claims that carry the organisation, its type and the scopes.
    """

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    issuer: str = "http://127.0.0.1:8000"
    audience: str = "graduated-pathway"
    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    algorithms: list[str] = Field(default_factory=lambda: ["ES256", "RS256"])
    jwks_cache_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 10.0  # however many unknown kids arrive
    leeway_seconds: int = 30
    org_claim: str = "org"
    org_type_claim: str = "org_type"
    scope_claim: str = "scope"


class HttpSettings(BaseSettings):
    """Limits on what a service accepts over HTTP, and on the calls it makes."""

    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore")

    max_body_bytes: int = 1_048_576
    client_timeout_seconds: float = 10.0  # calls this service makes to others
    connect_timeout_seconds: float = 2.0


class ServiceClientSettings(BaseSettings):
    """The service's own OAuth client, for calls it makes as itself rather than for a caller.

    Empty in a service that only ever acts on a caller's behalf.
    """

    model_config = SettingsConfigDict(env_prefix="SERVICE_CLIENT_", extra="ignore")

    id: str = ""
    secret: str = ""
    token_url: str = "http://127.0.0.1:8000/oauth/token"  # noqa: S105 (an address, not a secret)


class ServiceSettings(BaseSettings):
    """The settings every service has; a service subclasses it to add its own."""

    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore")

    name: str = "service"
    log_level: str = "INFO"
    data_dir: Path = Field(default=Path(".data"), validation_alias="PATHWAY_DATA_DIR")
    # Where reads of a family's data are decided (the consent service); empty: by authorship alone.
    access_decisions_url: str = Field(default="", validation_alias="ACCESS_DECISIONS_URL")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    nats: NatsSettings = Field(default_factory=NatsSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    service_client: ServiceClientSettings = Field(default_factory=ServiceClientSettings)

    @model_validator(mode="after")
    def _default_database(self) -> "ServiceSettings":
        if not self.database.url:
            self.database.url = f"sqlite+aiosqlite:///{self.data_dir / self.name}.db"
        return self
