"""One OpenAPI document describes the whole public API, and the API keeps to it."""

from pathlib import Path

import pytest

from gateway.openapi import public_paths_of
from gateway.proxy import ROUTES
from tests.support.gateway import GatewayStack
from tools import conformance

AUTHENTICATED = ("/admin/", "/plans", "/assessments", "/consents", "/families", "/subscriptions")
ERRORS_EVERY_AUTHENTICATED_OPERATION_DECLARES = {"400", "401", "403", "500", "503"}
ERRORS_THE_GATEWAY_ADDS = {"429", "502", "504"}


async def test_the_merged_document_holds_every_public_route_with_the_problems_it_may_answer(
    stack: GatewayStack,
) -> None:
    merged = (await stack.gateway.http.get("/openapi.json")).json()
    assert "x-unavailable-services" not in merged

    expected: dict[str, dict[str, object]] = {}
    for name, app in stack.services.items():
        expected |= public_paths_of(name, app.openapi())
    for path in ("/oauth/token", "/.well-known/jwks.json", "/admin/organisations", "/admin/clients", "/admin/users"):
        expected[path] = {}
    for path in expected:
        assert path in merged["paths"], f"{path} is missing from the merged document"
    assert not any(path.startswith("/internal/") for path in merged["paths"])

    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in merged["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            errors = {status: answer for status, answer in responses.items() if int(status) >= 400}
            assert all(answer["content"] == problem for answer in errors.values()), where
            if path.startswith(AUTHENTICATED):
                assert set(responses) >= ERRORS_EVERY_AUTHENTICATED_OPERATION_DECLARES, where
            if path.split("/", 2)[1] in ROUTES:
                assert set(responses) >= ERRORS_THE_GATEWAY_ADDS, where
            if "{" in path:
                assert "404" in responses, where
            if "requestBody" in operation:
                assert set(responses) >= {"400", "413", "415"}, where
            if any(parameter["name"] == "If-Match" for parameter in operation.get("parameters", [])):
                assert set(responses) >= {"412", "428"}, where
    assert "Problem" in merged["components"]["schemas"]
    assert "HTTPValidationError" not in merged["components"]["schemas"]

    flows = merged["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"
    assert merged["paths"]["/oauth/token"]["post"]["security"] == []


@pytest.mark.parametrize("group", list(conformance.groups()))
async def test_schemathesis_finds_no_answer_the_document_does_not_declare(
    stack: GatewayStack, tmp_path: Path, group: str
) -> None:
    """Every check, `status_code_conformance` and `response_schema_conformance` among them, per group of operations.

    One test per group, so that pytest-xdist runs the groups side by side, each against a stack of its own.
    """
    token = await stack.gateway.token()
    outcome = await conformance.run(stack.gateway.url, token, group, disabling=True, cwd=tmp_path)
    assert outcome.passed, outcome.report[-8000:]
    assert outcome.generated >= 30, "schemathesis should exercise every operation many times"


async def test_a_405_names_every_method_the_path_allows_through_the_gateway(stack: GatewayStack) -> None:
    headers = await stack.gateway.bearer()
    for method, path, allowed in (
        ("OPTIONS", "/plans", "GET, POST"),  # a service's two routes on one path, through the proxy
        ("DELETE", "/plans/a-plan", "GET, PATCH"),
        ("PUT", "/admin/organisations", "GET, POST"),  # the gateway's own
    ):
        answer = await stack.gateway.http.request(method, path, headers=headers)
        assert answer.status_code == 405, f"{method} {path}: {answer.text}"
        assert answer.headers["allow"] == allowed, f"{method} {path}"
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:graduated-pathway:problem:method-not-allowed"
