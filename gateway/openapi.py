"""`GET /openapi.json`: one document for the whole public API.

The gateway's own paths, plus each service's public paths (those the proxy
routes to it), fetched from the service and kept for a short while. A service
that does not answer is named in `x-unavailable-services` rather than failing
the document.
"""

import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from gateway.config import GatewaySettings
from gateway.proxy import service_of
from gateway.scopes import SCOPES
from services.kit.openapi import problems, with_problem_schema
from services.kit.problems import NotFound, ServiceUnavailable

CACHE_SECONDS = 30.0
PROXY_STATUSES = (429, 502, 504)
SCHEMA_REF = "#/components/schemas/"
UNAUTHENTICATED = ("/oauth/token", "/.well-known/", "/healthz", "/readyz", "/metrics")
# Swagger UI comes from the npm package `swagger-ui-dist` (locked in package-lock.json, like GOV.UK Frontend)
# and is served by the gateway itself: the page loads nothing from another origin, and runs no inline script.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_ASSETS: dict[str, tuple[str, str]] = {  # path under /docs/ -> (file, content type)
    "swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "favicon-32x32.png": ("favicon-32x32.png", "image/png"),
}
DOCS_INIT = Path(__file__).parent / "static" / "swagger-init.js"
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Graduated Pathway API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script>
</body>
</html>
"""
ASSET_CACHE = "public, max-age=3600"


def public_paths_of(service: str, document: dict[str, Any]) -> dict[str, Any]:
    """The paths of a service's document that the gateway routes to it."""
    return {path: item for path, item in document.get("paths", {}).items() if service_of(path) == service}


def _refs_renamed(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF) and ref[len(SCHEMA_REF) :] in renames:
            return {**node, "$ref": SCHEMA_REF + renames[ref[len(SCHEMA_REF) :]]}
        return {key: _refs_renamed(value, renames) for key, value in node.items()}
    if isinstance(node, list):
        return [_refs_renamed(value, renames) for value in node]
    return node


def with_own_names(service: str, document: dict[str, Any], taken: dict[str, Any]) -> dict[str, Any]:
    """`document` with each schema whose name another service already gave a different schema renamed `service.Name`.

    Two services may each have a `Need` of their own; kept under one name, one service's
    operations would be documented with the other's schema.
    """
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    while True:  # a schema that refers to a renamed one may differ from its namesake only once renamed itself
        clashes = {
            name
            for name, schema in _refs_renamed(schemas, renames).items()
            if name not in renames and name in taken and taken[name] != schema
        }
        if not clashes:
            break
        renames |= {name: f"{service}.{name}" for name in clashes}
    if not renames:
        return document
    renamed: dict[str, Any] = _refs_renamed(document, renames)
    renamed["components"]["schemas"] = {
        renames.get(name, name): schema for name, schema in renamed["components"]["schemas"].items()
    }
    return renamed


def with_proxy_answers(paths: dict[str, Any]) -> dict[str, Any]:
    """`paths` with what the gateway itself may answer on the way: its rate limit, and a service away or slow."""
    for item in paths.values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status, answer in problems(*PROXY_STATUSES).items():
                responses.setdefault(str(status), answer)
    return paths


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
        with_problem_schema(document)
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
            document = with_own_names(service, document, schemas)
            merged["paths"].update(with_proxy_answers(public_paths_of(service, document)))
            schemas.update(document.get("components", {}).get("schemas", {}))
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
    return HTMLResponse(DOCS_PAGE, headers={"Content-Security-Policy": DOCS_POLICY})


@router.get("/docs/swagger-init.js")
async def docs_init() -> FileResponse:
    return FileResponse(DOCS_INIT, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": ASSET_CACHE})


@router.get("/docs/{asset}")
async def docs_asset(request: Request, asset: str) -> FileResponse:
    """One of Swagger UI's own files, from the installed npm package."""
    if asset not in DOCS_ASSETS:
        raise NotFound("No such file of the API documentation.")
    settings: GatewaySettings = request.app.state.settings
    name, media_type = DOCS_ASSETS[asset]
    path = settings.front_end.swagger_ui_dir / name
    if not path.is_file():
        raise ServiceUnavailable("Swagger UI is not installed here: run `npm ci`.")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": ASSET_CACHE})
