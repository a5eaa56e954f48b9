"""Partner systems exchange client credentials for short-lived signed tokens."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway import credentials
from gateway.credentials import HashingPool
from gateway.main import create_app
from services.kit.natsserver import NatsServer, free_port
from services.kit.testing import DatabaseFactory, running
from tests.support.gateway import BOOTSTRAP_ID, BOOTSTRAP_SECRET, Gateway, basic, gateway_settings

SERVICE_ID = "pw_services"
SERVICE_SECRET = "service-secret-for-tests-only-0123456789"


async def new_client(gateway: Gateway, scopes: list[str], org_type: str = "school") -> tuple[str, str, str]:
    admin = await gateway.bearer()
    organisation = await gateway.http.post(
        "/admin/organisations", json={"name": f"Org {time.monotonic_ns()}", "type": org_type}, headers=admin
    )
    created = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": organisation.json()["id"], "name": "MIS", "scopes": scopes},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()["client_secret"], organisation.json()["id"]


async def test_client_credentials_give_a_token_the_jwks_verifies(gateway: Gateway) -> None:
    client_id, secret, organisation_id = await new_client(gateway, ["assessments:read", "plans:read"])
    response = await gateway.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "assessments:read plans:read"

    jwks = (await gateway.http.get("/.well-known/jwks.json")).json()
    assert all("d" not in key for key in jwks["keys"]), "private key material must never be published"
    decoded = jwt.decode(body["access_token"], KeySet.import_key_set(jwks))
    assert decoded.header["alg"] == "ES256"
    assert decoded.header["kid"] in {key["kid"] for key in jwks["keys"]}
    claims = decoded.claims
    assert claims["sub"] == client_id
    assert claims["org"] == organisation_id
    assert claims["org_type"] == "school"
    assert claims["iss"] == gateway.url
    assert claims["aud"] == "graduated-pathway"
    assert claims["exp"] - claims["iat"] == 900
    assert len(claims["jti"]) == 32


async def test_credentials_in_the_form_and_a_narrower_scope_work_too(gateway: Gateway) -> None:
    client_id, secret, _ = await new_client(gateway, ["assessments:read", "plans:read"])
    response = await gateway.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "plans:read",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "plans:read"


async def oauth_refusal(gateway: Gateway, response_status: int, error: str, **request: object) -> dict[str, object]:
    response = await gateway.http.post("/oauth/token", **request)  # type: ignore[arg-type]
    assert response.status_code == response_status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["error"] == error
    assert body["type"] == f"urn:graduated-pathway:problem:oauth-{error.replace('_', '-')}"
    return body


async def test_a_wrong_secret_or_unknown_client_is_invalid_client(gateway: Gateway) -> None:
    form = {"grant_type": "client_credentials"}
    await oauth_refusal(gateway, 401, "invalid_client", data=form, headers=basic(BOOTSTRAP_ID, "wrong"))
    await oauth_refusal(gateway, 401, "invalid_client", data=form, headers=basic("pw_nobody", BOOTSTRAP_SECRET))
    await oauth_refusal(gateway, 401, "invalid_client", data=form)


async def test_secrets_are_checked_on_a_bounded_pool_and_the_excess_is_told_when_to_come_back(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrong secrets each cost an argon2 check: past the pool's threads and queue, 503 with Retry-After."""
    client_id, secret, _ = await new_client(gateway, ["plans:read"])
    # As in a replica of the gateway that has not yet checked this client's secret once.
    monkeypatch.setattr(credentials, "_verified", {})
    gateway.app.state.hashing = HashingPool(workers=1, waiting=1, wait_seconds=0.1)
    form = {"grant_type": "client_credentials"}

    async def guess(number: int) -> httpx.Response:
        return await gateway.http.post("/oauth/token", data=form, headers=basic(client_id, f"guess-{number}"))

    answers = await asyncio.gather(*(guess(number) for number in range(8)))
    assert {answer.status_code for answer in answers} == {401, 503}, [answer.status_code for answer in answers]
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert busy.headers["content-type"] == "application/problem+json" and busy.headers["retry-after"] == "1"
    assert busy.json()["type"] == "urn:graduated-pathway:problem:hashing-busy"
    assert (await gateway.http.post("/oauth/token", data=form, headers=basic(client_id, secret))).status_code == 200


