"""Readiness, request ids and logs, as every service built with the kit has them."""

import pytest

from tests.support.notes import RunningNotes
from tests.support.streams import stream_messages
from tests.support.waiting import eventually


async def test_readyz_says_which_dependency_is_missing(notes: RunningNotes) -> None:
    ready = await notes.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": True, "nats": True}}

    notes.nats.stop()

    async def not_ready() -> bool:
        return (await notes.client.get("/readyz")).status_code == 503

    await eventually(not_ready)
    problem = (await notes.client.get("/readyz")).json()
    assert problem["checks"] == {"database": True, "nats": False}
    assert problem["detail"] == "Not ready: nats."


async def test_request_id_travels_into_the_event(notes: RunningNotes) -> None:
    response = await notes.client.post(
        "/notes", json={"aggregate": "f", "text": "t"}, headers={"X-Request-ID": "school-mis-7731"}
    )
    assert response.headers["x-request-id"] == "school-mis-7731"

    async def published() -> bool:
        return len(await stream_messages(notes.nats.url)) == 1

    await eventually(published)
    (message,) = await stream_messages(notes.nats.url)
    assert message.event.get_extension("requestid") == "school-mis-7731"


async def test_logs_hold_no_personal_data_even_when_a_handler_fails(
    capsys: pytest.CaptureFixture[str],  # first, so that the service logs into it from its start
    notes: RunningNotes,
) -> None:
    text = "Amelia Hartley, born 2016-04-09, disclosed worries at home"
    ok = await notes.client.post("/notes?nhs=9434765919", json={"aggregate": "f", "text": text})
    assert ok.status_code == 201
    failed = await notes.client.post("/notes?nhs=9434765919", json={"aggregate": "f", "text": text, "explode": True})
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert "Amelia" not in failed.text
    assert failed.json()["request_id"] == failed.headers["x-request-id"], "a 500 can be traced like any answer"

    logged = capsys.readouterr().err
    assert '"path": "/notes"' in logged  # the requests were logged...
    error_line = next(line for line in logged.splitlines() if '"unhandled error"' in line)
    assert "RuntimeError" in error_line  # ...and so was the failure's type,
    assert failed.headers["x-request-id"] in error_line  # with the request it belongs to
    for personal in ("Amelia", "Hartley", "2016-04-09", "9434765919", "disclosed"):
        assert personal not in logged
