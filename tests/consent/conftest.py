"""The consent service and the assessment service, each on a real port, talking over HTTP as they do in production."""

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
from services.kit.settings import DatabaseSettings, NatsSettings, ServiceClientSettings
from services.kit.testing import DatabaseFactory, TokenMint, running, token_endpoint
from tests.assessment.conftest import Organisation, assessment_settings, family_body, sample
from tests.kit.conftest import eventually

EVERY_SCOPE = "assessments:read assessments:write consent:read consent:write"


@dataclass
class Stack:
    consent_app: FastAPI
    assessment_app: FastAPI
    consent: httpx.AsyncClient
    assessment: httpx.AsyncClient
    nats: NatsServer
    mint: TokenMint

    def organisation(self, org_id: str, org_type: str, scopes: str = EVERY_SCOPE, subject: str = "") -> Organisation:
        claims = {"sub": subject or f"client-{org_id}"}
        return Organisation(
            org_id,
            org_type,
            self.mint.headers(scopes, organisation_id=org_id, organisation_type=org_type, claims=claims),
        )

    async def family_with_assessment(self, author: Organisation, nhs_number: str = "9434765919") -> tuple[str, str]:
        """A family registered by `author`, and a submitted early help assessment it wrote."""
        family = await self.assessment.post("/families", json=family_body(nhs_number), headers=author.headers)
        assert family.status_code == 201, family.text
        family_id: str = family.json()["id"]
        body = {
            "family_id": family_id,
            "form": {"key": "early-help-assessment", "version": 1},
            "answers": sample("early-help-assessment", 1),
            "status": "submitted",
        }
        created = await self.assessment.post("/assessments", json=body, headers=author.headers)
        assert created.status_code == 201, created.text
        assessment_id: str = created.json()["id"]
        return family_id, assessment_id

    async def grant(self, recorder: Organisation, family_id: str, **terms: Any) -> dict[str, Any]:
        body = {"family_id": family_id, "given_by_role": "parent_or_carer", "evidence": "written", **terms}
        response = await self.consent.post("/consents", json=body, headers=recorder.headers)
        assert response.status_code == 201, response.text
        grant: dict[str, Any] = response.json()
        return grant


@pytest.fixture
async def stack(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[Stack]:
    consent_app = create_consent_app(
        ConsentSettings(
            data_dir=tmp_path,
            database=DatabaseSettings(url=await database_factory("consent")),
            nats=NatsSettings(url=nats_server.url, reconnect_wait_seconds=0.1),
            expiry_sweep_seconds=0.2,
        )
    )
    issuer = token_endpoint(token_mint, "org-platform", "assessment-service")
    async with running(issuer) as issuer_url, running(consent_app) as consent_url:
        token_mint.trust(consent_app)
        settings = assessment_settings(nats_server.url, await database_factory("assessment"), tmp_path)
        settings.access_decisions_url = consent_url
        # Its own client lets the assessment service keep a copy of grants it can trust (kit/access_projection.py).
        settings.service_client = ServiceClientSettings(
            id="assessment-service", secret="unused", token_url=f"{issuer_url}/oauth/token"
        )
        assessment_app = create_assessment_app(settings)
        async with running(assessment_app) as assessment_url:
            token_mint.trust(assessment_app)
            async with (
                httpx.AsyncClient(base_url=consent_url) as consent,
                httpx.AsyncClient(base_url=assessment_url) as assessment,
            ):
                await eventually(lambda: _connected(consent_app, assessment_app))
                yield Stack(consent_app, assessment_app, consent, assessment, nats_server, token_mint)


async def _connected(*apps: FastAPI) -> bool:
    return all(app.state.broker.is_connected for app in apps)
