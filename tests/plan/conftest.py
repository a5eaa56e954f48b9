"""The plan service beside the assessment and consent services, each on a real port, as in production.

The plan service reads a submitted assessment's needs as itself, with a token
from the client-credentials grant; here a small token endpoint stands in for
the gateway's (the gateway's own grant is tested with the gateway).
"""

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.assessment.main import create_app as create_assessment_app
from services.consent.config import ConsentSettings
from services.consent.main import create_app as create_consent_app
from services.kit.natsserver import NatsServer
from services.kit.settings import ConsumerSettings, DatabaseSettings, NatsSettings, ServiceClientSettings
from services.kit.testing import DatabaseFactory, TokenMint, running, token_endpoint
from services.plan.config import PlanSettings
from services.plan.main import create_app as create_plan_app
from tests.assessment.conftest import Organisation, assessment_settings, family_body, sample
from tests.kit.conftest import eventually

EVERY_SCOPE = "assessments:read assessments:write consent:read consent:write plans:read plans:write reports:read"
SERVICE_CLIENT = ServiceClientSettings(id="plan-service", secret="plan-service-secret")
PLATFORM_ORGANISATION = "org-platform"


def assessment_answers(*, started: str = "2025-02-17", needs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    answers = copy.deepcopy(sample("early-help-assessment", 1))
    answers["about_the_assessment"]["date_started"] = started
    answers["about_the_assessment"]["consent_date"] = started
    if needs is not None:
        answers["needs"] = needs
    return answers


@dataclass
class PlanStack:
    plan_app: FastAPI
    plans: httpx.AsyncClient
    assessment: httpx.AsyncClient
    consent: httpx.AsyncClient
    nats: NatsServer
    mint: TokenMint

    def organisation(self, org_id: str, org_type: str = "council", scopes: str = EVERY_SCOPE) -> Organisation:
        headers = self.mint.headers(
            scopes, organisation_id=org_id, organisation_type=org_type, claims={"sub": f"worker@{org_id}"}
        )
        return Organisation(org_id, org_type, headers)

    async def family(self, author: Organisation, nhs_number: str = "9434765919") -> str:
        response = await self.assessment.post("/families", json=family_body(nhs_number), headers=author.headers)
        assert response.status_code == 201, response.text
        family_id: str = response.json()["id"]
        return family_id

    async def submit(self, author: Organisation, family_id: str, answers: dict[str, Any] | None = None) -> str:
        body = {
            "family_id": family_id,
            "form": {"key": "early-help-assessment", "version": 1},
            "answers": answers or assessment_answers(),
            "status": "submitted",
        }
        response = await self.assessment.post("/assessments", json=body, headers=author.headers)
        assert response.status_code == 201, response.text
        assessment_id: str = response.json()["id"]
        return assessment_id

    async def opened_plan(self, reader: Organisation, family_id: str, status: str = "draft") -> dict[str, Any]:
        """The family's plan once the plan service has opened it from the submitted assessment."""
        found: list[dict[str, Any]] = []

        async def listed() -> bool:
            response = await self.plans.get("/plans", params={"family_id": family_id}, headers=reader.headers)
            found[:] = [plan for plan in response.json() if plan["status"] == status]
            return response.status_code == 200 and len(found) == 1

        await eventually(listed)
        response = await self.plans.get(f"/plans/{found[0]['id']}", headers=reader.headers)
        assert response.status_code == 200, response.text
        plan: dict[str, Any] = response.json()
        assert response.headers["ETag"] == f'"{plan["version"]}"'
        return plan

    async def change(
        self, who: Organisation, plan: dict[str, Any], path: str, body: dict[str, Any], method: str = "POST"
    ) -> dict[str, Any]:
        """A change made with the ETag of `plan`; returns the plan as changed."""
        headers = {**who.headers, "If-Match": f'"{plan["version"]}"'}
        response = await self.plans.request(method, f"/plans/{plan['id']}{path}", json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        changed: dict[str, Any] = response.json()
        return changed

    async def active_plan(
        self, council: Organisation, family_id: str, *, activated_on: str | None = None
    ) -> dict[str, Any]:
        """The family's opened plan with a lead, a goal for its first need, and activated."""
        plan = await self.opened_plan(council, family_id)
        lead = {"name": "Sam Lead", "organisation_id": council.id}
        plan = await self.change(council, plan, "", {"lead_professional": lead}, method="PATCH")
        goal = {
            "need_ids": [plan["needs"][0]["id"]],
            "outcome_area": plan["needs"][0]["outcome_area"],
            "description": "Maisie is in school every day and on time.",
            "measure_of_success": "Attendance above 95% for a term.",
        }
        plan = await self.change(council, plan, "/goals", goal)
        return await self.change(council, plan, "/activate", {"activated_on": activated_on} if activated_on else {})


@pytest.fixture
async def plan_stack(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[PlanStack]:
    nats = NatsSettings(url=nats_server.url, reconnect_wait_seconds=0.1)
    consent_app = create_consent_app(
        ConsentSettings(data_dir=tmp_path, database=DatabaseSettings(url=await database_factory("consent")), nats=nats)
    )
    async with (
        running(token_endpoint(token_mint, PLATFORM_ORGANISATION, SERVICE_CLIENT.id)) as issuer_url,
        running(consent_app) as consent_url,
    ):
        token_mint.trust(consent_app)
        settings = assessment_settings(nats_server.url, await database_factory("assessment"), tmp_path)
        settings.access_decisions_url = consent_url
        settings.service_client = SERVICE_CLIENT.model_copy(update={"token_url": f"{issuer_url}/oauth/token"})
        assessment_app = create_assessment_app(settings)
        async with running(assessment_app) as assessment_url:
            token_mint.trust(assessment_app)
            plan_app = create_plan_app(
                PlanSettings(
                    data_dir=tmp_path,
                    database=DatabaseSettings(url=await database_factory("plan")),
                    nats=nats,
                    consumer=ConsumerSettings(max_attempts=3, retry_delay_seconds=0.05),
                    access_decisions_url=consent_url,
                    assessment_url=assessment_url,
                    review_sweep_seconds=0.2,
                    service_client=SERVICE_CLIENT.model_copy(update={"token_url": f"{issuer_url}/oauth/token"}),
                )
            )
            async with running(plan_app) as plan_url:
                token_mint.trust(plan_app)
                async with (
                    httpx.AsyncClient(base_url=plan_url) as plans,
                    httpx.AsyncClient(base_url=assessment_url) as assessment,
                    httpx.AsyncClient(base_url=consent_url) as consent,
                ):
                    apps = (consent_app, assessment_app, plan_app)
                    await eventually(lambda: _connected(*apps))
                    yield PlanStack(plan_app, plans, assessment, consent, nats_server, token_mint)


async def _connected(*apps: FastAPI) -> bool:
    return all(app.state.broker.is_connected for app in apps)
