"""Print every plan change from the Graduated Pathway's NATS, as an integrator would read them.

With the stack running (`make up` prints the URL of its NATS):

    .venv/bin/python examples/plan_changes.py --nats-url nats://127.0.0.1:<port>
    .venv/bin/python examples/plan_changes.py --nats-url nats://127.0.0.1:<port> --durable my-system --count 10

It reads `pathway.plan.>` from the `PATHWAY` JetStream stream through a durable pull consumer.
The server keeps the consumer, and its position, under the `--durable` name: a new name starts
at the oldest event the stream holds, and the same name again carries on after the last event
acknowledged. Delivery is at least once, so a real integration records the CloudEvent `id` of
each event it has handled and skips the ids it has seen. `schemas/asyncapi.yaml` describes every
subject and payload.
"""

import argparse
import asyncio
import contextlib

import nats
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.formats.json import JSONFormat
from nats.errors import TimeoutError as FetchTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

STREAM = "PATHWAY"
PLAN_SUBJECTS = "pathway.plan.>"
BATCH_SIZE = 100
FETCH_WAIT_SECONDS = 5.0


def describe(event: BaseCloudEvent) -> str:
    """One line per event: its type, the plan and family it concerns, the plan's version and the event id."""
    data = event.get_data()
    assert isinstance(data, dict), "plan events carry a JSON object"
    line = f"{event.get_type()} plan={data['plan_id']} family={data['family_id']}"
    if "version" in data:  # `plan.review_due` announces a date, not a change
        line += f" version={data['version']}"
    return f"{line} event={event.get_id()}"


async def print_plan_changes(nats_url: str, durable: str, count: int | None) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        # Used only when the consumer does not exist yet; an existing one keeps its position.
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL)
        subscription = await js.pull_subscribe(PLAN_SUBJECTS, durable=durable, stream=STREAM, config=config)
        events = JSONFormat()
        printed = 0
        while count is None or printed < count:
            # Never fetch more than is left to print: a fetched message that is not
            # acknowledged waits out the consumer's ack wait before it is delivered again.
            wanted = BATCH_SIZE if count is None else min(BATCH_SIZE, count - printed)
            try:
                messages = await subscription.fetch(wanted, timeout=FETCH_WAIT_SECONDS)
            except FetchTimeout:
                continue  # nothing new yet
            for message in messages:
                print(describe(events.read(None, message.data)), flush=True)
                await message.ack()
                printed += 1
    finally:
        await nc.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--durable", default="plan-changes-example", help="the durable consumer's name")
    parser.add_argument("--count", type=int, help="stop after this many events (default: run until Ctrl-C)")
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(print_plan_changes(arguments.nats_url, arguments.durable, arguments.count))


if __name__ == "__main__":
    main()
