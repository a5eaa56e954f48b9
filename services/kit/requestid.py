"""One request id per unit of work, carried across HTTP calls, into events and logs.

The id arrives in `X-Request-ID` (or is made here), lives in a context variable
for the rest of the request, goes out on every httpx call through
`propagate_request_id`, and is stamped on every event the request writes.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from services.kit.asgi import HttpMiddleware

HEADER = "X-Request-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def request_id_scope(request_id: str | None) -> Iterator[str]:
    """Run a block (an event handler, a background job) under a request id."""
    value = request_id if request_id and _VALID.match(request_id) else new_request_id()
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


async def propagate_request_id(request: httpx.Request) -> None:
    """httpx request hook: forward the current request id to the next service."""
    request_id = current_request_id()
    if request_id and HEADER not in request.headers:
        request.headers[HEADER] = request_id


class RequestIdMiddleware(HttpMiddleware):
    """Takes the caller's request id, or makes one, and returns it on the answer."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        with request_id_scope(incoming) as request_id:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    MutableHeaders(scope=message)[HEADER] = request_id
                await send(message)

            await self.app(scope, receive, send_with_id)
