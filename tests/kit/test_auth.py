"""Services verify tokens themselves and say precisely why they refuse one."""

import asyncio
import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from services.kit.auth import TokenVerifier
from services.kit.testing import TokenMint
from tests.support.notes import RunningNotes

DEAD_LETTERS = "/internal/dead-letters"


def unsigned(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def refusal(notes: RunningNotes, token: str) -> dict[str, object]:
    response = await notes.client.get(DEAD_LETTERS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    body: dict[str, object] = response.json()
    assert body["type"] == "urn:graduated-pathway:problem:invalid-token"
    return body


async def test_a_valid_token_with_the_scope_is_let_through(notes: RunningNotes) -> None:
    response = await notes.client.get(DEAD_LETTERS, headers=notes.mint.headers("plans:read admin"))
    assert response.status_code == 200
    assert response.json() == []


async def test_no_token_is_a_401_that_says_how_to_send_one(notes: RunningNotes) -> None:
    response = await notes.client.get(DEAD_LETTERS)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="graduated-pathway"'
    assert response.json()["detail"] == "Send an access token: Authorization: Bearer <token>."


async def test_an_expired_token_is_refused(notes: RunningNotes) -> None:
    body = await refusal(notes, notes.mint.token("admin", expires_in=-120))
    assert body["detail"] == "The token has expired."


@pytest.mark.parametrize(("claim", "value"), [("iss", "https://evil.example"), ("aud", "another-api"), ("sub", None)])
async def test_a_token_for_another_issuer_audience_or_without_subject_is_refused(
    notes: RunningNotes, claim: str, value: str | None
) -> None:
    token = notes.mint.token("admin", claims={claim: value}) if value else _without(notes.mint, claim)
    body = await refusal(notes, token)
    assert claim in str(body["detail"]) or "refused" in str(body["detail"])


def _without(mint: TokenMint, claim: str) -> str:
    claims = jwt.decode(mint.token("admin"), mint.key).claims
    del claims[claim]
    return jwt.encode({"alg": "ES256", "kid": mint.key.kid}, claims, mint.key)


async def test_a_token_signed_by_another_key_under_the_same_kid_is_refused(notes: RunningNotes) -> None:
    impostor = ECKey.generate_key("P-256", parameters={"kid": str(notes.mint.key.kid)})
    claims = jwt.decode(notes.mint.token("admin"), notes.mint.key).claims
    body = await refusal(notes, jwt.encode({"alg": "ES256", "kid": notes.mint.key.kid}, claims, impostor))
    assert body["detail"] == "The token was refused (bad_signature)."


async def test_alg_none_is_refused(notes: RunningNotes) -> None:
    claims = jwt.decode(notes.mint.token("admin"), notes.mint.key).claims
    body = await refusal(notes, unsigned(claims))
    assert body["detail"] == "The token was refused (unsupported_algorithm: Algorithm of 'none' is not allowed)."


async def test_garbage_is_refused(notes: RunningNotes) -> None:
    await refusal(notes, "not-a-jwt")


async def test_a_missing_scope_is_a_403_naming_it(notes: RunningNotes) -> None:
    response = await notes.client.get(DEAD_LETTERS, headers=notes.mint.headers("plans:read"))
    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "urn:graduated-pathway:problem:insufficient-scope"
    assert body["missing_scope"] == "admin"
    assert body["detail"] == "This needs the scope 'admin'."
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="admin"'


async def test_an_external_identity_provider_is_trusted_through_claim_mapping(notes: RunningNotes) -> None:
    """Entra ID or Keycloak name the organisation and scopes in claims of their own."""
    idp = TokenMint(issuer="https://login.example-idp.test/tenant/v2.0", audience="api://graduated-pathway")
    verifier = notes.app.state.verifier
    notes.app.state.verifier = TokenVerifier(
        verifier.settings.model_copy(
            update={
                "issuer": idp.issuer,
                "audience": idp.audience,
                "org_claim": "pathway_org",
                "org_type_claim": "pathway_org_type",
                "scope_claim": "roles",
            }
        ),
        idp,
    )
    claims = {"pathway_org": "org-health-1", "pathway_org_type": "health", "roles": ["admin", "plans:read"]}
    token = idp.token(claims=claims)
    response = await notes.client.get(DEAD_LETTERS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text

    principal = await notes.app.state.verifier.verify(token)
    assert (principal.organisation_id, principal.organisation_type) == ("org-health-1", "health")
    assert principal.scopes == {"admin", "plans:read"}

    gateway_style = notes.mint.token("admin")  # the gateway's claims mean nothing to this deployment
    assert (
        await notes.client.get(DEAD_LETTERS, headers={"Authorization": f"Bearer {gateway_style}"})
    ).status_code == 401


async def test_a_remembered_token_is_still_refused_once_it_expires(notes: RunningNotes) -> None:
    settings = notes.app.state.verifier.settings
    notes.app.state.verifier = TokenVerifier(settings.model_copy(update={"leeway_seconds": 0}), notes.mint)
    # Two whole seconds: `exp` is in whole seconds, so one could end a moment after minting.
    expires_at = int(time.time()) + 2
    short_lived = notes.mint.token("admin", claims={"exp": expires_at})
    first = await notes.client.get(DEAD_LETTERS, headers={"Authorization": f"Bearer {short_lived}"})
    assert first.status_code == 200
    await asyncio.sleep(expires_at - time.time() + 0.5)
    later = await notes.client.get(DEAD_LETTERS, headers={"Authorization": f"Bearer {short_lived}"})
    assert later.status_code == 401
    assert later.json()["detail"] == "The token has expired."
