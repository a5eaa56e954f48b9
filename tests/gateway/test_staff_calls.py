"""The staff pages' calls: a token of the signed-in member's own, and a refused token not kept."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from joserfc import jwt

from gateway.config import GatewaySettings, UpstreamSettings
from gateway.frontend.calls import ServiceProblem, StaffCalls
from gateway.frontend.sessions import SignedIn
from services.kit.testing import running
from tests.support.gateway import Gateway


def refusing_first_token() -> FastAPI:
    """An assessment service that refuses the first token it meets, as after a key rotation."""
    app = FastAPI()
    app.state.seen = []

    @app.get("/assessments/{assessment_id}")
    async def read(assessment_id: str, request: Request) -> JSONResponse:
        authorization = request.headers["authorization"]
        app.state.seen.append(authorization)
        if authorization == app.state.seen[0]:
            return JSONResponse({"status": 401, "title": "Authentication required"}, status_code=401)
        return JSONResponse({"id": assessment_id})

    return app


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, FastAPI]]:
    app = refusing_first_token()
    async with running(app) as url:
        yield url, app


def member(user_id: str) -> SignedIn:
    return SignedIn(
        user_id=user_id,
        user_name="A practitioner",
        roles="practitioner",
        organisation_id="org-school",
        organisation_name="Hill Top Primary",
        organisation_type="school",
        organisation_roles=[],
        csrf_token="csrf",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def staff_calls(gateway: Gateway, upstream_url: str, signed_in: SignedIn) -> StaffCalls:
    settings: GatewaySettings = gateway.app.state.settings.model_copy(
        update={"upstream": UpstreamSettings(assessment_url=upstream_url)}
    )
    state = SimpleNamespace(
        settings=settings, signing_keys=gateway.app.state.signing_keys, upstream=gateway.app.state.upstream
    )
    return StaffCalls(Request({"type": "http", "app": SimpleNamespace(state=state)}), signed_in)


async def test_a_refused_token_is_minted_afresh_once_and_not_kept(
    gateway: Gateway, upstream: tuple[str, FastAPI]
) -> None:
    url, app = upstream
    calls = staff_calls(gateway, url, member("user-1"))

    first = await calls.get("/assessments/a1")
    second = await calls.get("/assessments/a2")

    assert (first, second) == ({"id": "a1"}, {"id": "a2"})
    refused, fresh, kept = app.state.seen
    assert refused != fresh == kept


async def test_each_member_calls_with_a_token_naming_them(gateway: Gateway, upstream: tuple[str, FastAPI]) -> None:
    url, app = upstream
    await staff_calls(gateway, url, member("user-0")).get("/assessments/a0")  # takes the refusal

    await staff_calls(gateway, url, member("user-1")).get("/assessments/a1")
    await staff_calls(gateway, url, member("user-2")).get("/assessments/a2")

    subjects = [jwt.decode(seen.removeprefix("Bearer "), gateway.app.state.signing_keys.signing_key()).claims["sub"]
                for seen in app.state.seen]  # fmt: skip
    assert subjects == ["user-0", "user-0", "user-1", "user-2"]


def answering_csv() -> FastAPI:
    """An assessment service whose report answers CSV when asked for it, and whose assessment answers JSON only."""
    app = FastAPI()

    @app.get("/reports/front-door")
    async def report(request: Request) -> Response:
        app.state.accept = request.headers.get("accept")
        return Response("outcome,decisions\nsignpost,2\n", media_type="text/csv; charset=utf-8")

    @app.get("/assessments/{assessment_id}")
    async def read(assessment_id: str) -> JSONResponse:
        return JSONResponse({"id": assessment_id})

    return app


async def test_a_csv_asked_for_comes_back_as_written_and_json_in_its_place_is_a_problem(gateway: Gateway) -> None:
    app = answering_csv()
    async with running(app) as url:
        calls = staff_calls(gateway, url, member("user-1"))

        written = await calls.text("/reports/front-door", {"from": "2026-01-01"}, "text/csv")
        with pytest.raises(ServiceProblem) as refused:
            await calls.text("/assessments/a1", {}, "text/csv")

    assert written == "outcome,decisions\nsignpost,2\n"
    assert app.state.accept == "text/csv"
    assert refused.value.status == 502
    assert refused.value.detail == "The service did not answer in text/csv. Try again later."
