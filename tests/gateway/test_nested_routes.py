"""A path under one service's prefix that another service owns reaches that service, and only that path does."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from gateway.config import UpstreamSettings
from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint, running
from tests.gateway.upstream import create_echo_app
from tests.support.gateway import Gateway
from tests.support.stack import MigratedDatabase, started


@pytest.fixture
async def plan_echo() -> AsyncIterator[FastAPI]:
    """A stand-in for the plan service alone; `echo` stands in for every other."""
    app = create_echo_app()
    async with running(app) as url:
        app.state.url = url
        yield app


@pytest.fixture
async def split_gateway(
    nats_server: NatsServer,
    migrated_database: MigratedDatabase,
    tmp_path: Path,
    token_mint: TokenMint,
    echo: tuple[str, FastAPI],
    plan_echo: FastAPI,
) -> AsyncIterator[Gateway]:
    others = echo[0]
    upstream = UpstreamSettings(
        assessment_url=others, consent_url=others, plan_url=plan_echo.state.url, notifications_url=others
    )
    async with started(
        "gateway",
        nats=nats_server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        upstream_url=others,
        settings={"gateway": {"upstream": upstream}},
    ) as stack:
        assert stack.gateway is not None
        yield stack.gateway


async def test_a_family_s_social_care_referrals_reach_the_plan_service_and_its_other_paths_the_assessment_service(
    split_gateway: Gateway, echo: tuple[str, FastAPI], plan_echo: FastAPI
) -> None:
    bearer = await split_gateway.bearer()
    to_plan = [
        ("POST", "/families/f-1/social-care-referrals"),
        ("GET", "/families/f-1/social-care-referrals"),
        ("GET", "/social-care-referrals/r-1"),
        ("POST", "/social-care-referrals/r-1/outcome"),
    ]
    to_assessment = [
        ("GET", "/families/f-1"),
        ("GET", "/families/f-1/assessments"),
        ("GET", "/families/social-care-referrals"),  # a family's id, not the nested path
        ("GET", "/families/f-1/social-care-referrals-of-another-kind"),
    ]
    for method, path in to_plan + to_assessment:
        calls_before = len(plan_echo.state.calls), len(echo[1].state.calls)
        response = await split_gateway.http.request(method, path, json={} if method == "POST" else None, headers=bearer)
        assert response.status_code in (200, 201) and response.json()["path"] == path, (path, response.text)
        reached = (len(plan_echo.state.calls) - calls_before[0], len(echo[1].state.calls) - calls_before[1])
        assert reached == ((1, 0) if (method, path) in to_plan else (0, 1)), (method, path, reached)


async def test_the_front_door_report_reaches_the_assessment_service_and_every_other_report_the_plan_service(
    split_gateway: Gateway, echo: tuple[str, FastAPI], plan_echo: FastAPI
) -> None:
    bearer = await split_gateway.bearer()
    to_assessment = ["/reports/front-door"]
    to_plan = ["/reports/re-referrals", "/reports/open-work", "/reports/front-door-and-more"]
    for path in to_assessment + to_plan:
        calls_before = len(plan_echo.state.calls), len(echo[1].state.calls)
        response = await split_gateway.http.get(path, params={"by": "agency"}, headers=bearer)
        assert response.status_code == 200 and response.json()["path"] == path, (path, response.text)
        reached = (len(plan_echo.state.calls) - calls_before[0], len(echo[1].state.calls) - calls_before[1])
        assert reached == ((0, 1) if path in to_assessment else (1, 0)), (path, reached)
