"""Bad input to the whole system, through the gateway: never a 5xx, never another organisation's data.

Random answers to a form (hypothesis), bodies too big, too deep or not JSON,
tokens forged, expired or from another issuer, and one organisation asking for
every record of another by id.
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.keys import SigningKeys
from tests.support.gateway import Gateway, GatewayStack
from tests.support.samples import family_body, sample

SCOPES = ["assessments:read", "assessments:write", "plans:read", "plans:write", "consent:read", "consent:write",
          "subscriptions:manage"]  # fmt: skip
PRIVATE = "Amara"  # the child's name: in no answer to anyone but her family's readers


async def organisation(gateway: Gateway, name: str, kind: str) -> tuple[str, dict[str, str]]:
    admin = await gateway.bearer()
    created = await gateway.http.post("/admin/organisations", json={"name": name, "type": kind}, headers=admin)
    client = await gateway.http.post(
        "/admin/clients", json={"organisation_id": created.json()["id"], "name": name, "scopes": SCOPES}, headers=admin
    )
    return created.json()["id"], await gateway.bearer(
        client_id=client.json()["id"], secret=client.json()["client_secret"]
    )


def is_problem(response: httpx.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"].startswith("application/problem+json")
        and response.json()["status"] == status
    )


MARK = "qzx-"  # begins every generated text, so that an echo of one cannot be a message's own words by chance
answers = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50).map(lambda text: MARK + text),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=20,
)
sample_answers = sample("early-help-assessment", 1)


@st.composite
def mutated_sample(draw: st.DrawFn) -> dict[str, Any]:
    """The sample answers with one section or question replaced by anything at all."""
    changed: dict[str, Any] = json.loads(json.dumps(sample_answers))
    key = draw(st.sampled_from(sorted(changed)))
    section = changed[key]
    if isinstance(section, dict) and section and draw(st.booleans()):
        section[draw(st.sampled_from(sorted(section)))] = draw(answers)
    else:
        changed[key] = draw(answers)
    return changed


async def test_random_answers_are_stored_or_refused_with_pointers_and_never_break_anything(stack: GatewayStack) -> None:
    _, author = await organisation(stack.gateway, "Random Answers Council", "council")
    family = await stack.gateway.http.post("/families", json=family_body(), headers=author)
    family_id = family.json()["id"]
    outcomes: list[int] = []

    # hypothesis drives a synchronous client from a worker thread while the stack serves on this loop.
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(body=st.one_of(answers, mutated_sample()), status=st.sampled_from(["draft", "submitted"]))
    def post(body: Any, status: str) -> None:
        sent = {"family_id": family_id, "form": {"key": "early-help-assessment", "version": 1}, "answers": body,
                "status": status}  # fmt: skip
        with httpx.Client(base_url=stack.gateway.url, timeout=10) as http:
            answer = http.post("/assessments", json=sent, headers=author)
        outcomes.append(answer.status_code)
        assert answer.status_code in (201, 422), answer.text
        if answer.status_code == 422:
            problem = answer.json()
            assert problem["type"].endswith((":validation-failed", ":invalid-answers")), problem
            assert all(error["pointer"].startswith("/answers") for error in problem["errors"]), problem
            for text in _strings(body):
                if text.startswith(MARK):
                    assert MARK not in answer.text, "an answer was echoed back"

    await asyncio.to_thread(post)
    assert 201 in outcomes and 422 in outcomes


def _strings(value: Any) -> list[str]:
    """The text answers sent. Property names are left out: a pointer names an unexpected one, which it must."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


async def test_bodies_too_big_too_deep_or_not_json_are_refused_with_problems(stack: GatewayStack) -> None:
    _, author = await organisation(stack.gateway, "Body Council", "council")
    http = stack.gateway.http
    headers = author | {"Content-Type": "application/json"}

    too_big = await http.post("/families", content=b'{"members": [' + b" " * 2_000_000 + b"]}", headers=headers)
    assert is_problem(too_big, 413)

    deep = b'{"members": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    refused = await http.post("/families", content=deep, headers=headers)
    assert is_problem(refused, 400) or is_problem(refused, 422), refused.text[:500]
    nested_answers = {"family_id": "x", "form": {"key": "early-help-assessment", "version": 1}, "answers": {}}
    nested = json.dumps(nested_answers).replace('"answers": {}', '"answers": ' + '{"a": ' * 3000 + "1" + "}" * 3000)
    refused = await http.post("/assessments", content=nested.encode(), headers=headers)
    assert is_problem(refused, 400) or is_problem(refused, 422), refused.text[:500]

    for broken in (b'{"members": [', b"\xff\xfe not utf-8", b"", b"null", b"[]", b'{"members": "Amara"}'):
        answer = await http.post("/families", content=broken, headers=headers)
        assert answer.status_code in (400, 422) and answer.headers["content-type"].startswith(
            "application/problem+json"
        )
    wrong_type = await http.post("/families", content=b"members=1", headers=author | {"Content-Type": "text/plain"})
    assert is_problem(wrong_type, 415)

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"{", b" " * 1_100_000, b"}"):
            yield chunk

    chunked = await http.post("/families", content=chunks(), headers=headers)
    assert is_problem(chunked, 413)


