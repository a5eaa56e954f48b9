"""Entry point: `uvicorn --factory services.plan.main:create_app`."""

from fastapi import FastAPI

from services.kit.app import create_service_app
from services.plan.config import PlanSettings


def create_app(settings: PlanSettings | None = None) -> FastAPI:
    return create_service_app(settings or PlanSettings(), title="Graduated Pathway: plans")
