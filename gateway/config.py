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


class GatewaySettings(ServiceSettings):
    name: str = "gateway"
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
