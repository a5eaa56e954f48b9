"""The front end's calls to the services: the public API, as the signed-in staff member.

Pages use the same paths and checks as a partner system: each call carries a
short-lived token naming the staff member, their organisation and the scopes
of their roles, so every service decides access, and audits the read, as it
would for any caller. The front end holds no copy of a family's data.
"""

from dataclasses import dataclass
from typing import Any

import aiohttp
from fastapi import Request

from gateway.config import GatewaySettings
from gateway.frontend.sessions import SignedIn
from gateway.keys import SigningKeys
from gateway.oauth import access_token
from gateway.proxy import service_of
from gateway.scopes import staff_scope
from services.kit.requestid import HEADER as REQUEST_ID_HEADER
from services.kit.requestid import current_request_id

TOKEN_SECONDS = 300  # each page mints its own; it need outlive only the page's calls


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    etag: str | None


class ServiceProblem(Exception):
    """A service refused: its problem document, for the page to explain."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("title", "The service refused"))
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "Something went wrong.")

    def errors(self, prefix: str = "") -> dict[str, str]:
        """The failing places, pointers relative to `prefix`, one message each."""
        found: dict[str, str] = {}
        for error in self.problem.get("errors") or []:
            # A body's fields are named by JSON pointer; a query parameter by its name.
            pointer = str(error.get("pointer") or "/" + str(error.get("parameter", "")))
            if pointer.startswith(prefix):
                found.setdefault(pointer[len(prefix) :], str(error.get("detail", "")))
        return found


class ServiceUnavailable(Exception):
    def __init__(self, service: str) -> None:
        super().__init__(f"The {service} service is not answering.")
        self.service = service


class StaffCalls:
    def __init__(self, request: Request, signed_in: SignedIn) -> None:
        self._settings: GatewaySettings = request.app.state.settings
        self._keys: SigningKeys = request.app.state.signing_keys
        self._session: aiohttp.ClientSession = request.app.state.upstream
        self._signed_in = signed_in
        self._token: str | None = None

    def _bearer(self) -> str:
        if self._token is None:
            self._token = access_token(
                self._keys.signing_key(),
                self._settings,
                subject=self._signed_in.user_id,
                organisation=(self._signed_in.organisation_id, self._signed_in.organisation_type),
                organisation_roles=self._signed_in.organisation_roles,
                scope=staff_scope(self._signed_in.roles),
                ttl=TOKEN_SECONDS,
            )
        return f"Bearer {self._token}"

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        if_match: str | None = None,
        accept: str | None = None,
    ) -> Answer:
        """One call; a refusal raises `ServiceProblem`, a service away `ServiceUnavailable`.

        A 401 is tried once more with a token minted afresh, as `ServiceToken.request` does: a
        token refused before its time (a key rotated while the page was built) is not kept for
        the page's other calls. A 401 comes before the service acts, so trying again is safe.
        """
        service = service_of(path)
        assert service is not None, path  # the front end calls only paths the gateway routes
        url = self._settings.upstream.by_name()[service] + path
        answer = await self._send(service, method, url, json=json, params=params, if_match=if_match, accept=accept)
        if answer.status == 401:
            self._token = None
            answer = await self._send(service, method, url, json=json, params=params, if_match=if_match, accept=accept)
        if answer.status >= 400:
            raise ServiceProblem(answer.status, answer.body if isinstance(answer.body, dict) else {})
        return answer

    async def _send(
        self,
        service: str,
        method: str,
        url: str,
        *,
        json: Any,
        params: dict[str, str] | None,
        if_match: str | None,
        accept: str | None,
    ) -> Answer:
        headers = {"Authorization": self._bearer(), REQUEST_ID_HEADER: current_request_id() or ""}
        if if_match:
            headers["If-Match"] = if_match
        if accept:
            headers["Accept"] = accept
        try:
            async with self._session.request(method, url, json=json, params=params, headers=headers) as response:
                if accept and response.status < 400 and response.content_type == accept:
                    body = await response.text()  # what was asked for, as it came: a CSV, say
                elif response.content_length != 0:
                    body = await response.json(content_type=None)
                else:
                    body = None
                return Answer(response.status, body, response.headers.get("ETag"))
        except (TimeoutError, aiohttp.ClientError, ValueError):
            raise ServiceUnavailable(service) from None

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return (await self.call("GET", path, params=params)).body

    async def text(self, path: str, params: dict[str, str], media_type: str) -> str:
        """A representation other than JSON, asked for with `Accept` (a report's CSV), as the service wrote it."""
        body = (await self.call("GET", path, params=params, accept=media_type)).body
        if not isinstance(body, str):  # answered in JSON all the same: not the download that was asked for
            raise ServiceProblem(502, {"detail": f"The service did not answer in {media_type}. Try again later."})
        return body

    async def post(self, path: str, json: Any = None) -> Any:
        return (await self.call("POST", path, json=json if json is not None else {})).body
