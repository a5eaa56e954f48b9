"""RFC 9457 problems as every service renders them."""

import httpx

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:graduated-pathway:problem:{slug}"
    assert body["status"] == status
    assert body["title"]
    return body
