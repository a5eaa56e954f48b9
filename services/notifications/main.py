"""Entry point: `uvicorn --factory services.notifications.main:create_app`."""

from fastapi import FastAPI

from services.kit.app import create_service_app
from services.notifications.config import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return create_service_app(settings or NotificationsSettings(), title="Graduated Pathway: notifications")
