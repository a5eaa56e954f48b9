"""`POST /oauth/token` (the client-credentials grant) and the documents that describe it.

The grant runs on authlib's `AuthorizationServer`, which has no FastAPI
integration and whose hooks are synchronous. So the async work comes first
(reading the form, loading the client and the signing key, and checking the
secret: with argon2 on the gateway's bounded `HashingPool` unless the secret is
remembered), and the grant then runs on that snapshot.
"""

import base64
import binascii
import hmac
import time
import uuid
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.datastructures import Headers

from gateway import service
from gateway.config import GatewaySettings
from gateway.credentials import HashingPool, is_remembered, verify_secret
from gateway.keys import ALGORITHM, SigningKeys
from gateway.models import ApiClient, Organisation
from gateway.ratelimit import RateLimiter
from gateway.schemas import TokenOut
from gateway.scopes import SCOPES
from services.kit.db import SessionDep
from services.kit.openapi import problems
from services.kit.problems import PROBLEM_MEDIA_TYPE, TYPE_PREFIX
from services.kit.requestid import current_request_id

AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class TokenClient(ClientMixin):  # type: ignore[misc]
    """An API client as authlib sees it."""

    def __init__(self, client: ApiClient, organisation: Organisation, verified_secret: str | None) -> None:
        self.client = client
        self.organisation = organisation
        self.scopes = client.scopes.split()
        self._verified_secret = verified_secret  # the secret the request sent, once checked against the hash

    def get_client_id(self) -> str:
        return self.client.id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(self.scopes)
        asked = scope.split()
        refused = [wanted for wanted in asked if wanted not in self.scopes]
        if refused:
            raise InvalidScopeError(f"This client may not have: {' '.join(refused)}")
        return " ".join(dict.fromkeys(asked))

    def check_client_secret(self, client_secret: str) -> bool:
        return self._verified_secret is not None and hmac.compare_digest(
            client_secret.encode(), self._verified_secret.encode()
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return bool(grant_type == ClientCredentialsGrant.GRANT_TYPE)


class SecretClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    """Clients authenticate with their secret, by HTTP Basic or in the form."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)


class TokenRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, uri: str, form: dict[str, str], headers: Headers) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data


class TokenServer(AuthorizationServer):  # type: ignore[misc]
    """One token request's server: it knows the one client the request names."""

    def __init__(self, client: TokenClient | None, key: ECKey, settings: GatewaySettings) -> None:
        super().__init__(scopes_supported=sorted(SCOPES))
        self._client = client
        self._key = key
        self._settings = settings
        self.register_grant(SecretClientCredentialsGrant)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> TokenClient | None:
        if self._client is not None and self._client.get_client_id() == client_id:
            return self._client
        return None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Tokens are self-contained JWTs; nothing is stored."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: TokenRequest) -> TokenRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def _generate(self, *, client: TokenClient, scope: str | None, **_: Any) -> dict[str, Any]:
        # authlib passes the scope as asked for (None when not asked): narrow it to what the client holds.
        scope = client.get_allowed_scope(scope)
        ttl = self._settings.identity.token_ttl_seconds
        organisation = client.organisation
        token = access_token(
            self._key,
            self._settings,
            subject=client.client.id,
            organisation=(organisation.id, str(organisation.type)),
            organisation_roles=organisation.roles(),
            scope=scope,
            ttl=ttl,
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": scope}


def access_token(
    key: ECKey,
    settings: GatewaySettings,
    *,
    subject: str,
    organisation: tuple[str, str],
    organisation_roles: list[str],
    scope: str,
    ttl: int,
) -> str:
    """A signed access token: the same claims for a partner system's client and for a signed-in staff member."""
    now = int(time.time())
    claims = {
        "iss": settings.auth.issuer,
        "aud": settings.auth.audience,
        "sub": subject,
        "org": organisation[0],
        "org_type": organisation[1],
        "org_roles": organisation_roles,
        "scope": scope,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key)


def client_credentials_of(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """The client id and secret from HTTP Basic (decoded as authlib decodes them), else from the form."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id) or None, unquote(secret)
    return form.get("client_id"), form.get("client_secret")


async def verified_secret(hashing: HashingPool, client: ApiClient, secret: str | None) -> str | None:
    """The secret, if it is the client's; argon2 runs on the bounded pool unless the secret is remembered."""
    if secret is None:
        return None
    if is_remembered(client.secret_hash):
        matched = verify_secret(client.secret_hash, secret)
    else:
        matched = await hashing.run(verify_secret, client.secret_hash, secret)
    return secret if matched else None


def _oauth_problem(status: int, body: dict[str, Any], headers: list[tuple[str, str]]) -> JSONResponse:
    """RFC 6749's error members inside an RFC 9457 problem, so both kinds of client understand it."""
    error = str(body.get("error", "invalid_request"))
    problem: dict[str, Any] = {
        "type": f"{TYPE_PREFIX}oauth-{error.replace('_', '-')}",
        "title": "The token request was refused",
        "status": status,
        "detail": body.get("error_description") or error.replace("_", " "),
        "error": error,
        "error_description": body.get("error_description", ""),
        "request_id": current_request_id(),
    }
    kept = {name: value for name, value in headers if name.lower() != "content-type"}  # e.g. WWW-Authenticate
    return JSONResponse(problem, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=kept)


def settings_of(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def signing_keys_of(request: Request) -> SigningKeys:
    keys: SigningKeys = request.app.state.signing_keys
    return keys


def rate_limiter_of(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def hashing_of(request: Request) -> HashingPool:
    pool: HashingPool = request.app.state.hashing
    return pool


SettingsDep = Annotated[GatewaySettings, Depends(settings_of)]
HashingDep = Annotated[HashingPool, Depends(hashing_of)]
SigningKeysDep = Annotated[SigningKeys, Depends(signing_keys_of)]

router = APIRouter(tags=["tokens"])


@router.post(
    "/oauth/token",
    response_model=TokenOut,
    responses=problems(401, 413, 415, 429),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
async def issue_token(
    request: Request, session: SessionDep, settings: SettingsDep, keys: SigningKeysDep
) -> JSONResponse:
    """Exchange client credentials for an access token."""
    form = {name: value for name, value in (await request.form()).items() if isinstance(value, str)}
    client_id, secret = client_credentials_of(request, form)
    caller = client_id or (request.client.host if request.client else "unknown")
    rate_limiter_of(request).take(f"token:{caller}")
    found = await service.token_client(session, client_id) if client_id else None
    client = None
    if found is not None:
        api_client, organisation = found
        await session.commit()  # the database connection let go while the secret is checked
        client = TokenClient(api_client, organisation, await verified_secret(hashing_of(request), api_client, secret))
    server = TokenServer(client, keys.signing_key(), settings)
    oauth_request = TokenRequest(f"{settings.auth.issuer}/oauth/token", form, request.headers)
    status, body, headers = server.create_token_response(oauth_request)
    if status != 200:
        return _oauth_problem(status, body, headers)
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get("/.well-known/jwks.json")
async def jwks(keys: SigningKeysDep) -> JSONResponse:
    """The public keys that verify the gateway's tokens."""
    return JSONResponse(keys.jwks(), headers={"Cache-Control": "public, max-age=60"})


@router.get("/.well-known/oauth-authorization-server")
async def authorization_server_metadata(settings: SettingsDep) -> dict[str, Any]:
    """RFC 8414 metadata: where to get tokens and the keys that verify them."""
    issuer = settings.auth.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "scopes_supported": sorted(SCOPES),
        "response_types_supported": ["token"],
    }
