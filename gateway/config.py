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


class HashingSettings(BaseSettings):
    """The threads that check passwords and client secrets with argon2 (64 MiB each while it runs)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_HASHING_", extra="ignore")

    workers: int = Field(default=2, ge=1)
    waiting: int = Field(default=16, ge=0)  # checks that may wait for a thread; more are turned away at once
    wait_seconds: float = 2.0  # how long one waits before it is turned away (503 with Retry-After)


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
    # Swagger UI for the API's `/docs`, from npm in the same way.
    swagger_ui_dir: Path = REPOSITORY / "node_modules" / "swagger-ui-dist"
    idle_minutes: float = 20.0  # signed out after this long without a request
    session_hours: float = 8.0  # and after this long in all, a working day
    # Wrong passwords at one e-mail address from one client address before each further try must wait,
    # twice as long as the last, from 1 s to `sign_in_delay_max_seconds`: slowed, never locked out.
    sign_in_attempts: int = 5
    sign_in_delay_max_seconds: float = 60.0
    # Sign-in tries from one client address, whatever the e-mail address: a burst, then this many a minute.
    sign_in_address_burst: int = 30
    sign_in_address_per_minute: float = 10.0
    # Off only where the gateway is reached over plain HTTP on loopback, as `make up` does.
    secure_cookies: bool = True
    # The council running the service: its name (or logo) and brand colour in the header, its name and links in
    # the footer. A council's service is not on GOV.UK, so it shows no crown and uses no GOV.UK typeface.
    council_name: str = Field(default="Northshire County Council", min_length=1, max_length=100)
    # The logo's address, served by the council's own site or the gateway (the pages allow images from the
    # gateway and data: URLs only); the council's name is its text alternative. Empty: the name is shown.
    council_logo_url: str = Field(default="", max_length=2000)
    brand_colour: str = Field(default="#1d70b8", pattern=r"^#[0-9a-fA-F]{6}$")  # white text must read on it
    # The footer's links, text to address (a JSON object in `FRONT_END_FOOTER_LINKS`): privacy, accessibility.
    footer_links: dict[str, str] = Field(default_factory=dict)


class GatewaySettings(ServiceSettings):
    name: str = "gateway"
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    front_end: FrontEndSettings = Field(default_factory=FrontEndSettings)
    hashing: HashingSettings = Field(default_factory=HashingSettings)
