"""RFC 9457 problem documents for every error a service answers.

The service layer raises a `ServiceError` subclass; the handlers installed by
`install_problem_handlers` render it, FastAPI's validation errors, Starlette's
HTTP errors and anything unexpected as `application/problem+json`. A problem's
`detail` never repeats what the caller sent: it may hold personal data.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from services.kit.asgi import HttpMiddleware
from services.kit.requestid import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:graduated-pathway:problem:"

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """An expected failure, with the HTTP status and problem type it maps to."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal server error"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}
        # Written in a transaction of their own once the request's is rolled back: what a refusal must leave behind.
        self.kept: list[Callable[[AsyncSession], None]] = []


class BadRequest(ServiceError):
    status, slug, title = 400, "bad-request", "Bad request"


class MalformedJson(ServiceError):
    status, slug, title = 400, "malformed-json", "The request body is not valid JSON"


class UnencodableText(ServiceError):
    status, slug, title = 400, "invalid-unicode", "The body holds text that is not valid Unicode"


class Unauthorized(ServiceError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(ServiceError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(ServiceError):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(ServiceError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class Conflict(ServiceError):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class PreconditionFailed(ServiceError):
    status, slug, title = 412, "precondition-failed", "The resource has changed"


class PayloadTooLarge(ServiceError):
    status, slug, title = 413, "payload-too-large", "The request body is too large"


class UnsupportedMediaType(ServiceError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported content type"


class ValidationFailed(ServiceError):
    status, slug, title = 422, "validation-failed", "The request is not valid"


class PreconditionRequired(ServiceError):
    status, slug, title = 428, "precondition-required", "If-Match is required"


class TooManyRequests(ServiceError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class BadGateway(ServiceError):
    status, slug, title = 502, "bad-gateway", "A service behind the gateway did not answer"


class GatewayTimeout(ServiceError):
    status, slug, title = 504, "gateway-timeout", "A service behind the gateway was too slow"


class ServiceUnavailable(ServiceError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


_BY_STATUS: dict[int, type[ServiceError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        PreconditionRequired,
        TooManyRequests,
        BadGateway,
        ServiceUnavailable,
        GatewayTimeout,
    )
}


class Problem(BaseModel):
    """An RFC 9457 problem document, as every error is answered."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, str]] | None = Field(
        default=None, description="for a request that is not valid: each failing `pointer` or `parameter`, and why"
    )


def problem_body(error: ServiceError, instance: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": TYPE_PREFIX + error.slug, "title": error.title, "status": error.status}
    if error.detail:
        body["detail"] = error.detail
    if instance:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(error.extensions)
    return body


def problem_response(error: ServiceError, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem_body(error, instance), status_code=error.status, media_type=PROBLEM_MEDIA_TYPE, headers=error.headers
    )


def json_pointer(path: Sequence[int | str]) -> str:
    """RFC 6901 pointer to a location in the request body."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _validation_problem(exc: RequestValidationError) -> ServiceError:
    errors: list[dict[str, Any]] = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return MalformedJson("The body could not be parsed as JSON.")
        where, *path = error.get("loc", ()) or ("body",)
        entry: dict[str, Any] = {"detail": error.get("msg", "invalid")}
        if where == "body":
            entry["pointer"] = json_pointer(path)
        else:
            entry["parameter"] = ".".join(str(part) for part in path)
            entry["in"] = where
        errors.append(entry)
    return ValidationFailed("One or more fields are not valid.", errors=errors)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return problem_response(exc, request.url.path)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_validation_problem(exc), request.url.path)


async def _unencodable_text(request: Request, exc: Exception) -> JSONResponse:
    # JSON may escape half of a surrogate pair (\ud800) on its own; Python keeps it, and the
    # first thing to encode the string (a validator, the database, the answer) fails on it.
    error = UnencodableText("A string holds an unpaired surrogate escape (\\ud800 to \\udfff); send whole characters.")
    return problem_response(error, request.url.path)


def _allowed_methods(request: Request) -> str:
    """Every method some route of the path answers.

    Starlette's 405 names only the methods of the first route whose path matched, so
    `POST /things` next to `GET /things` would be said to allow POST alone.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = _BY_STATUS.get(exc.status_code, BadRequest)()
    error.status = exc.status_code
    if exc.headers:
        error.headers = dict(exc.headers)
    if exc.status_code == 405:
        error.headers["Allow"] = _allowed_methods(request)
    return problem_response(error, request.url.path)


class UnhandledErrorMiddleware(HttpMiddleware):
    """Turns an exception no handler took into a 500 problem, inside the request's scope.

    Starlette would answer it from its outermost middleware, where the request
    id is already gone from the answer, its header and the log line. The
    message may carry data the caller sent (a database error quotes its
    parameters), so the log formatter keeps only the type and the stack.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            logger.error("unhandled error", exc_info=error)
            if started:
                raise
            await problem_response(ServiceError(), scope.get("path"))(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UnicodeEncodeError, _unencodable_text)
