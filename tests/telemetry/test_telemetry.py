"""Metrics and traces, through the gateway, with every service, real NATS and real databases.

Each process keeps its spans in memory (`TRACES_EXPORTER=memory`) so that the
test reads what an OTLP collector would have received.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from services.kit.natsserver import NatsServer
from services.kit.settings import TracingSettings
from services.kit.testing import TokenMint
from tests.support.gateway import Gateway
from tests.support.receiver import Receiver
from tests.support.samples import family_body, sample, submitted_sample
from tests.support.stack import MigratedDatabase, Started, started
from tests.support.waiting import eventually

NAMES = ("consent", "assessment", "plan", "notifications", "gateway")
SCOPES = ["assessments:read", "assessments:write", "plans:read", "plans:write", "subscriptions:manage"]
NHS_NUMBER = "9434765919"
# What the family and the assessment say about people, none of which may reach a span or a label.
PERSONAL = ("Amara", "Okafor", "Grace", "2017-05-14", NHS_NUMBER, "Maisie", "Carter", "2016-05-14", "Hollybrook")
A_CALLERS_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@dataclass
class Traced:
    stack: Started
    gateway: Gateway

    def spans(self, name: str) -> list[ReadableSpan]:
        app: FastAPI = self.stack.apps[name]
        return list(app.state.tracing.finished_spans())

    def every_span(self) -> list[ReadableSpan]:
        return [span for name in NAMES for span in self.spans(name)]

    async def scrape(self, name: str) -> str:
        """`/metrics` on the process's own port, with no token, as the cluster's scraper reads it."""
        async with httpx.AsyncClient(base_url=self.stack.urls[name], timeout=30) as scraper:
            response = await scraper.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return response.text


@pytest.fixture
async def traced(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[Traced]:
    memory: dict[str, dict[str, Any]] = {name: {"tracing": TracingSettings(exporter="memory")} for name in NAMES}
    quick = {"retry_delays_seconds": [0.2, 0.4, 0.8], "delivery_timeout_seconds": 2.0}
    memory["notifications"] |= quick
    async with started(
        *NAMES, nats=nats_server, database=migrated_database, data_dir=tmp_path, mint=token_mint, settings=memory
    ) as stack:
        assert stack.gateway is not None
        yield Traced(stack, stack.gateway)


async def organisation(gateway: Gateway, name: str, kind: str) -> tuple[str, dict[str, str]]:
    admin = await gateway.bearer()
    created = await gateway.http.post("/admin/organisations", json={"name": name, "type": kind}, headers=admin)
    assert created.status_code == 201, created.text
    client = await gateway.http.post(
        "/admin/clients", json={"organisation_id": created.json()["id"], "name": name, "scopes": SCOPES}, headers=admin
    )
    assert client.status_code == 201, client.text
    return created.json()["id"], await gateway.bearer(
        client_id=client.json()["id"], secret=client.json()["client_secret"]
    )


async def submit_an_assessment(traced: Traced, headers: dict[str, str]) -> tuple[str, str]:
    """A family and its submitted early help assessment, through the gateway; their ids."""
    http = traced.gateway.http
    family = await http.post("/families", json=family_body(NHS_NUMBER), headers=headers)
    assert family.status_code == 201, family.text
    family_id = family.json()["id"]
    found = await http.get("/families", params={"identifier": f"nhs:{NHS_NUMBER}"}, headers=headers)
    assert found.status_code == 200, found.text
    submitted = await http.post(
        "/assessments",
        json=submitted_sample(family_id, "early-help-assessment"),
        headers={**headers, "traceparent": A_CALLERS_TRACE},
    )
    assert submitted.status_code == 201, submitted.text
    return family_id, submitted.json()["id"]


async def a_draft_plan_opens(traced: Traced, family_id: str, headers: dict[str, str]) -> None:
    async def plan_opened() -> bool:
        plans = await traced.gateway.http.get("/plans", params={"family_id": family_id}, headers=headers)
        return plans.status_code == 200 and len(plans.json()) == 1

    await eventually(plan_opened, within=20)


def value(metrics: str, name: str, **labels: str) -> float:
    """The sample `name` with these labels (others ignored), summed; 0 when there is none."""
    total = 0.0
    for family in text_string_to_metric_families(metrics):
        for found in family.samples:
            if found.name == name and all(found.labels.get(key) == wanted for key, wanted in labels.items()):
                total += found.value
    return total


def labels_of(metrics: str) -> set[str]:
    return {
        label for family in text_string_to_metric_families(metrics) for found in family.samples
        for label in found.labels.values()
    }  # fmt: skip


async def test_counters_move_as_requests_and_events_flow(traced: Traced) -> None:
    gateway_before = await traced.scrape("gateway")
    assert value(gateway_before, "pathway_http_request_duration_seconds_count", route="/assessments") == 0

    _, council = await organisation(traced.gateway, "Telemetry Council", "council")
    _, stranger = await organisation(traced.gateway, "Telemetry Stranger School", "school")
    receiver = Receiver()
    await receiver.start()
    try:
        subscribed = await traced.gateway.http.post(
            "/subscriptions", json={"url": receiver.url, "event_types": ["plan.*"]}, headers=council
        )
        assert subscribed.status_code == 201, subscribed.text
        receiver.secrets.append(subscribed.json()["secret"])
        family_id, assessment_id = await submit_an_assessment(traced, council)
        await a_draft_plan_opens(traced, family_id, council)
        assert (await traced.gateway.http.get(f"/assessments/{assessment_id}", headers=council)).status_code == 200
        refused = await traced.gateway.http.get(f"/assessments/{assessment_id}", headers=stranger)
        assert refused.status_code == 403, refused.text
        await receiver.arrived(1)
    finally:
        await receiver.stop()

    gateway = await traced.scrape("gateway")
    # Proxied requests are counted by the gateway's route template, never by the path with its ids.
    assert value(gateway, "pathway_http_request_duration_seconds_count", method="POST", route="/assessments",
                 status_class="2xx") == 1  # fmt: skip
    assert value(gateway, "pathway_http_request_duration_seconds_count", method="GET",
                 route="/assessments/{rest:path}", status_class="4xx") == 1  # fmt: skip
    assert not any(assessment_id in label or family_id in label for label in labels_of(gateway))
    # The gateway answers its own /metrics and routes no service's: no route of a service is in it.
    assert "/assessments/{assessment_id}" not in labels_of(gateway)

    assessment = await traced.scrape("assessment")
    assert value(assessment, "pathway_http_request_duration_seconds_count", method="GET",
                 route="/assessments/{assessment_id}", status_class="2xx") == 1  # fmt: skip
    assert value(assessment, "pathway_events_published_total") >= 2  # the family registered, the assessment
    assert value(assessment, "pathway_access_decisions_total", outcome="permitted", basis="authorship") >= 1
    assert value(assessment, "pathway_access_decisions_total", outcome="refused") == 1

    async def settled() -> bool:
        plan = await traced.scrape("plan")
        return value(plan, "pathway_events_consumed_total", consumer="plan-assessments", outcome="applied") >= 1

    await eventually(settled)
    plan = await traced.scrape("plan")
    assert value(plan, "pathway_consumer_pending", consumer="plan-assessments") == 0
    assert value(plan, "pathway_outbox_backlog") == 0
    assert value(plan, "pathway_dead_letters_total") == 0

    notifications = await traced.scrape("notifications")
    assert value(notifications, "pathway_webhook_deliveries_total", outcome="delivered") >= 1
    assert value(notifications, "pathway_webhook_deliveries_total", outcome="failed") == 0


async def test_one_submitted_assessment_is_one_trace_from_the_gateway_through_nats_to_the_plan_service(
    traced: Traced,
) -> None:
    _, council = await organisation(traced.gateway, "Tracing Council", "council")
    family_id, _ = await submit_an_assessment(traced, council)
    await a_draft_plan_opens(traced, family_id, council)

    def consumed() -> list[ReadableSpan]:
        return [s for s in traced.spans("plan") if s.name == "process pathway.assessment.submitted"]

    async def plan_consumed() -> bool:
        return len(consumed()) == 1

    await eventually(plan_consumed)
    (gateway_span,) = [s for s in traced.spans("gateway") if s.name == "POST /assessments"]
    (served,) = [s for s in traced.spans("assessment") if s.name == "POST /assessments"]
    (published,) = [s for s in traced.spans("assessment") if s.name == "publish pathway.assessment.submitted"]
    (consumer,) = consumed()
    assert gateway_span.context is not None and served.context is not None and published.context is not None
    trace_id = gateway_span.context.trace_id

    # A caller from outside does not choose the trace: the gateway starts it.
    assert gateway_span.parent is None
    assert f"{trace_id:032x}" not in A_CALLERS_TRACE
    assert gateway_span.kind == SpanKind.SERVER and gateway_span.attributes is not None
    assert gateway_span.attributes["http.response.status_code"] == 201
    assert served.parent is not None and served.parent.span_id == gateway_span.context.span_id
    assert published.kind == SpanKind.PRODUCER
    assert published.parent is not None and published.parent.span_id == served.context.span_id
    assert consumer.kind == SpanKind.CONSUMER
    assert consumer.parent is not None and consumer.parent.span_id == published.context.span_id
    assert {span.context.trace_id for span in (gateway_span, served, published, consumer) if span.context} == {trace_id}
    # The plan service's call back to the assessment service for its findings is in the same trace.
    assert consumer.context is not None
    callbacks = [s for s in traced.spans("assessment") if s.parent and s.parent.span_id == consumer.context.span_id]
    assert callbacks and all(s.context and s.context.trace_id == trace_id for s in callbacks)


async def test_no_span_and_no_label_holds_a_name_a_date_of_birth_or_an_answer(traced: Traced) -> None:
    _, council = await organisation(traced.gateway, "Privacy Council", "council")
    family_id, assessment_id = await submit_an_assessment(traced, council)
    await a_draft_plan_opens(traced, family_id, council)
    answers = json.dumps(sample("early-help-assessment", 1))
    assert all(word in answers or word in json.dumps(family_body(NHS_NUMBER)) for word in PERSONAL)

    spans = traced.every_span()
    assert {"gateway", "assessment", "plan", "consent"} <= {str(s.resource.attributes["service.name"]) for s in spans}
    told: list[Any] = []
    for span in spans:
        told.append(span.name)
        told.extend((span.attributes or {}).values())
        told.extend(event.name for event in span.events)
        told.extend(value for event in span.events for value in (event.attributes or {}).values())
        told.append(span.status.description or "")
    for name in NAMES:
        told.extend(labels_of(await traced.scrape(name)))
    leaked = [str(text) for text in told if any(word in str(text) for word in PERSONAL)]
    assert leaked == []
    # Routes are templates; the query string of the search by NHS number is nowhere.
    routes = {str((span.attributes or {}).get("http.route")) for span in spans} - {"None"}
    assert "/families" in routes and "/assessments" in routes
    assert not any("?" in route or assessment_id in route or family_id in route for route in routes)
