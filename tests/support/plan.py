"""The plan service beside the assessment and consent services, each on a real port, as in production.

The plan service reads a submitted assessment's needs as itself, with a token
from the client-credentials grant; a small token endpoint stands in for the
gateway's (the gateway's own grant is tested with the gateway).
"""

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint
from tests.support import consent
from tests.support.organisations import Organisation, organisation
from tests.support.samples import assessment_answers, family_body, sample
from tests.support.stack import Started
from tests.support.waiting import eventually

EVERY_SCOPE = "assessments:read assessments:write consent:read consent:write plans:read plans:write reports:read"


@dataclass
class PlanStack:
    plan_app: FastAPI
    plans: httpx.AsyncClient
    assessment: httpx.AsyncClient
    consent: httpx.AsyncClient
    nats: NatsServer
    mint: TokenMint

    @classmethod
    def of(cls, stack: Started) -> "PlanStack":
        clients = stack.clients
        return cls(
            stack.apps["plan"], clients["plan"], clients["assessment"], clients["consent"], stack.nats, stack.mint
        )

    def organisation(
        self, org_id: str, org_type: str = "council", scopes: str = EVERY_SCOPE, roles: tuple[str, ...] = ()
    ) -> Organisation:
        return organisation(self.mint, org_id, org_type, scopes, f"worker@{org_id}", roles)

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


async def grant(stack: PlanStack, recorder: Organisation, family_id: str, **terms: Any) -> dict[str, Any]:
    """A consent grant recorded by `recorder` for the family, through the stack's consent service."""
    return await consent.grant(stack.consent, recorder, family_id, **terms)


async def draft_plan(
    http: httpx.AsyncClient,
    author: dict[str, str],
    nhs_number: str = "9434765919",
    answers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Through the gateway: a new family's draft plan, opened from its early help assessment submitted by `author`
    (the sample answers unless `answers` are given)."""
    family = (await http.post("/families", json=family_body(nhs_number), headers=author)).json()
    assessment = {"family_id": family["id"], "form": {"key": "early-help-assessment", "version": 1},
                  "answers": answers or sample("early-help-assessment", 1), "status": "submitted"}  # fmt: skip
    assert (await http.post("/assessments", json=assessment, headers=author)).status_code == 201
    listed: list[dict[str, Any]] = []

    async def opened() -> bool:
        listed[:] = (await http.get("/plans", params={"family_id": family["id"]}, headers=author)).json()
        return len(listed) == 1

    await eventually(opened)
    plan: dict[str, Any] = (await http.get(f"/plans/{listed[0]['id']}", headers=author)).json()
    assert plan["status"] == "draft" and plan["needs"], plan
    return plan
