"""Disabling a client, a staff member or an organisation refuses the tokens they hold, everywhere, within seconds.

Tokens live 15 minutes and every process remembers the ones it accepted; without the
`credentials.revoked` event a disabled caller went on working until its token expired.
Each test holds a token that is still valid, disables its holder through the admin API,
and asks the gateway and a service reached directly (over a real nats-server) until both
refuse it.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway import repository
from gateway.keys import SigningKeys
from gateway.oauth import access_token
from services.kit.auth import JwksCache
from services.kit.natsserver import NatsServer
from tests.support.gateway import GatewayStack
from tests.support.waiting import eventually

WITHIN_SECONDS = 5.0


@dataclass
class Holder:
    """A caller of one organisation, with a token that lives long past the test."""

    id: str
    organisation_id: str
    token: str


async def admin_post(stack: GatewayStack, path: str, body: Mapping[str, object] | None = None) -> dict[str, object]:
    answer = await stack.gateway.http.post(path, json=body, headers=await stack.gateway.bearer())
    assert answer.status_code in (200, 201), answer.text
    found: dict[str, object] = answer.json()
    return found


async def organisation(stack: GatewayStack, name: str) -> str:
    return str((await admin_post(stack, "/admin/organisations", {"name": name, "type": "school"}))["id"])


async def client_of(stack: GatewayStack, organisation_id: str) -> Holder:
    body = {"organisation_id": organisation_id, "name": "MIS", "scopes": ["assessments:read"]}
    client = await admin_post(stack, "/admin/clients", body)
    token = await stack.gateway.token(client_id=str(client["id"]), secret=str(client["client_secret"]))
    return Holder(str(client["id"]), organisation_id, token)


async def staff_of(stack: GatewayStack, organisation_id: str, email: str) -> Holder:
    """A staff member and the token the staff pages mint for them, as a page would call the services with it."""
    body = {"organisation_id": organisation_id, "email": email, "name": "A practitioner", "roles": ["practitioner"]}
    user = await admin_post(stack, "/admin/users", body)
    app = stack.gateway.app
    keys: SigningKeys = app.state.signing_keys
    token = access_token(
        keys.signing_key(),
        app.state.settings,
        subject=str(user["id"]),
        organisation=(organisation_id, "school"),
        organisation_roles=[],
        scope="assessments:read",
        ttl=300,
    )
    return Holder(str(user["id"]), organisation_id, token)


def assessment_url(stack: GatewayStack) -> str:
    return str(stack.gateway.app.state.settings.upstream.assessment_url)


async def answers(stack: GatewayStack, holder: Holder) -> tuple[int, int]:
    """What the gateway and the assessment service, asked directly, answer to the holder's token."""
    headers = {"Authorization": f"Bearer {holder.token}"}
    through_gateway = await stack.gateway.http.get("/forms", headers=headers)
    async with httpx.AsyncClient(base_url=assessment_url(stack), timeout=30) as direct:
        at_service = await direct.get("/forms", headers=headers)
    return through_gateway.status_code, at_service.status_code


async def refused_everywhere_within_seconds(stack: GatewayStack, holder: Holder, started: float) -> None:
    async def refused() -> bool:
        return await answers(stack, holder) == (401, 401)

    await eventually(refused, within=WITHIN_SECONDS)
    assert time.monotonic() - started < WITHIN_SECONDS
    refusal = await stack.gateway.http.get("/forms", headers={"Authorization": f"Bearer {holder.token}"})
    assert refusal.headers["content-type"] == "application/problem+json"
    assert refusal.json()["type"] == "urn:graduated-pathway:problem:invalid-token"
    assert "disabled" in refusal.json()["detail"]


async def test_a_disabled_client_s_token_is_refused_by_the_gateway_and_a_service_within_five_seconds(
    stack: GatewayStack,
) -> None:
    school = await organisation(stack, "Hill Top Primary")
    disabled, other = await client_of(stack, school), await client_of(stack, school)
    assert await answers(stack, disabled) == (200, 200)  # accepted, and remembered, by both

    started = time.monotonic()
    await admin_post(stack, f"/admin/clients/{disabled.id}/disable")
    await refused_everywhere_within_seconds(stack, disabled, started)
    assert await answers(stack, other) == (200, 200), "another client of the same organisation works on"


