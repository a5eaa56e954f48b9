"""A public path reaches only the service and path it names: no encoded slash or dot segment slips through."""

import pytest

from tests.support.gateway import Gateway
from tests.support.problems import assert_problem

SLIPPERY = [
    "/families/%2E%2E/%2E%2E/readyz",
    "/families/%2e%2e/internal/assessments/1/needs",
    "/families/..%2Finternal/x",
    "/plans/1%2F..%2F..%2Finternal%2Fplans",
    "/plans/%2e/1",
    "/assessments/1%5C..%5Cinternal",
    "/consents/.%2E/audit",
]


@pytest.mark.parametrize("path", SLIPPERY)
async def test_an_encoded_slash_or_dot_segment_is_refused_before_any_service_sees_it(
    gateway: Gateway, path: str
) -> None:
    response = await gateway.http.get(path, headers=await gateway.bearer())
    body = assert_problem(response, 400, "bad-request")
    assert "dot segment" in str(body["detail"])


async def test_an_ordinary_path_still_reaches_its_service_as_sent(gateway: Gateway) -> None:
    response = await gateway.http.get("/plans/42/goals", params={"q": "a/b"}, headers=await gateway.bearer())
    assert response.status_code == 200
    assert (response.json()["path"], response.json()["query"]) == ("/plans/42/goals", "q=a%2Fb")