async def test_a_scope_the_client_lacks_is_refused(gateway: Gateway) -> None:
    client_id, secret, _ = await new_client(gateway, ["plans:read"])
    body = await oauth_refusal(
        gateway,
        400,
        "invalid_scope",
        data={"grant_type": "client_credentials", "scope": "plans:read admin"},
        headers=basic(client_id, secret),
    )
    assert body["error_description"] == "This client may not have: admin"


async def test_other_grant_types_are_refused(gateway: Gateway) -> None:
    await oauth_refusal(
        gateway,
        400,
        "unsupported_grant_type",
        data={"grant_type": "password"},
        headers=basic(BOOTSTRAP_ID, BOOTSTRAP_SECRET),
    )


async def test_a_disabled_client_or_organisation_gets_no_token(gateway: Gateway) -> None:
    admin = await gateway.bearer()
    client_id, secret, organisation_id = await new_client(gateway, ["plans:read"])
    second = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": organisation_id, "name": "Second", "scopes": ["plans:read"]},
        headers=admin,
    )
    form = {"grant_type": "client_credentials"}

    disabled = await gateway.http.post(f"/admin/clients/{client_id}/disable", headers=admin)
    assert disabled.json()["disabled"] is True
    await oauth_refusal(gateway, 401, "invalid_client", data=form, headers=basic(client_id, secret))
    second_credentials = basic(second.json()["id"], second.json()["client_secret"])
    assert (await gateway.http.post("/oauth/token", data=form, headers=second_credentials)).status_code == 200

    await gateway.http.post(f"/admin/organisations/{organisation_id}/disable", headers=admin)
    await oauth_refusal(gateway, 401, "invalid_client", data=form, headers=second_credentials)


async def test_metadata_names_the_token_endpoint_and_keys(gateway: Gateway) -> None:
    metadata = (await gateway.http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == gateway.url
    assert metadata["token_endpoint"] == f"{gateway.url}/oauth/token"
    assert metadata["jwks_uri"] == f"{gateway.url}/.well-known/jwks.json"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert "plans:read" in metadata["scopes_supported"]


async def test_the_services_own_client_is_ensured_at_start_and_gets_the_service_scope_only(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path, echo: tuple[str, FastAPI]
) -> None:
    port = free_port()
    settings = gateway_settings(nats_server.url, await database_factory("gateway"), tmp_path, echo[0], port)
    settings.identity.service_client_id, settings.identity.service_client_secret = SERVICE_ID, SERVICE_SECRET
    for _start in ("first", "again"):  # a restart finds the client and its organisation already there
        app = create_app(settings)
        async with running(app, port) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            gateway = Gateway(url, app, http)
            token = await gateway.token(SERVICE_ID, SERVICE_SECRET, scope="service")
            claims = jwt.decode(token, KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())).claims
            assert (claims["sub"], claims["org_type"], claims["scope"]) == (SERVICE_ID, "council", "service")
            await oauth_refusal(
                gateway,
                400,
                "invalid_scope",
                data={"grant_type": "client_credentials", "scope": "service assessments:read"},
                headers=basic(SERVICE_ID, SERVICE_SECRET),
            )
            admin = await gateway.bearer()
            organisations = (await http.get("/admin/organisations", headers=admin)).json()
            services = [o for o in organisations if o["name"] == "Graduated Pathway services"]
            assert [(o["id"], o["type"]) for o in services] == [(claims["org"], "council")]
            clients = (
                await http.get("/admin/clients", params={"organisation_id": claims["org"]}, headers=admin)
            ).json()
            assert [(c["id"], c["scopes"]) for c in clients] == [(SERVICE_ID, ["service"])]


async def test_no_other_client_is_given_the_service_scope(gateway: Gateway) -> None:
    await oauth_refusal(
        gateway,
        400,
        "invalid_scope",
        data={"grant_type": "client_credentials", "scope": "service"},
        headers=basic(BOOTSTRAP_ID, BOOTSTRAP_SECRET),
    )
    admin = await gateway.bearer()
    organisation = await gateway.http.post(
        "/admin/organisations", json={"name": "Sly", "type": "council"}, headers=admin
    )
    refused = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": organisation.json()["id"], "name": "x", "scopes": ["reports:all", "service"]},
        headers=admin,
    )
    assert refused.status_code == 422
    assert [error["pointer"] for error in refused.json()["errors"]] == ["/scopes/1"]