async def test_a_disabled_organisation_s_clients_and_staff_are_refused_within_five_seconds(
    stack: GatewayStack,
) -> None:
    school, other_school = await organisation(stack, "Hill Top Primary"), await organisation(stack, "Low Road Primary")
    client, member = await client_of(stack, school), await staff_of(stack, school, "senco@hilltop.example")
    elsewhere = await client_of(stack, other_school)
    for holder in (client, member, elsewhere):
        assert await answers(stack, holder) == (200, 200)

    started = time.monotonic()
    await admin_post(stack, f"/admin/organisations/{school}/disable")
    await refused_everywhere_within_seconds(stack, client, started)
    await refused_everywhere_within_seconds(stack, member, started)
    assert await answers(stack, elsewhere) == (200, 200)


async def test_a_disabled_staff_member_s_token_is_refused_within_five_seconds(stack: GatewayStack) -> None:
    school = await organisation(stack, "Hill Top Primary")
    member = await staff_of(stack, school, "senco@hilltop.example")
    colleague = await staff_of(stack, school, "head@hilltop.example")
    assert await answers(stack, member) == (200, 200)

    started = time.monotonic()
    await admin_post(stack, f"/admin/users/{member.id}/disable")
    await refused_everywhere_within_seconds(stack, member, started)
    assert await answers(stack, colleague) == (200, 200)


async def test_the_revocation_is_an_event_that_names_only_ids(stack: GatewayStack, nats_server: NatsServer) -> None:
    school = await organisation(stack, "Hill Top Primary")
    client = await client_of(stack, school)
    await admin_post(stack, f"/admin/clients/{client.id}/disable")
    await admin_post(stack, f"/admin/clients/{client.id}/disable")  # again: nothing more to tell

    connection = await nats.connect(nats_server.url)
    try:
        js = connection.jetstream()
        subscription = await js.subscribe("pathway.credentials.revoked", ordered_consumer=True)
        received = await subscription.next_msg(timeout=WITHIN_SECONDS)
        with pytest.raises(nats.errors.TimeoutError):
            await subscription.next_msg(timeout=0.5)
    finally:
        await connection.close()
    event = json.loads(received.data)
    assert event["type"] == "credentials.revoked" and event["subject"] == client.id
    assert set(event["data"]) == {"subject", "organisation_id", "revoked_at"}
    assert event["data"]["subject"] == client.id and event["data"]["organisation_id"] is None


def token_with_a_made_up_kid(stack: GatewayStack) -> str:
    key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex})
    settings = stack.gateway.app.state.settings
    now = int(time.time())
    claims = {"iss": settings.auth.issuer, "aud": settings.auth.audience, "sub": "someone", "org": "org-x",
              "org_type": "school", "scope": "assessments:read", "iat": now, "exp": now + 300}  # fmt: skip
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


async def test_a_flood_of_made_up_key_ids_reloads_the_key_ring_at_most_once(
    stack: GatewayStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway reads its ring from its database, the assessment service fetches the JWKS: each once at most."""
    jwks: JwksCache = stack.services["assessment"].state.verifier.keys
    read_ring, get = repository.published_keys, jwks.client.get
    reads: list[float] = []
    fetched: list[float] = []

    async def counted_read(*args: Any) -> Any:
        reads.append(time.monotonic())
        return await read_ring(*args)

    async def counted_get(url: str, **kwargs: Any) -> httpx.Response:
        if url == jwks.settings.jwks_url:
            fetched.append(time.monotonic())
        return await get(url, **kwargs)

    monkeypatch.setattr(repository, "published_keys", counted_read)
    monkeypatch.setattr(jwks.client, "get", counted_get)

    async with httpx.AsyncClient(base_url=assessment_url(stack), timeout=30) as direct:
        for _ in range(40):
            headers = {"Authorization": f"Bearer {token_with_a_made_up_kid(stack)}"}
            assert (await stack.gateway.http.get("/forms", headers=headers)).status_code == 401
            assert (await direct.get("/forms", headers=headers)).status_code == 401
    await asyncio.sleep(0.5)  # a reload the flood asked for has happened by now
    assert len(reads) <= 1, f"the gateway read its key ring {len(reads)} times"
    assert len(fetched) <= 1, f"the assessment service fetched the gateway's keys {len(fetched)} times"
