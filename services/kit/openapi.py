"""Every error a route can answer, declared in the app's OpenAPI document.

Partners generate clients from the document, and a client handles only the
statuses it lists. Most error answers follow from what a route takes, so they
are derived here from the route rather than written on every decorator: a path
parameter names a resource that may not exist (404), a token may be missing
(401) or not enough (403), `If-Match` may be stale (412) or missing (428), a
body may be malformed (400), too large (413), of another type (415) or invalid
(422). What only the use case knows, such as a conflict with the current state
(409), a route declares itself with `responses=problems(409)`.

Every one of them is `application/problem+json` with the shared `Problem` schema.
"""

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from services.kit.auth import current_principal
from services.kit.problems import PROBLEM_MEDIA_TYPE, Problem

PROBLEM_SCHEMA = "Problem"

DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request, such as a body that is not JSON or a string that is not valid Unicode",
    401: "No valid access token",
    403: "The token lacks a scope, or the organisation may not see this",
    404: "Not found, or not one the organisation may know of",
    409: "Conflicts with the current state",
    412: "`If-Match` names a version that is no longer current; `current_etag` names the one that is",
    413: "The body is too large",
    415: "The body is not JSON",
    422: "The request is not valid; `errors` lists the failing JSON pointers or parameters",
    428: "`If-Match` is required",
    429: "Too many requests; `Retry-After` says when to come back",
    500: "A fault of ours",
    502: "A service behind the gateway did not answer",
    503: "A service this one relies on is unavailable",
    504: "A service behind the gateway was too slow",
}
IF_MATCH = "if-match"


def problem_doc(description: str) -> dict[str, Any]:
    """One error answer as the document declares it."""
    schema = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}}}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the answers only the use case knows of, described as every route describes them."""
    return {status: problem_doc(DESCRIPTIONS[status]) for status in statuses}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    return {d.call for d in _dependants(dependant) if d.call is not None}


def derived_statuses(route: APIRoute) -> set[int]:
    """The error statuses a route can answer because of what it takes."""
    dependants = list(_dependants(route.dependant))
    statuses = {400, 500}
    if current_principal in _calls(route.dependant):
        statuses |= {401, 403, 503}
    if any(d.path_params for d in dependants):
        statuses.add(404)
    if any(d.path_params or d.query_params or d.header_params or d.body_params for d in dependants):
        statuses.add(422)
    if any(d.body_params for d in dependants):
        statuses |= {413, 415}
    if any(param.alias.lower() == IF_MATCH for d in dependants for param in d.header_params):
        statuses |= {412, 428}
    return statuses


def declare_problems(router: APIRouter) -> None:
    """Adds to each of `router`'s routes the error answers it can give, keeping those it declared itself.

    Declared on the routes (before the router is included) rather than on the finished
    document, so that FastAPI sees a 422 of ours and adds none of its own.
    """
    for route in router.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            route.responses = problems(*sorted(derived_statuses(route))) | route.responses


def with_problem_schema(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the `Problem` schema its error answers refer to."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[PROBLEM_SCHEMA] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    return document


def install_problem_schema(app: FastAPI) -> None:
    """Makes `app.openapi()` hold the `Problem` schema; the document is built once, on first use."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problem_schema(
                get_openapi(title=app.title, version=app.version, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
