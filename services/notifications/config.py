from services.kit.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    name: str = "notifications"
