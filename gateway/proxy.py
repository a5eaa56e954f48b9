"""Routes the public paths to the services that own them, over one long-lived client.

The upstream calls use aiohttp rather than the httpx client the rest of the
system uses: measured here, an httpx proxy spent about 3.4 ms of CPU per
request against 0.7 ms for aiohttp, which alone kept the gateway far from its
aims (under 2 ms added, at least 0.6 of direct throughput). Small answers are
read whole; larger ones stream back. Hop-by-hop headers stay behind; everything
else goes through, `Idempotency-Key`, `If-Match`, `ETag`, `Location` and
`Retry-After` included, and the request id and trace context go on as the
gateway's own. A
service that cannot be reached answers 502, one too slow 504; a read is tried a
second time first.
"""

import re
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import unquote

import aiohttp
from fastapi import APIRouter, Depends, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse
from yarl import URL

from gateway.config import GatewaySettings
from gateway.ratelimit import RateLimiter
from services.kit.auth import Principal, current_principal
from services.kit.problems import BadGateway, BadRequest, GatewayTimeout
from services.kit.requestid import HEADER as REQUEST_ID_HEADER
from services.kit.requestid import current_request_id
from services.kit.settings import HttpSettings
from services.kit.tracing import TRACEPARENT, current_traceparent

# The first segment of a public path, and the service that owns it.
ROUTES: dict[str, str] = {
    "forms": "assessment",
    "families": "assessment",
    "assessments": "assessment",
    "requests-for-support": "assessment",
    "consents": "consent",
    "agreements": "consent",
    "access-decisions": "consent",
    "access-requests": "consent",
    "safeguarding-overrides": "consent",
    "audit": "consent",
    "plans": "plan",
    "reports": "plan",
    "social-care-referrals": "plan",
    "supporting-families": "plan",
    "subscriptions": "notifications",
}
# Paths under another service's prefix, and the service that owns them: looked at before `ROUTES`.
NESTED_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/families/[^/]+/social-care-referrals(/|$)"), "plan"),
    (re.compile(r"/reports/front-door(/|$)"), "assessment"),  # the front door's requests and decisions are there
)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
# Passed on as well, so that the service that owns the path answers 405 naming the methods it allows.
FORWARDED_METHODS = [*METHODS, "OPTIONS", "TRACE", "QUERY"]
RETRIED = frozenset({"GET", "HEAD"})
UPSTREAM_KEEPALIVE_SECONDS = 2.0
READ_WHOLE_UP_TO = 64 * 1024
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
        "traceparent",  # replaced by the gateway's own span, when tracing is on: a trace starts here
        "tracestate",
    }
)


def service_of(path: str) -> str | None:
    """The service that owns a public path, or None when none does."""
    for pattern, service in NESTED_ROUTES:
        if pattern.match(path):
            return service
    return ROUTES.get(path.split("/", 2)[1])


def upstream_session(settings: HttpSettings) -> aiohttp.ClientSession:
    """The gateway's one client for the services: no cookies kept, bodies passed on as they come."""
    return aiohttp.ClientSession(
        # Idle connections are dropped before uvicorn's own 5 s keep-alive ends them: a POST sent on one the
        # service was closing failed with a disconnect, and is not retried, so the partner got a 502.
        connector=aiohttp.TCPConnector(keepalive_timeout=UPSTREAM_KEEPALIVE_SECONDS),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(
            total=None, connect=settings.connect_timeout_seconds, sock_read=settings.client_timeout_seconds
        ),
    )


async def rate_limited_principal(request: Request) -> Principal:
    principal = await current_principal(request)
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.take(f"client:{principal.subject}")
    return principal


async def _request_body(request: Request) -> bytes | AsyncIterator[bytes] | None:
    if "content-length" in request.headers:
        return await request.body()  # at most the body limit, which the guard enforced
    if "transfer-encoding" in request.headers:
        return request.stream()
    return None


def proxied_path(request: Request) -> str:
    """The path as the client sent it, refused with 400 when it could reach another place than it names.

    An encoded slash or backslash, or a segment that is or decodes to `.` or `..`, would let
    `/families/%2E%2E/internal/...` reach a path the gateway never routes; no public path needs one.
    """
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1")
    encoded_separator = any(code in path.lower() for code in ("%2f", "%5c")) or "\\" in path
    if encoded_separator or any(unquote(segment) in {".", ".."} for segment in path.split("/")):
        raise BadRequest("The path holds an encoded slash or a dot segment; send the path of the resource itself.")
    return path


async def forward(request: Request, _principal: Annotated[Principal, Depends(rate_limited_principal)]) -> Response:
    settings: GatewaySettings = request.app.state.settings
    session: aiohttp.ClientSession = request.app.state.upstream
    path = proxied_path(request)
    service = service_of(path)
    assert service is not None  # the router routes only the prefixes of `ROUTES`
    # Passed on as it came (already encoded), so the client library neither decodes nor normalises it again.
    url = URL(
        settings.upstream.by_name()[service] + path + (f"?{request.url.query}" if request.url.query else ""),
        encoded=True,
    )
    headers = [(name, value) for name, value in request.headers.items() if name not in HOP_BY_HOP]
    headers.append((REQUEST_ID_HEADER, current_request_id() or ""))
    if (traceparent := current_traceparent()) is not None:
        headers.append((TRACEPARENT, traceparent))
    body = await _request_body(request)
    attempts = 2 if request.method in RETRIED else 1
    for attempt in range(1, attempts + 1):
        try:
            upstream = await session.request(request.method, url, headers=headers, data=body, allow_redirects=False)
            break
        except TimeoutError:
            if attempt == attempts:
                raise GatewayTimeout(f"The {service} service did not answer in time.") from None
        except aiohttp.ClientError:
            if attempt == attempts:
                raise BadGateway(f"The {service} service is not answering.") from None
    answer_headers = {name: value for name, value in upstream.headers.items() if name.lower() not in HOP_BY_HOP}
    if upstream.content_length is not None and upstream.content_length <= READ_WHOLE_UP_TO:
        try:
            content = await upstream.read()
        except (TimeoutError, aiohttp.ClientError):
            raise BadGateway(f"The {service} service broke off its answer.") from None
        finally:
            upstream.release()
        return Response(content, status_code=upstream.status, headers=answer_headers)
    return StreamingResponse(
        upstream.content.iter_any(),
        status_code=upstream.status,
        headers=answer_headers,
        background=BackgroundTask(upstream.release),
    )


router = APIRouter()
for prefix in ROUTES:
    router.add_api_route(f"/{prefix}", forward, methods=FORWARDED_METHODS, include_in_schema=False)
    router.add_api_route(f"/{prefix}/{{rest:path}}", forward, methods=FORWARDED_METHODS, include_in_schema=False)
