"""Pure ASGI middleware that refuses request bodies a service will not read.

Both checks run before routing, so an oversized or mistyped body is refused the
same way on every path, known or not, and never reaches a handler.
"""

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.asgi import HttpMiddleware
from services.kit.problems import BadRequest, PayloadTooLarge, ServiceError, UnsupportedMediaType, problem_response

JSON_MEDIA_TYPES = frozenset({"application/json"})


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_accepted(media_type: str, accepted: Collection[str]) -> bool:
    return media_type in accepted or (media_type.startswith("application/") and media_type.endswith("+json"))


class BodyGuardMiddleware(HttpMiddleware):
    """Answers 413 past `max_body_bytes` and 415 for a body of a type not accepted."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, accepted_media_types: Collection[str]) -> None:
        super().__init__(app)
        self.max_body_bytes = max_body_bytes
        self.accepted = frozenset(accepted_media_types)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        refusal = self._refusal(headers)
        if refusal is not None:
            await problem_response(refusal, scope.get("path"))(scope, receive, send)
            return

        # A body without Content-Length is counted as it arrives. Past the limit,
        # reading fails, and whatever the app then answers (FastAPI makes it a
        # 400) is replaced by the 413 it should be.
        received = 0
        too_large: PayloadTooLarge | None = None
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = PayloadTooLarge(f"The body is over {self.max_body_bytes} bytes.")
                    raise too_large
            return message

        async def answer_too_large(message: Message) -> None:
            nonlocal answered
            if too_large is None:
                await send(message)
            elif not answered:
                answered = True
                await problem_response(too_large, scope.get("path"))(scope, receive, send)

        try:
            await self.app(scope, counting_receive, answer_too_large)
        except PayloadTooLarge:
            if not answered:
                await answer_too_large({"type": "http.response.start"})

    def _refusal(self, headers: dict[str, str]) -> ServiceError | None:
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return BadRequest("Content-Length is not a number.")
            if int(length) > self.max_body_bytes:
                return PayloadTooLarge(f"The body is over {self.max_body_bytes} bytes.")
        has_body = (length is not None and int(length) > 0) or "transfer-encoding" in headers
        content_type = headers.get("content-type")
        if has_body and not (content_type and _is_accepted(_media_type(content_type), self.accepted)):
            return UnsupportedMediaType(f"Send the body as one of: {', '.join(sorted(self.accepted))}.")
        return None
