"""The consent service and the assessment service, each on a real port, talking over HTTP as they do in production."""

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint
from tests.support.organisations import Organisation, organisation
from tests.support.samples import family_body, submitted_sample
from tests.support.stack import Started

EVERY_SCOPE = "assessments:read assessments:write consent:read consent:write"


@dataclass
class ConsentStack:
    consent_app: FastAPI
    assessment_app: FastAPI
    consent: httpx.AsyncClient
    assessment: httpx.AsyncClient
    nats: NatsServer
    mint: TokenMint

    @classmethod
    def of(cls, stack: Started) -> "ConsentStack":
        apps, clients = stack.apps, stack.clients
        return cls(
            apps["consent"], apps["assessment"], clients["consent"], clients["assessment"], stack.nats, stack.mint
        )

    def organisation(
        self, org_id: str, org_type: str, scopes: str = EVERY_SCOPE, subject: str = "", roles: tuple[str, ...] = ()
    ) -> Organisation:
        return organisation(self.mint, org_id, org_type, scopes, subject or f"client-{org_id}", roles)

    async def tell(self, family_id: str, kind: str, organisation: Organisation, categories: list[str]) -> None:
        """What the plan or assessment service tells the consent service of an organisation's standing."""
        body = {"family_id": family_id, "kind": kind, "organisation_ids": [organisation.id], "categories": categories}
        told = await self.consent.post("/internal/relations", json=body, headers=self.mint.headers("service"))
        assert told.status_code == 204, told.text

    async def family_with_assessment(self, author: Organisation, nhs_number: str = "9434765919") -> tuple[str, str]:
        """A family registered by `author`, and a submitted early help assessment it wrote."""
        family = await self.assessment.post("/families", json=family_body(nhs_number), headers=author.headers)
        assert family.status_code == 201, family.text
        family_id: str = family.json()["id"]
        body = submitted_sample(family_id, "early-help-assessment")
        created = await self.assessment.post("/assessments", json=body, headers=author.headers)
        assert created.status_code == 201, created.text
        assessment_id: str = created.json()["id"]
        return family_id, assessment_id

    async def grant(self, recorder: Organisation, family_id: str, **terms: Any) -> dict[str, Any]:
        return await grant(self.consent, recorder, family_id, **terms)


async def grant(consent: httpx.AsyncClient, recorder: Organisation, family_id: str, **terms: Any) -> dict[str, Any]:
    """A consent grant recorded by `recorder` for the family, with `terms` added to the usual ones."""
    body = {"family_id": family_id, "given_by_role": "parent_or_carer", "evidence": "written", **terms}
    response = await consent.post("/consents", json=body, headers=recorder.headers)
    assert response.status_code == 201, response.text
    granted: dict[str, Any] = response.json()
    return granted
