import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.assessment.config import AssessmentSettings
from services.assessment.main import create_app
from services.kit.natsserver import NatsServer
from services.kit.settings import ConsumerSettings, DatabaseSettings, NatsSettings
from services.kit.testing import DatabaseFactory, TokenMint, serve
from tests.kit.conftest import eventually

SAMPLES = Path(__file__).parent / "samples"
WRITER = "assessments:read assessments:write"


def sample(key: str, version: int) -> dict[str, Any]:
    answers: dict[str, Any] = json.loads((SAMPLES / f"{key}-{version}.json").read_text())
    return answers


def submitted_sample(family_id: str, key: str, version: int = 1) -> dict[str, Any]:
    """The body of `POST /assessments` that submits the form's sample answers for a family at once."""
    form = {"key": key, "version": version}
    return {"family_id": family_id, "form": form, "answers": sample(key, version), "status": "submitted"}


@dataclass
class Organisation:
    id: str
    type: str
    headers: dict[str, str]


@dataclass
class RunningAssessments:
    app: FastAPI
    client: httpx.AsyncClient
    nats: NatsServer
    mint: TokenMint

    def organisation(self, org_id: str, org_type: str = "health", scopes: str = WRITER) -> Organisation:
        headers = self.mint.headers(
            scopes, organisation_id=org_id, organisation_type=org_type, claims={"sub": f"client-{org_id}"}
        )
        return Organisation(org_id, org_type, headers)

    async def register_family(self, org: Organisation, nhs_number: str = "9434765919") -> str:
        response = await self.client.post("/families", json=family_body(nhs_number), headers=org.headers)
        assert response.status_code == 201, response.text
        family_id: str = response.json()["id"]
        return family_id


def family_body(nhs_number: str = "9434765919") -> dict[str, Any]:
    return {
        "members": [
            {
                "role": "child",
                "given_name": "Amara",
                "family_name": "Okafor",
                "date_of_birth": "2017-05-14",
                "identifiers": [{"system": "nhs", "value": nhs_number}],
            },
            {"role": "adult", "given_name": "Grace", "family_name": "Okafor", "relationship": "mother"},
        ]
    }


def assessment_settings(nats_url: str, database_url: str, data_dir: Path) -> AssessmentSettings:
    return AssessmentSettings(
        data_dir=data_dir,
        database=DatabaseSettings(url=database_url),
        nats=NatsSettings(url=nats_url, reconnect_wait_seconds=0.1),
        consumer=ConsumerSettings(max_attempts=3, retry_delay_seconds=0.05),
    )


@pytest.fixture
async def assessments(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[RunningAssessments]:
    app = create_app(assessment_settings(nats_server.url, await database_factory("assessment"), tmp_path))
    async with serve(app) as client:
        token_mint.trust(app)
        await eventually(lambda: _connected(app))
        yield RunningAssessments(app, client, nats_server, token_mint)


async def _connected(app: FastAPI) -> bool:
    return bool(app.state.broker.is_connected)
