"""Bearer tokens, verified by each service itself, turned into a `Principal`.

A token whose subject or organisation was revoked after it was issued is
refused too (`services.kit.revocation`), however long it has left to live.

Keys come from the issuer's JWKS (the gateway's, or an external identity
provider's), cached and fetched again when a token names a key id not yet
seen, at most once per `jwks_min_refresh_seconds` so that made-up key ids
cannot turn into a flood of fetches. joserfc does the JOSE work; it refuses
`alg: none` and any algorithm not named in settings.
"""

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends, Request
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from services.kit.problems import Forbidden, ServiceUnavailable, Unauthorized
from services.kit.revocation import Revocations
from services.kit.settings import AuthSettings


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API client or a staff member, and their organisation."""

    subject: str
    organisation_id: str
    organisation_type: str
    scopes: frozenset[str]
    token_id: str | None = None
    # Standing the organisation holds on the platform, set by its administrator (e.g. "coordinator").
    organisation_roles: frozenset[str] = frozenset()
    # The bearer token itself, so that a service can ask another on the caller's behalf (never logged).
    token: str = field(default="", repr=False, compare=False)
    issued_at: float | None = None  # the token's `iat`, which a revocation is compared with


class InvalidToken(Unauthorized):
    slug, title = "invalid-token", "The access token is not valid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{detail}"'}


class MissingToken(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Send an access token: Authorization: Bearer <token>.")
        self.headers = {"WWW-Authenticate": 'Bearer realm="graduated-pathway"'}


class MissingScope(Forbidden):
    slug, title = "insufficient-scope", "The token lacks a scope this needs"

    def __init__(self, scope: str) -> None:
        super().__init__(f"This needs the scope '{scope}'.", missing_scope=scope)
        self.headers = {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'}


class KeySource(Protocol):
    async def key_set(self, *, refresh: bool = False) -> KeySet: ...


class JwksCache:
    """The issuer's published keys, fetched over HTTP and kept for a while."""

    def __init__(self, settings: AuthSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        age = time.monotonic() - self._fetched_at
        stale = age > self.settings.jwks_cache_seconds
        if self._keys is None or stale or (refresh and age > self.settings.jwks_min_refresh_seconds):
            try:
                response = await self.client.get(self.settings.jwks_url, timeout=5.0)
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, JoseError) as error:
                if self._keys is None:
                    raise ServiceUnavailable("The token issuer's keys cannot be fetched.") from error
            self._fetched_at = time.monotonic()
        return self._keys


class TokenVerifier:
    """Checks tokens, and remembers the ones it accepted until they expire.

    A partner sends the same token for many requests; checking its ES256
    signature each time cost about 0.2 ms of CPU per request. A remembered token
    is still refused once its `exp` has passed.
    """

    REMEMBERED_AT_MOST = 10_000

    def __init__(self, settings: AuthSettings, keys: KeySource, revocations: Revocations | None = None) -> None:
        self.settings = settings
        self.keys = keys
        self.revocations = revocations or Revocations()
        self._accepted: dict[str, tuple[Principal, float]] = {}  # token -> (principal, expiry)
        self._claims = JWTClaimsRegistry(
            leeway=settings.leeway_seconds,
            iss={"essential": True, "value": settings.issuer},
            aud={"essential": True, "value": settings.audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    async def verify(self, token: str) -> Principal:
        principal = await self._signed(token)
        if self.revocations.refuses(principal.subject, principal.organisation_id, principal.issued_at):
            raise InvalidToken("The token's client, staff member or organisation has been disabled.")
        return principal

    async def _signed(self, token: str) -> Principal:
        remembered = self._accepted.get(token)
        if remembered is not None:
            principal, expires_at = remembered
            if time.time() < expires_at + self.settings.leeway_seconds:
                return principal
            del self._accepted[token]
        principal, expires_at = await self._check(token)
        if len(self._accepted) >= self.REMEMBERED_AT_MOST:
            self._accepted.clear()
        self._accepted[token] = (principal, expires_at)
        return principal

    async def _check(self, token: str) -> tuple[Principal, float]:
        try:
            try:
                decoded = jwt.decode(token, await self.keys.key_set(), algorithms=self.settings.algorithms)
            except InvalidKeyIdError:
                decoded = jwt.decode(token, await self.keys.key_set(refresh=True), algorithms=self.settings.algorithms)
            self._claims.validate(decoded.claims)
        except ExpiredTokenError:
            raise InvalidToken("The token has expired.") from None
        except JoseError as error:
            reason = f"{error.error}: {error.description}" if error.description else error.error
            raise InvalidToken(f"The token was refused ({reason}).") from None
        except ValueError:
            raise InvalidToken("The token is malformed.") from None
        return self._principal(decoded.claims, token), float(decoded.claims["exp"])

    def _principal(self, claims: dict[str, Any], token: str) -> Principal:
        organisation = claims.get(self.settings.org_claim)
        organisation_type = claims.get(self.settings.org_type_claim)
        if not isinstance(organisation, str) or not isinstance(organisation_type, str):
            raise InvalidToken("The token names no organisation.")
        scopes = claims.get(self.settings.scope_claim, "")
        if isinstance(scopes, str):
            scope_list = scopes.split()
        elif isinstance(scopes, list) and all(isinstance(scope, str) for scope in scopes):
            scope_list = scopes  # as some identity providers send them
        else:
            raise InvalidToken("The token's scope claim is neither a string nor a list of strings.")
        token_id = claims.get("jti")
        issued_at = claims.get("iat")
        roles = claims.get(self.settings.org_roles_claim, [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise InvalidToken("The token's organisation roles are not a list of strings.")
        return Principal(
            subject=str(claims["sub"]),
            organisation_id=organisation,
            organisation_type=organisation_type,
            scopes=frozenset(scope_list),
            token_id=token_id if isinstance(token_id, str) else None,
            token=token,
            organisation_roles=frozenset(roles),
            issued_at=float(issued_at) if isinstance(issued_at, int | float) else None,
        )


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingToken()
    return token.strip()


async def current_principal(request: Request) -> Principal:
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(bearer_token(request))
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_scope(scope: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets the request through only with `scope`; 403 naming it otherwise."""

    async def check(principal: PrincipalDep) -> Principal:
        if scope not in principal.scopes:
            raise MissingScope(scope)
        return principal

    return check
