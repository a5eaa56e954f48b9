"""A plan change committed to its webhook received and verified: p50 and p99 at 50, 200 and 1,000 events/s.

The aims: p99 under 100 ms at 200 events/s, and no backlog growth at 1,000 events/s.

The notifications service runs one uvicorn worker on a free 127.0.0.1 port
with a scratch database of its own, on SQLite and then on PostgreSQL (`--databases`
chooses), beside a nats-server of its own. It trusts an issuer served by this
script (`token_endpoint` of `services.kit.testing`, the JWKS and the
client-credentials grant of a `TokenMint`), which also gives the service its own
token, as `make up` does. `ACCESS_DECISIONS_URL` is unset, so the service decides by authorship alone, and
every event is written by the subscriber's organisation (`orgid` and the data's
`organisation_id`): the consent service's decision is not part of this figure.
A council subscribes with `POST /subscriptions` to `plan.*` and keeps the secret.

The receiver, an integrator's end of the webhook, is a bare Starlette app in a
uvicorn worker of its own (`bench.webhook_receiver`): it verifies each signature
with `standardwebhooks.Webhook(secret).verify`, reads the body as a CloudEvent
with the `cloudevents` package, notes `time.perf_counter()` against the
`webhook-id` and answers 204. It is a process of its own, rather than a server
in this script's event loop, because at 1,000 events/s this process commits
every event and runs their relay: a receiver on the same loop would delay the
commits and be delayed by them, and its work would count against the load.
`perf_counter` is `CLOCK_MONOTONIC` on Linux, one clock for every process on
the machine, so its times and this script's compare (the script checks).

The load is plan changes committed the way the plan service commits them: each
`plan.updated` event (thin: the plan, its family, the organisation, a version one
up on the family's last, `changed: ["goals"]`), spread over 500 families
(`--families`), is recorded with `record_event` in a transaction of its own on a
scratch database of the same kind, and a kit `OutboxRelay` publishes it to the
same nats-server. Commits start on a steady schedule at each rate for `--seconds`
(20), as separate tasks, so a slow commit does not hold back the schedule; on
SQLite they queue for the database's one connection, as the plan service's
requests would. The clock starts when the commit returns and stops when the
receiver has verified that webhook. Each rate's window is followed by up to
`--drain` seconds (60) for the tail to arrive; a tail still owed after that
goes on being sent during the next rate's runs, and the received column shows it.

Per rate, the table gives the events sent and the rate they were sent at, how
many were received and the rate they were received at within the window, p50,
p99 and the maximum, and the backlog (sent but not yet received) at the middle
and at the end of the window, and how long after the window the last one
arrived. Backlog growth is the end's backlog less the middle's; it counts as
none when under what arrives in 100 ms at that rate. The same run clocks each
event's arrival at an ordered JetStream consumer of this script (the first hop,
commit to stream, under the same load: the kit's outbox part of the figure).
The baseline, just before each rate's service run, is this script POSTing the
same kind of CloudEvent, signed with `standardwebhooks.Webhook(secret).sign`,
straight to the same receiver at the same rate with `httpx` (a client with the
service's connection limits), from the start of the POST to the verification.
One second at 50 events/s on both paths warms them up first, untimed.
"""

import argparse
import asyncio
import math
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import nats
from cryptography.fernet import Fernet
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from standardwebhooks import Webhook

from bench.common import (
    BACKEND_TITLES,
    SERVICE_CLIENT_ID,
    add_databases_argument,
    add_loop_argument,
    chosen_backends,
    database_server,
    expect,
    kit_outbox_parts,
    percentile,
    print_table,
    run,
    running_nats,
    scratch_database,
    scratch_folder,
    serving,
    wait_healthy,
)
from bench.pacing import Trace, paced
from bench.webhook_receiver import RECEIVER_SECRET_ENV, Receipts
from services.kit.db import Database
from services.kit.events.envelope import nats_subject, to_json
from services.kit.events.outbox import MSG_ID_HEADER, OutboxRelay, record_event
from services.kit.natsserver import free_port
from services.kit.settings import OutboxSettings
from services.kit.testing import TokenMint, running, token_endpoint
from tools.synthetic.plan_changes import PlanChanges

