"""The HTTP driver: a partner system's requests through the gateway, as each demo organisation's API client.

A request answered 429 waits as `Retry-After` says and goes again; any other answer
than the one expected stops the run with the problem's type, title and detail.
"""

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN_MARGIN_SECONDS = 60.0  # fetch a new token this long before the old one runs out
MAX_THROTTLED_TRIES = 120


class LoadFailed(Exception):
    """An answer the loader did not expect, told by the problem document's type, title and detail alone."""

    @classmethod
    def of(cls, response: httpx.Response) -> "LoadFailed":
        try:
            problem = response.json()
        except ValueError:
            problem = None
        problem = problem if isinstance(problem, dict) else {}
        request = response.request
        told = " | ".join(str(problem.get(part, "-")) for part in ("type", "title", "detail"))
        hint = ""
        if str(problem.get("type", "")).endswith(":family-exists"):
            hint = " (this seed's families are already in this stack: choose another --seed)"
        return cls(f"{request.method} {request.url.path} answered {response.status_code}: {told}{hint}")


@dataclass
class Client:
    """A demo organisation's API client; its token is fetched again before it runs out."""

    type: str
    organisation: str
    client_id: str
    secret: str
    organisation_id: str = ""
    token: str = ""
    expires_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def token_claims(token: str) -> dict[str, Any]:
    """The JWT's payload, unverified: the loader only wants its own organisation's id from it."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


class Gateway:
    """Requests through the gateway, at most `concurrency` at once, each retried while it answers 429."""

    def __init__(self, http: httpx.AsyncClient, concurrency: int) -> None:
        self.http = http
        self.slots = asyncio.Semaphore(concurrency)
        self.requests = 0
        self.throttled = 0

    async def send(self, method: str, path: str, expect: int, **options: Any) -> httpx.Response:
        for _ in range(MAX_THROTTLED_TRIES):
            async with self.slots:
                response = await self.http.request(method, path, **options)
            self.requests += 1
            if response.status_code != 429:
                break
            self.throttled += 1
            try:
                wait = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                wait = 1.0
            await asyncio.sleep(wait)
        if response.status_code != expect:
            raise LoadFailed.of(response)
        return response

    async def bearer(self, client: Client) -> str:
        async with client.lock:
            if time.monotonic() > client.expires_at - TOKEN_MARGIN_SECONDS:
                answer = (
                    await self.send(
                        "POST", "/oauth/token", 200,
                        data={"grant_type": "client_credentials"}, auth=(client.client_id, client.secret),
                    )
                ).json()  # fmt: skip
                client.token, client.expires_at = answer["access_token"], time.monotonic() + answer["expires_in"]
                client.organisation_id = str(token_claims(client.token)["org"])
        return client.token

    async def call(
        self, client: Client, method: str, path: str, expect: int = 200, *, version: int | None = None, **options: Any
    ) -> Any:
        """The answer's JSON; `version` is sent as `If-Match`."""
        headers = {"Authorization": f"Bearer {await self.bearer(client)}"}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        return (await self.send(method, path, expect, headers=headers, **options)).json()
