"""Settings blocks every service composes into its own settings class.

Each block reads its own environment prefix, so one process can hold several
(for example the database of the service and the NATS it talks to) and a
deployment configures them with plain environment variables.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    """Where a service keeps its own tables.

    `url` is an SQLAlchemy async URL: `sqlite+aiosqlite:///.data/<service>.db`
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
    """The NATS server and the JetStream stream that carries domain events.

    A process with a NATS user of its own signs in with its nkey seed (`nkey_seed_file`, a file a
    secret is mounted as, or `nkey_seed` itself) and takes its replies on `inbox_prefix`, the one
    subject space its user may subscribe to. Only a process with `manage_streams` creates and
    changes the streams and their durable consumers; the others wait until they exist.
    """

    model_config = SettingsConfigDict(env_prefix="NATS_", extra="ignore")

    url: str = "nats://127.0.0.1:4222"  # several servers of a cluster: comma-separated
    stream: str = "PATHWAY"
    subjects: list[str] = Field(default_factory=lambda: ["pathway.>"])
    dead_letter_stream: str = "PATHWAY_DEAD_LETTER"
    dead_letter_prefix: str = "deadletter"
    bucket: str = "PATHWAY_STATE"  # the key-value bucket of counters one service raises and others watch
    replicas: int = 1
    max_age_days: float = 365.0
    duplicate_window_seconds: float = 120.0
    reconnect_wait_seconds: float = 0.5
    nkey_seed_file: Path | None = None
    nkey_seed: SecretStr = SecretStr("")
    inbox_prefix: str = "_INBOX"
    manage_streams: bool = True

    @property
    def servers(self) -> list[str]:
        return [server.strip() for server in self.url.split(",") if server.strip()]


class OutboxSettings(BaseSettings):
    """How the outbox relay publishes."""

    model_config = SettingsConfigDict(env_prefix="OUTBOX_", extra="ignore")

    batch_size: int = 2000  # at most nats-py's 4,000 pending async publishes
    # With nothing left to publish the relay waits for a commit of this process to wake it, and looks
    # anyway after this long: for rows committed by another process on the same database (a second
    # replica, a migration, a restore), whose commits wake only their own relay.
    idle_check_seconds: float = 60.0
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
    # How far back a starting process reads revocations: at least the longest life of a token.
    revocations_kept_seconds: float = 86_400.0
    leeway_seconds: int = 30
    org_claim: str = "org"
    org_type_claim: str = "org_type"
    org_roles_claim: str = "org_roles"
    scope_claim: str = "scope"


class HttpSettings(BaseSettings):
    """Limits on what a service accepts over HTTP, and on the calls it makes."""

    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore")

    max_body_bytes: int = 1_048_576
    # Deeper JSON is refused before parsing: parsers and validators recurse, and fail past a few hundred levels.
    max_json_depth: int = Field(default=64, ge=1)
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


class TracingSettings(BaseSettings):
    """Where spans go: nowhere (the default), OTLP, the console, or the process's memory (tests)."""

    model_config = SettingsConfigDict(env_prefix="TRACES_", extra="ignore")

    exporter: Literal["none", "otlp", "console", "memory"] = "none"
    # The OpenTelemetry variable: set, it turns OTLP export on; the exporter reads it (and its siblings) itself.
    otlp_endpoint: str = Field(default="", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")

    @property
    def chosen(self) -> str:
        if self.exporter == "none" and self.otlp_endpoint:
            return "otlp"
        return self.exporter


class ServiceSettings(BaseSettings):
    """The settings every service has; a service subclasses it to add its own."""

    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore")

    name: str = "service"
    log_level: str = "INFO"
    data_dir: Path = Field(default=Path(".data"), validation_alias="PATHWAY_DATA_DIR")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    nats: NatsSettings = Field(default_factory=NatsSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    service_client: ServiceClientSettings = Field(default_factory=ServiceClientSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    @model_validator(mode="after")
    def _default_database(self) -> "ServiceSettings":
        if not self.database.url:
            self.database.url = f"sqlite+aiosqlite:///{self.data_dir / self.name}.db"
        return self
