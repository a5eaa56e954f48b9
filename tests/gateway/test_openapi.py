"""One OpenAPI document describes the whole public API, and the API keeps to it."""

import asyncio
import re
import shutil
import sys
from pathlib import Path

from gateway.openapi import public_paths_of
from tests.gateway.conftest import Stack

ERRORS_EVERY_OPERATION_DOCUMENTS = {"401", "403", "422"}


async def test_the_merged_document_holds_every_public_route_with_its_errors(stack: Stack) -> None:
    merged = (await stack.gateway.http.get("/openapi.json")).json()
    assert "x-unavailable-services" not in merged

    expected: dict[str, dict[str, object]] = {}
    for name, app in stack.services.items():
        expected |= public_paths_of(name, app.openapi())
    for path in ("/oauth/token", "/.well-known/jwks.json", "/admin/organisations", "/admin/clients", "/admin/users"):
        expected[path] = {}
    for path in expected:
        assert path in merged["paths"], f"{path} is missing from the merged document"
    assert not any(path.startswith("/internal/") for path in merged["paths"])

    for path, item in merged["paths"].items():
        for method, operation in item.items():
            if path.startswith(("/admin/", "/plans", "/assessments", "/consents", "/families", "/subscriptions")):
                documented = set(operation["responses"])
                assert documented >= ERRORS_EVERY_OPERATION_DOCUMENTS, f"{method.upper()} {path}: {documented}"
                problem = operation["responses"]["401"]["content"]
                assert "application/problem+json" in problem

    flows = merged["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"
    assert merged["paths"]["/oauth/token"]["post"]["security"] == []


async def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(
    stack: Stack, tmp_path: Path
) -> None:
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert schemathesis is not None
    token = await stack.gateway.token()
    run = await asyncio.create_subprocess_exec(
        schemathesis, "run", f"{stack.gateway.url}/openapi.json",
        "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--header", f"Authorization: Bearer {token}",
        "--max-examples", "25", "--seed", "20261123", "--workers", "1",
        "--phases", "examples,coverage,fuzzing",
        "--exclude-path", "/admin/signing-keys/rotate",
        # A form definition is a deep document: generating one trips schemathesis's size, time and filter checks.
        "--suppress-health-check", "data_too_large,too_slow,filter_too_much",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    output, _ = await run.communicate()
    report = output.decode(errors="replace")
    assert run.returncode == 0, report[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None, report[-3000:]
    assert int(counts[1]) == int(counts[2]) >= 300, "schemathesis should exercise every operation many times"
