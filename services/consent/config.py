from services.kit.settings import ServiceSettings


class ConsentSettings(ServiceSettings):
    name: str = "consent"
