from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.settings import ServiceSettings


class UpstreamSettings(BaseSettings):
    """Where the services behind the gateway listen."""

    model_config = SettingsConfigDict(env_prefix="UPSTREAM_", extra="ignore")

    assessment_url: str = "http://127.0.0.1:8001"
    consent_url: str = "http://127.0.0.1:8002"
    plan_url: str = "http://127.0.0.1:8003"
    notifications_url: str = "http://127.0.0.1:8004"
    timeout_seconds: float = 10.0

    def by_name(self) -> dict[str, str]:
        return {
            "assessment": self.assessment_url,
            "consent": self.consent_url,
            "plan": self.plan_url,
            "notifications": self.notifications_url,
        }


class IdentitySettings(BaseSettings):
    """Tokens the gateway issues, and the clients it ensures at start: the admin's and the services' own."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    token_ttl_seconds: int = 900
    key_reload_seconds: float = 60.0  # how soon a replica sees a key rotated by another
    bootstrap_client_id: str = ""
    bootstrap_client_secret: str = ""
    service_client_id: str = ""
    service_client_secret: str = ""


class RateLimitSettings(BaseSettings):
    """A token bucket per client, in each gateway process."""

    model_config = SettingsConfigDict(env_prefix="RATE_LIMIT_", extra="ignore")

    per_second: float = 50.0
    burst: int = 200


class CorsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORS_", extra="ignore")

    allow_origins: list[str] = Field(default_factory=list)


REPOSITORY = Path(__file__).resolve().parent.parent


class FrontEndSettings(BaseSettings):
    """The staff front end: where GOV.UK Frontend's files are, and how long a signed-in session lasts."""

    model_config = SettingsConfigDict(env_prefix="FRONT_END_", extra="ignore")

    # Installed from npm by the project's set-up (`package.json`), served from here, never from a CDN.
    govuk_frontend_dir: Path = REPOSITORY / "node_modules" / "govuk-frontend" / "dist" / "govuk"
    idle_minutes: float = 20.0  # signed out after this long without a request
    session_hours: float = 8.0  # and after this long in all, a working day
    sign_in_attempts: int = 10  # tries at one e-mail address in a row, then one more a minute
    # Off only where the gateway is reached over plain HTTP on loopback, as `make up` does.
    secure_cookies: bool = True


class GatewaySettings(ServiceSettings):
    name: str = "gateway"
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    front_end: FrontEndSettings = Field(default_factory=FrontEndSettings)
