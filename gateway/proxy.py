"""Routes the public paths to the services that own them, over one long-lived client.

Bodies stream both ways. Hop-by-hop headers stay behind; everything else goes
through, `Idempotency-Key`, `If-Match`, `ETag`, `Location` and `Retry-After`
included, and the request id goes on as the current one. A service that cannot
be reached answers 502, one too slow 504; a read is tried a second time first.
"""

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from gateway.config import GatewaySettings
from gateway.ratelimit import RateLimiter
from services.kit.auth import Principal, current_principal
from services.kit.problems import BadGateway, GatewayTimeout

# The first segment of a public path, and the service that owns it.
ROUTES: dict[str, str] = {
    "forms": "assessment",
    "families": "assessment",
    "assessments": "assessment",
    "consents": "consent",
    "access-decisions": "consent",
    "safeguarding-overrides": "consent",
    "audit": "consent",
    "plans": "plan",
    "reports": "plan",
    "subscriptions": "notifications",
}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
RETRIED = frozenset({"GET", "HEAD"})
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "x-request-id",  # replaced by the current request id
    }
)


async def rate_limited_principal(request: Request) -> Principal:
    principal = await current_principal(request)
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.take(f"client:{principal.subject}")
    return principal


async def forward(request: Request, _principal: Annotated[Principal, Depends(rate_limited_principal)]) -> Response:
    settings: GatewaySettings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http
    service = ROUTES[request.url.path.split("/", 2)[1]]
    url = httpx.URL(settings.upstream.by_name()[service] + request.url.path, query=request.url.query.encode())
    headers = [(name, value) for name, value in request.headers.items() if name not in HOP_BY_HOP]
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    attempts = 2 if request.method in RETRIED else 1
    for attempt in range(1, attempts + 1):
        outgoing = client.build_request(
            request.method, url, headers=headers, content=request.stream() if has_body else None
        )
        try:
            upstream = await client.send(outgoing, stream=True)
            break
        except httpx.TimeoutException:
            if attempt == attempts:
                raise GatewayTimeout(f"The {service} service did not answer in time.") from None
        except httpx.TransportError:
            if attempt == attempts:
                raise BadGateway(f"The {service} service is not answering.") from None
    answer_headers = {name: value for name, value in upstream.headers.items() if name not in HOP_BY_HOP}
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=answer_headers,
        background=BackgroundTask(upstream.aclose),
    )


router = APIRouter()
for prefix in ROUTES:
    router.add_api_route(f"/{prefix}", forward, methods=METHODS, include_in_schema=False)
    router.add_api_route(f"/{prefix}/{{rest:path}}", forward, methods=METHODS, include_in_schema=False)
