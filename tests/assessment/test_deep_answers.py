"""Answers nested deeper than any form asks are refused before parsing, as a problem, and change nothing.

Past about 255 levels jsonschema-rs stops with an error of its own, and deeper
still Python's parser does; the kit's body guard refuses JSON nested past
`HTTP_MAX_JSON_DEPTH` (64) before either sees it.
"""

import json
from typing import Any

import httpx

from tests.support.assessment import RunningAssessments
from tests.support.samples import sample

FORM = {"key": "early-help-assessment", "version": 1}


def nested(body: dict[str, Any], depth: int) -> bytes:
    """`body` with its `answers` replaced by objects nested `depth` levels deep."""
    text = json.dumps(body | {"answers": "HERE"})
    return text.replace('"HERE"', '{"a": ' * depth + "1" + "}" * depth).encode()


def assert_too_deep(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith(":json-too-deep")
    assert problem["status"] == 400
    assert "at most 64" in problem["detail"]


async def test_answers_nested_260_deep_are_a_problem_and_no_assessment(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    headers = health.headers | {"Content-Type": "application/json"}

    for depth in (260, 1_000, 100_000):
        refused = await assessments.client.post(
            "/assessments", content=nested({"family_id": family_id, "form": FORM}, depth), headers=headers
        )
        assert_too_deep(refused)

    listed = await assessments.client.get(f"/families/{family_id}/assessments", headers=health.headers)
    assert listed.json() == []


async def test_a_deep_put_or_carry_forward_leaves_the_draft_as_it_was(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    answers = sample("early-help-assessment", 1)
    created = await assessments.client.post(
        "/assessments", json={"family_id": family_id, "form": FORM, "answers": answers}, headers=health.headers
    )
    assert created.status_code == 201, created.text
    url = f"/assessments/{created.json()['id']}"
    headers = health.headers | {"Content-Type": "application/json", "If-Match": created.headers["ETag"]}

    assert_too_deep(await assessments.client.put(url, content=nested({}, 260), headers=headers))
    deep_carry = b'{"form_version": ' + b"[" * 300 + b"]" * 300 + b"}"
    assert_too_deep(await assessments.client.post(f"{url}/carry-forward", content=deep_carry, headers=headers))

    kept = await assessments.client.get(url, headers=health.headers)
    assert kept.headers["ETag"] == created.headers["ETag"]
    assert kept.json()["answers"] == answers
    revisions = await assessments.client.get(f"{url}/revisions", headers=health.headers)
    assert len(revisions.json()) == 1
    listed = await assessments.client.get(f"/families/{family_id}/assessments", headers=health.headers)
    assert len(listed.json()) == 1


async def test_answers_as_deep_as_the_limit_are_validated_as_usual(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    headers = health.headers | {"Content-Type": "application/json"}

    # 64 levels in all: the body's own object, then the answers and what they hold.
    answered = await assessments.client.post(
        "/assessments", content=nested({"family_id": family_id, "form": FORM}, 62), headers=headers
    )

    assert answered.status_code == 422, answered.text
    assert answered.json()["type"].endswith(":invalid-answers")
    assert answered.json()["errors"] == [{"pointer": "/answers/a", "detail": "This is not a question on this form."}]
