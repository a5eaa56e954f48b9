from services.kit.settings import ServiceSettings


class PlanSettings(ServiceSettings):
    name: str = "plan"
