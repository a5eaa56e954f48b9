"""Pure ASGI middleware that refuses request bodies a service will not read.

Every check runs before routing, so an oversized, mistyped or too deeply nested
body is refused the same way on every path, known or not, and never reaches a
handler.
"""

import re
from array import array
from collections.abc import Collection
from itertools import accumulate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.asgi import HttpMiddleware
from services.kit.problems import BadRequest, PayloadTooLarge, ServiceError, UnsupportedMediaType, problem_response

JSON_MEDIA_TYPES = frozenset({"application/json"})

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes


class JsonTooDeep(BadRequest):
    slug, title = "json-too-deep", "The JSON body is nested too deeply"


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects: 0 for a scalar, 1 for `{"a": 1}`.

    Brackets inside strings do not count. Computed without parsing, in C-speed
    steps, so that a body too deep for a parser or a validator to recurse through
    is measured safely before either sees it.
    """
    steps = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS).translate(_BRACKET_STEPS)
    return max(accumulate(array("b", steps)), default=0)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_accepted(media_type: str, accepted: Collection[str]) -> bool:
    return media_type in accepted or (media_type.startswith("application/") and media_type.endswith("+json"))


def _has_body(headers: dict[str, str]) -> bool:
    length = headers.get("content-length")
    return (length is not None and length.isdigit() and int(length) > 0) or "transfer-encoding" in headers


class BodyGuardMiddleware(HttpMiddleware):
    """Answers 413 past `max_body_bytes`, 415 for a body of a type not accepted, and 400 for JSON nested
    deeper than `max_json_depth` (0: no limit).

    A JSON body is read whole (it is at most `max_body_bytes`) and measured before the
    app sees it: Python's parser, pydantic and jsonschema-rs each recurse, and each
    fails in its own way somewhere between a few hundred and a few thousand levels.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        accepted_media_types: Collection[str],
        max_json_depth: int = 0,
    ) -> None:
        super().__init__(app)
        self.max_body_bytes = max_body_bytes
        self.accepted = frozenset(accepted_media_types)
        self.max_json_depth = max_json_depth

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        refusal = self._refusal(headers)
        if refusal is not None:
            await problem_response(refusal, scope.get("path"))(scope, receive, send)
            return
        if (
            self.max_json_depth
            and _has_body(headers)
            and _is_accepted(_media_type(headers.get("content-type", "")), JSON_MEDIA_TYPES)
        ):
            await self._measure_json(scope, receive, send)
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

    async def _measure_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending the whole body: there is no one to answer
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                too_large = PayloadTooLarge(f"The body is over {self.max_body_bytes} bytes.")
                await problem_response(too_large, scope.get("path"))(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        # Most bodies open fewer brackets than the limit and cannot be too deep: counting is cheaper than measuring.
        openers = body.count(b"[") + body.count(b"{")
        depth = json_depth(body) if openers > self.max_json_depth else 0
        if depth > self.max_json_depth:
            too_deep = JsonTooDeep(
                f"The body nests objects and arrays {depth} levels deep; at most {self.max_json_depth} are accepted."
            )
            await problem_response(too_deep, scope.get("path"))(scope, receive, send)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # what follows the body: a disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _refusal(self, headers: dict[str, str]) -> ServiceError | None:
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return BadRequest("Content-Length is not a number.")
            if int(length) > self.max_body_bytes:
                return PayloadTooLarge(f"The body is over {self.max_body_bytes} bytes.")
        content_type = headers.get("content-type")
        if _has_body(headers) and not (content_type and _is_accepted(_media_type(content_type), self.accepted)):
            return UnsupportedMediaType(f"Send the body as one of: {', '.join(sorted(self.accepted))}.")
        return None