async def test_answers_nested_260_deep_are_a_problem_on_every_path_and_change_nothing(stack: GatewayStack) -> None:
    _, author = await organisation(stack.gateway, "Deep Council", "council")
    http = stack.gateway.http
    family_id = (await http.post("/families", json=family_body(), headers=author)).json()["id"]
    form = {"key": "early-help-assessment", "version": 1}
    created = await http.post(
        "/assessments", json={"family_id": family_id, "form": form, "answers": sample_answers}, headers=author
    )
    assert created.status_code == 201, created.text
    url = f"/assessments/{created.json()['id']}"
    headers = author | {"Content-Type": "application/json", "If-Match": created.headers["ETag"]}
    deep = '{"a": ' * 260 + "1" + "}" * 260

    for method, path, body in (
        ("POST", "/assessments", {"family_id": family_id, "form": form}),
        ("PUT", url, {}),
        ("POST", f"{url}/carry-forward", {}),
    ):
        content = json.dumps(body | {"answers": "HERE"}).replace('"HERE"', deep).encode()
        refused = await http.request(method, path, content=content, headers=headers)
        assert is_problem(refused, 400), (method, path, refused.text[:500])
        assert refused.json()["type"].endswith(":json-too-deep")
        assert "at most 64" in refused.json()["detail"]

    kept = await http.get(url, headers=author)
    assert kept.json()["answers"] == sample_answers and kept.headers["ETag"] == created.headers["ETag"]
    assert len((await http.get(f"/families/{family_id}/assessments", headers=author)).json()) == 1


async def test_tokens_forged_expired_or_from_another_issuer_are_refused(stack: GatewayStack) -> None:
    gateway = stack.gateway
    keys: SigningKeys = gateway.app.state.signing_keys
    real = keys.signing_key()
    organisation_id, _ = await organisation(gateway, "Token Council", "council")
    now = int(time.time())
    claims = {"iss": gateway.app.state.settings.auth.issuer, "aud": gateway.app.state.settings.auth.audience,
              "sub": "someone", "org": organisation_id, "org_type": "council", "scope": " ".join(SCOPES),
              "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}  # fmt: skip
    impostor = ECKey.generate_key("P-256", parameters={"kid": str(real.kid), "alg": "ES256"})

    def signed(key: ECKey, **changes: Any) -> str:
        return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims | changes, key)

    tokens = {
        "forged": signed(impostor),
        "unknown key": signed(ECKey.generate_key("P-256", parameters={"kid": "not-ours", "alg": "ES256"})),
        "expired": signed(real, iat=now - 3600, exp=now - 1800),
        "another issuer": signed(real, iss="https://idp.elsewhere.example"),
        "another audience": signed(real, aud="someone-else"),
        "garbage": "not.a.token",
    }
    assert (await gateway.http.get("/forms", headers={"Authorization": f"Bearer {signed(real)}"})).status_code == 200
    for name, token in tokens.items():
        for path in ("/forms", "/families?identifier=nhs:9434765919", "/plans?family_id=x", "/consents?family_id=x"):
            answer = await gateway.http.get(path, headers={"Authorization": f"Bearer {token}"})
            assert is_problem(answer, 401), (name, path, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer"), name


async def test_one_organisation_asking_for_anothers_records_by_id_learns_nothing(stack: GatewayStack) -> None:
    http = stack.gateway.http
    _, owner = await organisation(stack.gateway, "Owner Council", "council")
    _, prober = await organisation(stack.gateway, "Prober School", "school")
    family = (await http.post("/families", json=family_body(), headers=owner)).json()
    assessment = await http.post(
        "/assessments",
        json={"family_id": family["id"], "form": {"key": "early-help-assessment", "version": 1},
              "answers": sample_answers, "status": "submitted"},
        headers=owner,
    )  # fmt: skip
    grant = await http.post(
        "/consents",
        json={"family_id": family["id"], "given_by_role": "parent_or_carer", "evidence": "written",
              "categories": ["assessment"], "recipient_organisations": ["org-elsewhere"]},
        headers=owner,
    )  # fmt: skip
    subscription = await http.post(
        "/subscriptions", json={"url": "http://127.0.0.1:9/hook", "event_types": ["plan.*"]}, headers=owner
    )
    assert {assessment.status_code, grant.status_code, subscription.status_code} == {201}
    assessment_id, grant_id, subscription_id = assessment.json()["id"], grant.json()["id"], subscription.json()["id"]
    probes = [
        ("GET", f"/families/{family['id']}"), ("GET", f"/families/{family['id']}/assessments"),
        ("GET", f"/families/{family['id']}/fhir"),
        ("GET", f"/assessments/{assessment_id}"), ("GET", f"/assessments/{assessment_id}/revisions"),
        ("GET", f"/assessments/{assessment_id}/fhir"), ("POST", f"/assessments/{assessment_id}/carry-forward"),
        ("PUT", f"/assessments/{assessment_id}"), ("POST", f"/assessments/{assessment_id}/submit"),
        ("GET", f"/consents/{grant_id}"), ("POST", f"/consents/{grant_id}/withdraw"),
        ("GET", f"/subscriptions/{subscription_id}"), ("DELETE", f"/subscriptions/{subscription_id}"),
        ("GET", f"/families?identifier=nhs:{family_body()['members'][0]['identifiers'][0]['value']}"),
        ("GET", f"/consents?family_id={family['id']}"), ("GET", f"/plans?family_id={family['id']}"),
    ]  # fmt: skip
    for method, path in probes:
        body: dict[str, Any] = {"answers": {}} if method == "PUT" else {}
        answer = await http.request(method, path, json=body, headers=prober | {"If-Match": '"1"'})
        assert answer.status_code in (200, 403, 404), (method, path, answer.status_code, answer.text)
        assert PRIVATE not in answer.text and sample_answers["summary"][:30] not in answer.text, (method, path)
        if answer.status_code == 200:
            assert answer.json() == [], (method, path)  # a search or list that shows nothing
    still = await http.get(f"/assessments/{assessment_id}", headers=owner)
    assert still.status_code == 200 and still.json()["status"] == "submitted"
    assert (await http.get(f"/consents/{grant_id}", headers=owner)).json()["status"] == "active"
    assert (await http.get(f"/subscriptions/{subscription.json()['id']}", headers=owner)).status_code == 200
