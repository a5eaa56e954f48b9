"""Entry point: `uvicorn --factory services.consent.main:create_app`."""

from fastapi import FastAPI

from services.consent.config import ConsentSettings
from services.kit.app import create_service_app


def create_app(settings: ConsentSettings | None = None) -> FastAPI:
    return create_service_app(settings or ConsentSettings(), title="Graduated Pathway: consent")
