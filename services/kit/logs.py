"""JSON logs that never hold personal data.

What may be logged: identifiers (UUIDs, event ids, request ids), the method and
the path of a request (never its query string, which can carry an NHS number),
status codes, timings and exception types. What may not: names, dates of birth,
addresses, answers, or any message that quotes a caller's input. Exceptions are
logged as their type and stack frames only, because messages (a database error
quoting its parameters, a validation error quoting a value) can hold such data.
"""

import logging
import sys
import time
import traceback
from types import TracebackType
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from starlette.types import Message, Receive, Scope, Send

from services.kit.asgi import HttpMiddleware
from services.kit.requestid import current_request_id

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


_TRACEBACK = "Traceback (most recent call last):"


def _without_messages(traceback_text: str) -> str:
    """A formatted traceback cut down to its frames and exception types."""
    kept = []
    for line in traceback_text.splitlines():
        if line.startswith("  File "):
            kept.append(line.strip())
        elif line and not line.startswith(" ") and not line.startswith(_TRACEBACK):
            kept.append(line.split(":", 1)[0])  # "sqlite3.IntegrityError: ...": the type only
    return " | ".join(kept)


class _ContextFilter(logging.Filter):
    """Adds the service and request id, and strips tracebacks that others logged as text.

    uvicorn logs a failed start-up as a preformatted traceback in the message,
    which quotes the exception (and so, for a database error, its parameters).
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = current_request_id()
        if isinstance(record.msg, str) and _TRACEBACK in record.msg:
            record.msg, record.args = _without_messages(record.getMessage()), ()
        return True


class PrivacyJsonFormatter(JsonFormatter):
    """Formats exceptions without their messages."""

    def formatException(self, ei: ExcInfo) -> str:  # noqa: N802 (logging's name)
        exc_type, _, tb = ei
        frames = [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(tb)]
        name = exc_type.__qualname__ if exc_type else "Exception"
        return " <- ".join([name, *reversed(frames)])


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now, not what it was at start (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = _StderrHandler()
    handler.setFormatter(
        PrivacyJsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "exc_info": "error"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log and httpx's request log print whole URLs, query strings
    # included; AccessLogMiddleware logs requests without them.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


access_logger = logging.getLogger("access")


class AccessLogMiddleware(HttpMiddleware):
    """One line per request: method, path without query, status, duration."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            fields: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            access_logger.info("request", extra=fields)