TARGET_P99_MS = 100.0
TARGET_P99_RATE = 200.0
TARGET_BACKLOG_RATE = 1000.0
GROWTH_ALLOWANCE_SECONDS = 0.1  # backlog growth under what arrives in this long counts as none
WARMUP_RATE = 50.0
WARMUP_SECONDS = 1.0
WARMUP_DRAIN_SECONDS = 30.0
SETTLE_SECONDS = 0.5
COMMITS_IN_FLIGHT = 64
POSTS_IN_FLIGHT = 256  # the service's in_flight_total
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"  # what the service sends
SUBSCRIBER_SCOPES = "subscriptions:manage"
SERVICE_ORGANISATION = "bench-services"
PATHS = ("service", "first_hop", "baseline")
PATH_NAMES = {
    "service": "service: commit → webhook verified",
    "first_hop": "  commit → JetStream consumer (same run)",
    "baseline": "baseline: POST → verified (no service)",
}
NOT_KNOWN = "—"


@dataclass
class Harness:
    """The two ways of getting a plan change to the receiver, and the clocks at the far ends."""

    database: Database  # the committing side's, with the outbox
    changes: PlanChanges
    receipts: Receipts
    webhook_url: str
    http: httpx.AsyncClient  # the baseline's sender
    signer: Webhook
    hops: dict[str, float] = field(default_factory=dict)  # event id → arrival at this script's JetStream consumer

    async def on_hop(self, msg: Msg) -> None:
        arrived = time.perf_counter()
        self.hops.setdefault((msg.headers or {}).get(MSG_ID_HEADER, ""), arrived)

    async def commit(self, trace: Trace) -> None:
        event = self.changes.next()
        async with self.database.sessionmaker() as session:
            async with session.begin():
                record_event(session, event)
            trace.sent[event.get_id()] = time.perf_counter()

    async def post(self, trace: Trace) -> None:
        event = self.changes.next()
        webhook_id, body = event.get_id(), to_json(event).decode()
        trace.sent[webhook_id] = time.perf_counter()
        at = datetime.now(UTC)
        headers = {
            "Content-Type": CONTENT_TYPE,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self.signer.sign(webhook_id, at, body),
        }
        response = await self.http.post(self.webhook_url, content=body, headers=headers)
        if response.status_code != 204:
            raise RuntimeError(f"the receiver answered {response.status_code} to a signed webhook")

    async def through_service(self, rate: float, seconds: float, drain: float) -> tuple[Trace, Trace]:
        """Plan changes committed at `rate`: to the webhook verified, and to this script's JetStream consumer."""
        trace = Trace(rate, seconds)
        trace.started = await paced(rate, seconds, lambda: self.commit(trace), COMMITS_IN_FLIGHT)
        await self.receipts.wait_for(trace.sent, trace.ended + drain)
        trace.arrived = {
            event_id: self.receipts.at[event_id] for event_id in trace.sent if event_id in self.receipts.at
        }
        hop = Trace(rate, seconds, trace.started, trace.sent)
        hop.arrived = {event_id: self.hops[event_id] for event_id in trace.sent if event_id in self.hops}
        return trace, hop

    async def straight(self, rate: float, seconds: float) -> Trace:
        """The same kind of webhook, signed and POSTed by this script straight to the receiver at `rate`."""
        trace = Trace(rate, seconds)
        trace.started = await paced(rate, seconds, lambda: self.post(trace), POSTS_IN_FLIGHT)
        await self.receipts.wait_for(trace.sent, time.perf_counter() + WARMUP_DRAIN_SECONDS)
        trace.arrived = {
            event_id: self.receipts.at[event_id] for event_id in trace.sent if event_id in self.receipts.at
        }
        return trace


# --- the stack ---------------------------------------------------------------------


@dataclass
class RateResult:
    rate: float
    traces: dict[str, Trace]


@dataclass
class Measured:
    """Each rate's traces, and how many webhooks came again with a webhook-id already verified."""

    rates: list[RateResult] = field(default_factory=list)
    copies: int = 0


