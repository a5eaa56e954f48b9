"""`make up` on a fresh copy of the repository runs the system, keeps its data, and stops cleanly."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from services.kit.natsserver import free_port
from tests.support.makeup import REPOSITORY, MakeUp, bearer, fresh_copy, printed, processes_under

pytestmark = pytest.mark.e2e


def post_assessment_through_the_gateway(url: str, headers: dict[str, str]) -> dict[str, Any]:
    """A family and a submitted early help assessment, as a health system posts them, read back."""
    family = httpx.post(
        f"{url}/families",
        json={"members": [{"role": "child", "given_name": "Amara", "family_name": "Okafor",
                           "identifiers": [{"system": "nhs", "value": "9434765919"}]}]},
        headers={**headers, "Idempotency-Key": "e2e-family"},
    )  # fmt: skip
    assert family.status_code == 201, family.text
    answers = json.loads((REPOSITORY / "tests/assessment/samples/early-help-assessment-1.json").read_text())
    body = {
        "family_id": family.json()["id"],
        "form": {"key": "early-help-assessment", "version": 1},
        "answers": answers,
        "status": "submitted",
    }
    created = httpx.post(f"{url}/assessments", json=body, headers=headers)
    assert created.status_code == 201, created.text
    read = httpx.get(f"{url}{created.headers['location']}", headers=headers)
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    assert read.json()["answers"] == answers
    stored: dict[str, Any] = read.json()
    return stored


def share_with_schools_then_withdraw(
    url: str, assessment: dict[str, Any], health: dict[str, str], school: dict[str, str]
) -> None:
    """Refused, then readable under the family's grant, then refused again within a second of its withdrawal."""
    path = f"{url}/assessments/{assessment['id']}"
    refused = httpx.get(path, headers=school)
    assert refused.status_code == 403 and refused.json()["type"].endswith(":access-refused")
    grant = httpx.post(
        f"{url}/consents",
        json={"family_id": assessment["family_id"], "given_by_role": "parent_or_carer", "evidence": "written",
              "categories": ["assessment"], "recipient_types": ["school"]},
        headers=health,
    )  # fmt: skip
    assert grant.status_code == 201, grant.text
    assert httpx.get(path, headers=school).json()["answers"] == assessment["answers"]
    withdrawn = httpx.post(f"{url}/consents/{grant.json()['id']}/withdraw", json={}, headers=health)
    assert withdrawn.json()["status"] == "withdrawn"
    withdrawn_at = time.monotonic()
    while httpx.get(path, headers=school).status_code != 403:
        assert time.monotonic() - withdrawn_at < 1.0, "the withdrawn grant still opened the assessment after a second"


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    """An integrator's endpoint on loopback: its URL, and each body with its headers as it came."""
    received: list[tuple[bytes, dict[str, str]]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, {name.lower(): value for name, value in self.headers.items()}))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()


def eventually_signed_plan_created(secret: str, received: list[tuple[bytes, dict[str, str]]]) -> dict[str, Any]:
    """The `plan.created` webhook, once it has come, checked against the subscription's secret."""
    deadline = time.monotonic() + 15
    while True:
        for body, headers in list(received):
            event: dict[str, Any] = Webhook(secret).verify(body, headers)
            if event["type"] == "plan.created":
                assert headers["content-type"].startswith("application/cloudevents+json")
                return event
        assert time.monotonic() < deadline, f"no plan.created webhook among {len(received)} received"
        time.sleep(0.2)


def eventually_planned(url: str, author: dict[str, str], assessment: dict[str, Any]) -> dict[str, Any]:
    """The draft plan the plan service opened from the submitted assessment, as itself, via the gateway's token."""
    deadline = time.monotonic() + 15
    while True:
        listed = httpx.get(f"{url}/plans", params={"family_id": assessment["family_id"]}, headers=author)
        assert listed.status_code == 200, listed.text
        if listed.json():
            (summary,) = listed.json()
            plan: dict[str, Any] = httpx.get(f"{url}/plans/{summary['id']}", headers=author).json()
            return plan
        assert time.monotonic() < deadline, "no plan was opened from the submitted assessment"
        time.sleep(0.2)


