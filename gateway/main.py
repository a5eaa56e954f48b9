"""Entry point: `uvicorn --factory gateway.main:create_app`."""

import httpx
from fastapi import FastAPI

from gateway.config import GatewaySettings
from services.kit.app import create_service_app
from services.kit.health import ReadinessCheck


def upstream_alive(base_url: str) -> ReadinessCheck:
    async def check(app: FastAPI) -> bool:
        client: httpx.AsyncClient = app.state.http
        try:
            response = await client.get(f"{base_url}/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return check


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    return create_service_app(
        settings,
        title="Graduated Pathway",
        readiness_checks={name: upstream_alive(url) for name, url in settings.upstream.by_name().items()},
    )
