from services.kit.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    name: str = "assessment"