def eventually_audited(
    url: str, council: dict[str, str], family_id: str, bases: set[str], actions: set[str]
) -> list[dict[str, Any]]:
    """The family's access log, once it holds entries on each of these bases and actions (they arrive through NATS)."""
    deadline = time.monotonic() + 15
    while True:
        entries: list[dict[str, Any]] = httpx.get(
            f"{url}/audit", params={"family_id": family_id}, headers=council
        ).json()
        arrived = bases <= {entry["basis"] for entry in entries} and actions <= {entry["action"] for entry in entries}
        if arrived or time.monotonic() > deadline:
            assert arrived, entries
            return entries
        time.sleep(0.2)


def test_make_up_runs_the_system_keeps_its_data_and_sigterm_leaves_nothing_running(tmp_path: Path) -> None:
    checkout, data = tmp_path / "checkout", tmp_path / "data"
    fresh_copy(checkout)
    port = free_port()

    first = MakeUp(checkout, data, port, tmp_path / "first.log")
    try:
        ready = first.wait_ready()
        assert ready.json()["checks"] == {
            "database": True, "nats": True, "assessment": True, "consent": True, "plan": True, "notifications": True,
        }  # fmt: skip
        assert processes_under(checkout), "the services should run from the fresh copy"
        demo = json.loads((data / "demo-credentials.json").read_text())
        assert [d["type"] for d in demo] == ["council", "school", "health", "voluntary"]
        assert oct((data / "demo-credentials.json").stat().st_mode)[-3:] == "600"
        school = demo[1]
        token = httpx.post(
            f"{first.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(school["client_id"], school["client_secret"]),
        )
        assert token.status_code == 200, token.text
        routed = httpx.get(
            f"{first.url}/plans/unknown", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert routed.status_code == 404 and routed.headers["content-type"] == "application/problem+json"
        assert routed.json()["instance"] == "/plans/unknown", "the plan service itself answered, through the gateway"
        health_visitor = bearer(first.url, demo[2])
        with webhook_receiver() as (hook_url, received):
            subscribed = httpx.post(
                f"{first.url}/subscriptions", json={"url": hook_url, "event_types": ["plan.*"]}, headers=health_visitor
            )
            assert subscribed.status_code == 201, subscribed.text
            assessment = post_assessment_through_the_gateway(first.url, health_visitor)
            plan = eventually_planned(first.url, health_visitor, assessment)
            webhook = eventually_signed_plan_created(subscribed.json()["secret"], received)
        assert plan["status"] == "draft" and plan["assessment_id"] == assessment["id"]
        assert webhook["data"]["plan_id"] == plan["id"] and webhook["familyid"] == assessment["family_id"]
        assert [need["description"] for need in plan["needs"]] == [
            n["description"] for n in assessment["answers"]["needs"]
        ]
        share_with_schools_then_withdraw(first.url, assessment, health_visitor, bearer(first.url, school))
        council = bearer(first.url, demo[0])
        audit = eventually_audited(first.url, council, assessment["family_id"], {"grant", "authorship"}, {"withdraw"})
        assert {"read", "withdraw"} <= {entry["action"] for entry in audit}
        verified = httpx.get(f"{first.url}/audit/verify", params={"full": "true"}, headers=council).json()
        assert verified["valid"] and verified["entries"] >= len(audit)
    finally:
        first.stop()
    assert printed(first.log).count("client secret") == 1

    second = MakeUp(checkout, data, port, tmp_path / "second.log")
    try:
        second.wait_ready()
        again = httpx.post(
            f"{second.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(school["client_id"], school["client_secret"]),
        )
        assert again.status_code == 200, "the second run keeps the clients made by the first"
        kept = httpx.get(f"{second.url}/assessments/{assessment['id']}", headers=bearer(second.url, demo[2]))
        assert kept.json()["answers"] == assessment["answers"], "the second run keeps the assessments too"
    finally:
        second.stop()
    assert "client secret" not in printed(second.log), "the admin secret is shown once, on the first start only"

    deadline = time.monotonic() + 5
    while processes_under(checkout) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(checkout) == []