async def measure_backend(backend: str, server_url: str | None, arguments: argparse.Namespace) -> Measured:
    measured = Measured()
    subscriber = f"bench-council-{uuid.uuid4().hex[:8]}"
    with scratch_folder() as folder, running_nats(folder / "nats") as server:
        async with AsyncExitStack() as stack:
            with database_server(server_url):
                databases = {
                    name: await stack.enter_async_context(scratch_database(folder, f"{name}_{backend}"))
                    for name in ("notifications", "plan")
                }
            issuer_port = free_port()
            mint = TokenMint(issuer=f"http://127.0.0.1:{issuer_port}")
            issuer = await stack.enter_async_context(
                running(token_endpoint(mint, SERVICE_ORGANISATION, SERVICE_CLIENT_ID), issuer_port)
            )
            data_dir = folder / "notifications"
            data_dir.mkdir()
            env = {
                "PATHWAY_DATA_DIR": str(data_dir),
                "DATABASE_URL": databases["notifications"],
                "NATS_URL": server.url,
                "AUTH_ISSUER": mint.issuer,
                "AUTH_AUDIENCE": mint.audience,
                "AUTH_JWKS_URL": f"{issuer}/.well-known/jwks.json",
                "SERVICE_CLIENT_ID": SERVICE_CLIENT_ID,
                "SERVICE_CLIENT_SECRET": uuid.uuid4().hex,  # the bench's issuer grants any secret
                "SERVICE_CLIENT_TOKEN_URL": f"{issuer}/oauth/token",
                "NOTIFICATIONS_SECRETS_KEY": Fernet.generate_key().decode(),
                "SERVICE_LOG_LEVEL": "WARNING",
            }
            service_url = stack.enter_context(
                serving("services.notifications.main:create_app", free_port(), env, folder / "notifications.log")
            )

            async def client(url: str) -> httpx.AsyncClient:
                return await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30.0))

            service = await client(service_url)
            await wait_healthy(service)
            receiver_port = free_port()
            webhook_url = f"http://127.0.0.1:{receiver_port}/webhooks"
            subscribed = await service.post(
                "/subscriptions",
                json={"url": webhook_url, "event_types": ["plan.*"], "description": "bench receiver"},
                headers=mint.headers(SUBSCRIBER_SCOPES, organisation_id=subscriber, organisation_type="council"),
            )
            secret = expect(subscribed, 201)["secret"]
            receiver_url = stack.enter_context(
                serving(
                    "bench.webhook_receiver:create_receiver_app",
                    receiver_port,
                    {RECEIVER_SECRET_ENV: secret},
                    folder / "receiver.log",
                )
            )
            receiver = await client(receiver_url)
            await wait_healthy(receiver)

            database, broker = await kit_outbox_parts(stack, databases["plan"], server.url)
            relay = OutboxRelay(database, broker, OutboxSettings())
            relay.start()
            stack.push_async_callback(relay.stop)
            sender = await stack.enter_async_context(
                httpx.AsyncClient(
                    timeout=10.0,
                    follow_redirects=False,
                    trust_env=False,
                    limits=httpx.Limits(max_connections=POSTS_IN_FLIGHT, max_keepalive_connections=64),
                )
            )
            harness = Harness(
                database, PlanChanges(arguments.families, subscriber), Receipts(receiver), webhook_url, sender,
                Webhook(secret),
            )  # fmt: skip
            listener = await nats.connect(server.url)
            stack.push_async_callback(listener.close)
            await listener.jetstream().subscribe(
                nats_subject("plan.>"), cb=harness.on_hop, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
            )

            await harness.straight(WARMUP_RATE, WARMUP_SECONDS)
            warmup, _ = await harness.through_service(WARMUP_RATE, WARMUP_SECONDS, WARMUP_DRAIN_SECONDS)
            if len(warmup.arrived) < len(warmup.sent):
                raise RuntimeError(f"warm-up: the service delivered {len(warmup.arrived)} of {len(warmup.sent)}")
            for rate in arguments.rates:
                await asyncio.sleep(SETTLE_SECONDS)
                baseline = await harness.straight(rate, arguments.seconds)
                await asyncio.sleep(SETTLE_SECONDS)
                delivered, hop = await harness.through_service(rate, arguments.seconds, arguments.drain)
                measured.rates.append(RateResult(rate, {"service": delivered, "first_hop": hop, "baseline": baseline}))
            await harness.receipts.collect()
            if harness.receipts.refused:
                raise RuntimeError(f"the receiver refused {harness.receipts.refused} webhooks")
            measured.copies = harness.receipts.copies
    return measured


# --- the figures -------------------------------------------------------------------


