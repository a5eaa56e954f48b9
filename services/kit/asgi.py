"""The base of the kit's middleware: pure ASGI, acting on HTTP and passing the rest through.

Pure ASGI rather than Starlette's BaseHTTPMiddleware, which runs the app in
another task and so breaks context variables such as the request id.
"""

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
