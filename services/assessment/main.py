"""Entry point: `uvicorn --factory services.assessment.main:create_app`."""

from fastapi import FastAPI

from services.assessment.config import AssessmentSettings
from services.kit.app import create_service_app


def create_app(settings: AssessmentSettings | None = None) -> FastAPI:
    return create_service_app(settings or AssessmentSettings(), title="Graduated Pathway: assessments")
