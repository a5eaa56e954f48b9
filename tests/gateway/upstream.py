"""A service stand-in that tells what reached it: the gateway's routing is tested
against real HTTP before the services' own public endpoints exist."""

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


def create_echo_app() -> FastAPI:
    app = FastAPI()
    app.state.calls = []

    @app.api_route("/plans/slow", methods=["GET", "POST"])
    async def slow(request: Request) -> Response:
        app.state.calls.append(request.method)
        await asyncio.sleep(5)
        return Response(status_code=204)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(path: str, request: Request) -> JSONResponse:
        body = await request.body()
        app.state.calls.append(request.method)
        return JSONResponse(
            {
                "method": request.method,
                "path": f"/{path}",
                "query": request.url.query,
                "headers": dict(request.headers),
                "body_length": len(body),
            },
            status_code=201 if request.method == "POST" else 200,
            headers={"ETag": '"v7"', "Location": f"/{path}/1", "Retry-After": "3", "Connection": "close"},
        )

    return app