def milliseconds_cell(value: float) -> object:
    return NOT_KNOWN if math.isinf(value) else value


def figures(path: str, trace: Trace) -> list[object]:
    ordered = trace.milliseconds()
    received = len(trace.arrived)
    last_sent = max(trace.sent.values())
    in_window = sum(arrived <= trace.ended for arrived in trace.arrived.values())
    drained: object = NOT_KNOWN
    if received == len(trace.sent):
        drained = max(max(trace.arrived.values()) - trace.ended, 0.0)
    return [
        round(trace.rate),
        PATH_NAMES[path],
        len(trace.sent),
        len(trace.sent) / max(last_sent - trace.started, 1e-9),
        received,
        in_window / trace.seconds,
        milliseconds_cell(percentile(ordered, 50)),
        milliseconds_cell(percentile(ordered, 99)),
        milliseconds_cell(ordered[-1]),
        trace.backlog(trace.started + trace.seconds / 2),
        trace.backlog(trace.ended),
        drained,
    ]


def report(backend: str, measured: Measured, arguments: argparse.Namespace) -> None:
    results = measured.rates
    print(
        f"Plan change committed to webhook received and verified, on {BACKEND_TITLES[backend]} "
        f"({arguments.seconds:g} s at each rate, then up to {arguments.drain:g} s for the tail; "
        f"{arguments.families} families; one uvicorn worker for the service and one for the receiver)"
    )
    print_table(
        [
            "events/s", "path", "sent", "sent/s", "received", "received/s",
            "p50 ms", "p99 ms", "max ms", "backlog mid", "backlog end", "drain s",
        ],
        [figures(path, result.traces[path]) for result in results for path in PATHS],
    )  # fmt: skip
    print(
        f"(received/s: within the window; backlog: sent but not yet received, at its middle and end; "
        f"drain: from its end to the last arrival; {NOT_KNOWN}: not all received within the tail's limit)"
    )
    print(f"copies received (a webhook-id already verified): {measured.copies}")
    by_rate = {result.rate: result.traces["service"] for result in results}
    if (trace := by_rate.get(TARGET_P99_RATE)) is not None:
        p99 = percentile(trace.milliseconds(), 99)
        verdict = "met" if p99 < TARGET_P99_MS else "missed"
        shown = f"{p99:.2f} ms" if math.isfinite(p99) else f"{len(trace.arrived):,} of {len(trace.sent):,} received"
        print(f"aim: p99 under {TARGET_P99_MS:g} ms at {TARGET_P99_RATE:,g} events/s: {verdict} ({shown})")
    if (trace := by_rate.get(TARGET_BACKLOG_RATE)) is not None:
        growth = trace.growth()
        kept_up = growth < TARGET_BACKLOG_RATE * GROWTH_ALLOWANCE_SECONDS and len(trace.arrived) == len(trace.sent)
        verdict = "met" if kept_up else "missed"
        print(
            f"aim: no backlog growth at {TARGET_BACKLOG_RATE:,g} events/s: {verdict} "
            f"({trace.backlog(trace.started + trace.seconds / 2):,} at the middle, {trace.backlog(trace.ended):,} "
            f"at the end; {len(trace.arrived):,} of {len(trace.sent):,} received)"
        )


async def main(backends: Sequence[tuple[str, str | None]], arguments: argparse.Namespace) -> None:
    if "CLOCK_MONOTONIC" not in time.get_clock_info("perf_counter").implementation:
        raise SystemExit("perf_counter is not one clock for every process here: the receiver's times would not compare")
    results = [(backend, await measure_backend(backend, server_url, arguments)) for backend, server_url in backends]
    for number, (backend, measured) in enumerate(results):
        if number:
            print()
        report(backend, measured, arguments)


def rates(value: str) -> list[float]:
    return [float(rate) for rate in value.split(",") if rate.strip()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_databases_argument(parser)
    parser.add_argument(
        "--rates", type=rates, default=[50.0, 200.0, 1000.0], help="events/s, comma-separated (default: 50,200,1000)"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="seconds of load at each rate (default: %(default)s)"
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds after the load to wait for the tail (default: %(default)s)"
    )
    parser.add_argument(
        "--families", type=int, default=500, help="families the changes spread over (default: %(default)s)"
    )
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(main(chosen_backends(arguments.databases), arguments), arguments.loop)
