"""A token for a service acting as itself: OAuth2 client credentials, kept until it nearly expires.

Written here rather than taken from authlib's httpx integration, which now
builds on `httpx2` while every service shares one `httpx` client: what is
needed is one POST and a cached answer.
"""

import asyncio
import time
from typing import Any

import httpx

from services.kit.problems import ServiceUnavailable
from services.kit.settings import ServiceClientSettings

RENEW_BEFORE_SECONDS = 60.0


class ServiceToken:
    def __init__(self, http: httpx.AsyncClient, settings: ServiceClientSettings, scope: str = "service") -> None:
        self.http = http
        self.settings = settings
        self.scope = scope
        self._token = ""
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def headers(self) -> dict[str, str]:
        """`Authorization` for a call as this service; 503 when the token endpoint cannot be reached."""
        return {"Authorization": f"Bearer {await self.bearer()}"}

    async def bearer(self) -> str:
        """The token itself, fetched afresh when it nearly expires."""
        async with self._lock:
            if time.monotonic() >= self._renew_at:
                await self._fetch()
        return self._token

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A call as this service; a 401 (a rotated key, a renewed client) is tried once more with a fresh token.

        Transport errors propagate as httpx's own, for the caller to say what could not be reached.
        """
        response = await self.http.request(method, url, headers=await self.headers(), **kwargs)
        if response.status_code == 401:
            self.forget()
            response = await self.http.request(method, url, headers=await self.headers(), **kwargs)
        return response

    def forget(self) -> None:
        """Fetch afresh next time: for a token refused before its time (a rotated key, a disabled client)."""
        self._renew_at = 0.0

    async def _fetch(self) -> None:
        if not self.settings.id:
            raise ServiceUnavailable("This service has no client credentials (SERVICE_CLIENT_ID) to call others with.")
        started = time.monotonic()
        try:
            response = await self.http.post(
                self.settings.token_url,
                data={"grant_type": "client_credentials", "scope": self.scope},
                auth=(self.settings.id, self.settings.secret),
            )
            response.raise_for_status()
            answer = response.json()
            token, lifetime = str(answer["access_token"]), float(answer.get("expires_in", 300))
        except (httpx.HTTPError, ValueError, KeyError) as error:
            raise ServiceUnavailable("This service could not get a token to call another with.") from error
        self._token = token
        self._renew_at = started + max(lifetime - RENEW_BEFORE_SECONDS, lifetime / 2)
