"""Listing and replaying a service's dead-lettered events over HTTP.

A replay runs the consumer's handler again through the inbox, in this service
only: other services that consume the same event have applied it already and
are not disturbed. A replayed event leaves the dead-letter stream once applied.
"""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from nats.js.errors import NotFoundError
from pydantic import BaseModel, Field

from services.kit.auth import require_scope
from services.kit.events.broker import Broker
from services.kit.events.consumer import (
    ATTEMPTS_HEADER,
    CONSUMER_HEADER,
    ERROR_HEADER,
    SUBJECT_HEADER,
    AlreadyProcessed,
    DurableConsumer,
    apply_once,
)
from services.kit.events.envelope import from_json
from services.kit.problems import ServiceUnavailable


class DeadLetter(BaseModel):
    sequence: int
    consumer: str
    subject: str
    event_id: str
    event_type: str
    error: str
    attempts: int
    dead_lettered_at: datetime | None


Outcome = Literal["applied", "already-applied", "failed", "not-found"]


class ReplayRequest(BaseModel):
    sequences: list[int] = Field(min_length=1, max_length=100)


class ReplayOutcome(BaseModel):
    """`failed` leaves the event dead-lettered; the others remove it."""

    sequence: int
    outcome: Outcome
    event_id: str | None = None
    error: str | None = None


def consumers_of(request: Request) -> dict[str, DurableConsumer]:
    consumers: dict[str, DurableConsumer] = request.app.state.consumers
    return consumers


def connected_broker(request: Request) -> Broker:
    broker: Broker = request.app.state.broker
    if not broker.is_connected:
        raise ServiceUnavailable("NATS is not reachable; dead letters cannot be read now.")
    return broker


ConsumersDep = Annotated[dict[str, DurableConsumer], Depends(consumers_of)]
BrokerDep = Annotated[Broker, Depends(connected_broker)]

router = APIRouter(prefix="/internal/dead-letters", tags=["operations"], dependencies=[Depends(require_scope("admin"))])


def _to_dead_letter(sequence: int, data: bytes, headers: dict[str, str], at: datetime | None) -> DeadLetter:
    event = from_json(data)
    return DeadLetter(
        sequence=sequence,
        consumer=headers.get(CONSUMER_HEADER, ""),
        subject=headers.get(SUBJECT_HEADER, ""),
        event_id=event.get_id(),
        event_type=event.get_type(),
        error=headers.get(ERROR_HEADER, ""),
        attempts=int(headers.get(ATTEMPTS_HEADER, "0")),
        dead_lettered_at=at,
    )


@router.get("")
async def list_dead_letters(consumers: ConsumersDep, broker: BrokerDep) -> list[DeadLetter]:
    """Events this service's consumers gave up on."""
    letters: list[DeadLetter] = []
    stream = broker.settings.dead_letter_stream
    for consumer in consumers.values():
        sequence = 1
        while True:
            try:
                raw = await broker.js.get_msg(stream, seq=sequence, subject=consumer.dead_letter_subject, next=True)
            except NotFoundError:
                break
            assert raw.seq is not None and raw.data is not None
            letters.append(_to_dead_letter(raw.seq, raw.data, raw.headers or {}, raw.time))
            sequence = raw.seq + 1
    return sorted(letters, key=lambda letter: letter.sequence)


@router.post("/replay")
async def replay_dead_letters(body: ReplayRequest, consumers: ConsumersDep, broker: BrokerDep) -> list[ReplayOutcome]:
    """Run dead-lettered events through their consumers again, in the order given."""
    return [await _replay(sequence, consumers, broker) for sequence in body.sequences]


async def _replay(sequence: int, consumers: dict[str, DurableConsumer], broker: Broker) -> ReplayOutcome:
    stream = broker.settings.dead_letter_stream
    try:
        raw = await broker.js.get_msg(stream, seq=sequence)
    except NotFoundError:
        return ReplayOutcome(sequence=sequence, outcome="not-found")
    assert raw.data is not None
    letter = _to_dead_letter(sequence, raw.data, raw.headers or {}, raw.time)
    consumer = consumers.get(letter.consumer)
    if consumer is None:
        return ReplayOutcome(sequence=sequence, outcome="not-found")
    outcome: Outcome = "applied"
    try:
        event = from_json(raw.data)
        await apply_once(consumer.database, consumer.spec.name, event, await consumer.spec.handler_for(event))
    except AlreadyProcessed:
        outcome = "already-applied"
    except Exception as failure:  # noqa: BLE001 (the handler's failure is the answer)
        return ReplayOutcome(
            sequence=sequence, event_id=letter.event_id, outcome="failed", error=type(failure).__name__
        )
    await broker.js.delete_msg(stream, sequence)
    return ReplayOutcome(sequence=sequence, event_id=letter.event_id, outcome=outcome)
