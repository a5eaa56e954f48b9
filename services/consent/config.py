from services.kit.settings import ServiceSettings


class ConsentSettings(ServiceSettings):
    name: str = "consent"
    # How often grants and overrides past their end are announced as expired (access stops at the end regardless).
    expiry_sweep_seconds: float = 1.0
