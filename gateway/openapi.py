"""`GET /openapi.json`: one document for the whole public API.

The gateway's own paths, plus each service's public paths (those the proxy
routes to it), fetched from the service and kept for a short while. A service
that does not answer is named in `x-unavailable-services` rather than failing
the document.
"""

import logging
import time
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.config import GatewaySettings
from gateway.proxy import ROUTES
from gateway.scopes import SCOPES

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30.0
UNAUTHENTICATED = ("/oauth/token", "/.well-known/", "/healthz", "/readyz")
# Swagger UI's assets come from its CDN; everything else the gateway serves allows no outside source.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'"
)


def public_paths_of(service: str, document: dict[str, Any]) -> dict[str, Any]:
    """The paths of a service's document that the gateway routes to it."""
    return {
        path: item for path, item in document.get("paths", {}).items() if ROUTES.get(path.split("/", 2)[1]) == service
    }


class MergedOpenApi:
    def __init__(self, app: FastAPI, settings: GatewaySettings) -> None:
        self.app = app
        self.settings = settings
        self._document: dict[str, Any] | None = None
        self._made_at = float("-inf")

    async def document(self) -> dict[str, Any]:
        if self._document is None or time.monotonic() - self._made_at > CACHE_SECONDS:
            self._document = await self._merge()
            self._made_at = time.monotonic()
        return self._document

    def _own(self) -> dict[str, Any]:
        document = get_openapi(title=self.app.title, version=self.app.version, routes=self.app.routes)
        document["paths"] = {
            path: item for path, item in document.get("paths", {}).items() if not path.startswith("/internal/")
        }
        for path, item in document["paths"].items():
            if path.startswith(UNAUTHENTICATED):
                for operation in item.values():
                    operation["security"] = []
        return document

    async def _merge(self) -> dict[str, Any]:
        merged = self._own()
        schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
        unavailable = []
        client: httpx.AsyncClient = self.app.state.http
        for service, base_url in self.settings.upstream.by_name().items():
            try:
                response = await client.get(f"{base_url}/openapi.json", timeout=5.0)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError):
                unavailable.append(service)
                continue
            merged["paths"].update(public_paths_of(service, document))
            for name, schema in document.get("components", {}).get("schemas", {}).items():
                if schemas.setdefault(name, schema) != schema:
                    logger.warning("schema name used twice", extra={"schema": name, "service": service})
        merged["components"]["securitySchemes"] = {
            "oauth2": {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {s: s for s in sorted(SCOPES)}}},
            }
        }
        merged["security"] = [{"oauth2": []}]
        if unavailable:
            merged["x-unavailable-services"] = unavailable
        return merged


router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi_document(request: Request) -> JSONResponse:
    merged: MergedOpenApi = request.app.state.openapi
    return JSONResponse(await merged.document())


@router.get("/docs")
async def docs() -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="Graduated Pathway API")
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page
