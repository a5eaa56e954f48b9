"""What reached JetStream, read straight from the stream."""

from dataclasses import dataclass
from typing import Any, Protocol

import nats
from nats.js.errors import NotFoundError

from services.kit.events.broker import signing_in
from services.kit.events.envelope import BaseCloudEvent, from_json
from services.kit.natsserver import NatsServer
from services.kit.settings import NatsSettings
from tests.support.waiting import eventually


@dataclass
class StreamMessage:
    subject: str
    msg_id: str | None
    event: BaseCloudEvent


async def stream_messages(
    nats_url: str, stream: str = "PATHWAY", signed_in_as: NatsSettings | None = None
) -> list[StreamMessage]:
    """Every message in a stream, in stream order, read straight from JetStream (as the user `signed_in_as` names)."""
    nc = await nats.connect(nats_url, **(signing_in(signed_in_as) if signed_in_as else {}))
    try:
        js = nc.jetstream()
        messages: list[StreamMessage] = []
        sequence = 1
        while True:
            try:
                raw = await js.get_msg(stream, seq=sequence, subject=">", next=True)
            except NotFoundError:
                return messages
            assert raw.seq is not None and raw.data is not None and raw.subject is not None
            headers = raw.headers or {}
            messages.append(StreamMessage(raw.subject, headers.get("Nats-Msg-Id"), from_json(raw.data)))
            sequence = raw.seq + 1
    finally:
        await nc.close()


class HasNats(Protocol):
    nats: NatsServer


def data_of(event: BaseCloudEvent) -> dict[str, Any]:
    data = event.get_data()
    assert isinstance(data, dict)
    return data


async def published(stack: HasNats, event_type: str) -> list[dict[str, Any]]:
    """The data of every event of this type in the stream of `stack`'s NATS, in stream order."""
    found: list[dict[str, Any]] = []
    for message in await stream_messages(stack.nats.url):
        if message.event.get_type() == event_type:
            data = message.event.get_data()
            assert isinstance(data, dict), data
            found.append(data)
    return found


async def events_of(stack: HasNats, count: int) -> list[BaseCloudEvent]:
    """Every event in the stream once it holds at least `count`."""

    async def arrived() -> bool:
        return len(await stream_messages(stack.nats.url)) >= count

    await eventually(arrived)
    return [message.event for message in await stream_messages(stack.nats.url)]
