"""The assessment service on its own, as its tests meet it."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.assessment.config import AssessmentSettings
from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint
from tests.support.organisations import Organisation, organisation
from tests.support.samples import family_body
from tests.support.stack import Started, service_settings

WRITER = "assessments:read assessments:write"
EHA = {"key": "early-help-assessment", "version": 1}


@dataclass
class RunningAssessments:
    app: FastAPI
    client: httpx.AsyncClient
    nats: NatsServer
    mint: TokenMint

    @classmethod
    def of(cls, stack: Started) -> "RunningAssessments":
        return cls(stack.apps["assessment"], stack.clients["assessment"], stack.nats, stack.mint)

    def organisation(self, org_id: str, org_type: str = "health", scopes: str = WRITER) -> Organisation:
        return organisation(self.mint, org_id, org_type, scopes, f"client-{org_id}")

    async def register_family(self, org: Organisation, nhs_number: str = "9434765919") -> str:
        response = await self.client.post("/families", json=family_body(nhs_number), headers=org.headers)
        assert response.status_code == 201, response.text
        family_id: str = response.json()["id"]
        return family_id


async def post_assessment(
    assessments: RunningAssessments,
    org: Organisation,
    family_id: str,
    answers: dict[str, Any],
    status: str = "draft",
    form: dict[str, Any] = EHA,
) -> dict[str, Any]:
    response = await assessments.client.post(
        "/assessments",
        json={"family_id": family_id, "form": form, "answers": answers, "status": status},
        headers=org.headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    body: dict[str, Any] = response.json()
    return body


def assessment_settings(nats_url: str, database_url: str, data_dir: Path) -> AssessmentSettings:
    """The assessment service's settings as the stack builder makes them, for a test that starts it by hand."""
    settings = service_settings("assessment", nats_url, database_url, data_dir)
    assert isinstance(settings, AssessmentSettings)
    return settings
