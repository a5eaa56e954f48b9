"""A sustained mixed load through the gateway on PostgreSQL: 80% reads, 20% writes, consent enforced, audit on.

The whole system runs as `make up` runs it (`deploy.supervisor.System`: a nats-server
and every service and the gateway in a process of its own), each process on a
scratch PostgreSQL database of its own, with the gateway's rate limit too high to
bite. A council's client registers families and posts their submitted early help
assessments (a draft plan opens for each) and grants the health visiting team's
client the family's assessments and plans. Then `--concurrency` clients (16), for
`--seconds` (300) after `--warmup` (20), each send one request at a time, chosen
at random from a fixed seed: reads by the health team under the grant (assessment,
plan, the family's assessment list) and by the council (family), 80% in all; and
writes by the council, 20%: a new draft assessment, or a change to a plan of its
own with `If-Match`. Every read by the health team is decided by the consent
rule and audited. It prints requests/s, p50 and p99 per kind of request and in
all, any answer that was not the expected one, and each process's resident
memory every `--sample-every` seconds (60) through the timed window (aim: no
growth beyond 10% from its start to its end), with the growth over the window's
second half beside it, which tells a store that fills while it warms from one
that keeps growing. Beside it, how many events wait at each durable consumer
at each sample: a consumer falling behind is work the requests/s figure does
not show.
The baseline, in the same run, is a bare FastAPI app answering a plan of the
same size (`create_plan_stub_app`) at the same concurrency for `--baseline-seconds`.
"""

import argparse
import asyncio
import itertools
import os
import random
import time
from collections import Counter, defaultdict
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import nats
from cryptography.fernet import Fernet

from bench.common import (
    add_loop_argument,
    http_clients,
    percentile,
    postgresql_server,
    print_table,
    run,
    scratch_database,
    scratch_folder,
    serving,
    wait_healthy,
)
from deploy import demo
from deploy.supervisor import System
from services.kit.natsserver import free_port
from tools.synthetic.bodies import one_child, sample_answers, submitted_assessment

PROCESSES = ("gateway", "assessment", "consent", "plan", "notifications")
STREAM = "PATHWAY"
BATCH = 50  # events a consumer fetches at once (CONSUMER_BATCH_SIZE's default)
# (kind, share): reads 80%, writes 20%.
MIX = (
    ("read assessment (health, grant)", 25),
    ("read plan (health, grant)", 25),
    ("list assessments (health, grant)", 15),
    ("read family (council)", 15),
    ("write draft assessment (council)", 10),
    ("change plan (council, If-Match)", 10),
)


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def whole_system(stack: AsyncExitStack, data_dir: Path, databases: dict[str, str]) -> System:
    """The system as `make up` runs it, on `databases`, with no rate limit that bites; stopped with `stack`."""
    settings = {
        "RATE_LIMIT_PER_SECOND": "1000000",
        "RATE_LIMIT_BURST": "1000000",
        "SERVICE_LOG_LEVEL": "WARNING",
        "NOTIFICATIONS_SECRETS_KEY": Fernet.generate_key().decode(),
        **{f"{name.upper()}_DATABASE_URL": url for name, url in databases.items()},
    }
    system = System(data_dir, free_port(), settings=settings, log_each=True)
    stack.push_async_callback(system.stop)
    try:
        await system.start()
    except (RuntimeError, TimeoutError) as failure:
        logs = "\n".join(f"{name}: {(data_dir / f'{name}.log').read_text()[-1000:]}" for name in system.processes)
        raise SystemExit(f"the system did not start: {failure}\n{logs}") from failure
    return system


class Families:
    """What the load works on: families, their assessments and plans, and each plan's current ETag."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.assessments: list[str] = []
        self.plans: list[str] = []
        self.plan_etags: dict[str, str] = {}


async def prepare(http: httpx.AsyncClient, council: dict[str, str], health_org: str, count: int) -> Families:
    answers = sample_answers()
    families = Families()
    for n in range(count):
        family = await http.post("/families", json=one_child("Bench", f"Child{n}"), headers=council)
        family.raise_for_status()
        family_id = family.json()["id"]
        assessment = await http.post("/assessments", json=submitted_assessment(family_id, answers), headers=council)
        assessment.raise_for_status()
        grant = {"family_id": family_id, "given_by_role": "parent_or_carer", "evidence": "written",
                 "categories": ["assessment", "plan"], "recipient_organisations": [health_org]}  # fmt: skip
        (await http.post("/consents", json=grant, headers=council)).raise_for_status()
        families.ids.append(family_id)
        families.assessments.append(assessment.json()["id"])
    deadline = time.monotonic() + 60
    for family_id in families.ids:
        while True:
            listed = (await http.get("/plans", params={"family_id": family_id}, headers=council)).json()
            if listed:
                plan_id = listed[0]["id"]
                families.plans.append(plan_id)
                families.plan_etags[plan_id] = f'"{listed[0]["version"]}"'
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the plans did not open")
            await asyncio.sleep(0.2)
    return families


async def load(
    clients: list[httpx.AsyncClient],
    seconds: float,
    families: Families,
    council: dict[str, str],
    health: dict[str, str],
    seed: int,
) -> tuple[dict[str, list[float]], Counter[str], float]:
    latencies: dict[str, list[float]] = defaultdict(list)
    unexpected: Counter[str] = Counter()
    kinds = [kind for kind, _ in MIX]
    weights = [share for _, share in MIX]
    stop_at = time.monotonic() + seconds

    async def worker(index: int, client: httpx.AsyncClient) -> None:
        chance = random.Random(seed + index)
        own_plans = families.plans[index :: len(clients)]  # a plan changes under one client only: no 412s
        while time.monotonic() < stop_at:
            kind = chance.choices(kinds, weights)[0]
            n = chance.randrange(len(families.ids))
            started = time.perf_counter()
            if kind.startswith("read assessment"):
                answer = await client.get(f"/assessments/{families.assessments[n]}", headers=health)
            elif kind.startswith("read plan"):
                answer = await client.get(f"/plans/{families.plans[n]}", headers=health)
            elif kind.startswith("list"):
                answer = await client.get(f"/families/{families.ids[n]}/assessments", headers=health)
            elif kind.startswith("read family"):
                answer = await client.get(f"/families/{families.ids[n]}", headers=council)
            elif kind.startswith("write"):
                body = {"family_id": families.ids[n], "form": {"key": "early-help-assessment", "version": 1},
                        "answers": {"summary": f"Draft {n}"}}  # fmt: skip
                answer = await client.post("/assessments", json=body, headers=council)
            else:
                plan_id = own_plans[n % len(own_plans)]
                due = (date(2027, 1, 1) + timedelta(days=n)).isoformat()
                answer = await client.patch(
                    f"/plans/{plan_id}",
                    json={"next_review_due": due},
                    headers=council | {"If-Match": families.plan_etags[plan_id]},
                )
                if answer.status_code == 200:
                    families.plan_etags[plan_id] = answer.headers["ETag"]
            latencies[kind].append((time.perf_counter() - started) * 1000)
            if answer.status_code not in (200, 201):
                unexpected[f"{kind}: {answer.status_code}"] += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(i, client) for i, client in enumerate(clients)))
    return latencies, unexpected, time.monotonic() - started


def row(kind: str, values: list[float], seconds: float) -> list[object]:
    ordered = sorted(values)
    return [kind, len(values), round(len(values) / seconds, 1), percentile(ordered, 50), percentile(ordered, 99)]


async def main(arguments: argparse.Namespace) -> None:
    server = postgresql_server()
    if server is None:
        raise SystemExit("no PostgreSQL: set BENCH_DATABASE_URL or run a server at 127.0.0.1:5432")
    os.environ["BENCH_DATABASE_URL"] = server
    with scratch_folder() as folder:
        async with AsyncExitStack() as stack:
            databases = {
                name: await stack.enter_async_context(scratch_database(folder, f"load_{name}")) for name in PROCESSES
            }
            system = await whole_system(stack, folder / "data", databases)
            url = system.gateway_url
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
            people = demo.demo_clients(system.data_dir)
            council = await demo.bearer(http, people["council"]["client_id"], people["council"]["client_secret"])
            health = await demo.bearer(http, people["health"]["client_id"], people["health"]["client_secret"])
            families = await prepare(http, council, people["health"]["organisation_id"], arguments.families)
            clients = await http_clients(stack, url, arguments.concurrency)
            await load(clients, arguments.warmup, families, council, health, arguments.seed)
            processes = {("nats-server" if p.name == "nats" else p.name): p.pid for p in system.processes.values()}
            nats_url = system.nats_url
            samples: list[Sample] = []
            sampling = asyncio.create_task(sample_every(arguments.sample_every, processes, nats_url, samples))
            latencies, unexpected, seconds = await load(
                clients, arguments.seconds, families, council, health, arguments.seed + 1000
            )
            sampling.cancel()
            if seconds - samples[-1].at < arguments.sample_every / 2:
                samples.pop()  # the last sample is the end's
            samples.append(await sample(seconds, processes, nats_url))

        baseline_port = free_port()
        with serving("bench.apps:create_plan_stub_app", baseline_port, {}, folder / "baseline.log") as base_url:
            async with AsyncExitStack() as stack:
                clients = await http_clients(stack, base_url, arguments.concurrency)
                await wait_healthy(clients[0])
                base: list[float] = []
                stop_at = time.monotonic() + arguments.baseline_seconds

                async def bare(client: httpx.AsyncClient) -> None:
                    while time.monotonic() < stop_at:
                        started = time.perf_counter()
                        (await client.get("/plans/p-1")).raise_for_status()
                        base.append((time.perf_counter() - started) * 1000)

                began = time.monotonic()
                await asyncio.gather(*(bare(client) for client in clients))
                base_seconds = time.monotonic() - began

    everything = [value for values in latencies.values() for value in values]
    print(f"\nmixed load through the gateway on PostgreSQL: {len(families.ids)} families, "
          f"concurrency {arguments.concurrency}, {seconds:.0f} s after a {arguments.warmup:g} s warm-up")  # fmt: skip
    print_table(
        ["request", "requests", "req/s", "p50 ms", "p99 ms"],
        [
            *(row(kind, latencies[kind], seconds) for kind, _ in MIX),
            row("all, the system", everything, seconds),
            row("baseline: bare FastAPI GET /plans/{id}", base, base_seconds),
        ],
    )
    print(f"\nanswers other than 200/201: {dict(unexpected) or 'none'}")
    print_memory(samples)
    print_backlog(samples)


async def consumer_backlog(nats_url: str) -> dict[str, int]:
    """Events each durable consumer has not yet acknowledged: not yet delivered, or delivered and in hand."""
    connection = await nats.connect(nats_url)
    try:
        consumers = await connection.jetstream().consumers_info(STREAM)
    finally:
        await connection.close()
    return {c.name: (c.num_pending or 0) + (c.num_ack_pending or 0) for c in consumers if c.name is not None}


@dataclass
class Sample:
    at: float  # seconds into the timed window
    memory: dict[str, float]  # MiB resident, by process
    waiting: dict[str, int]  # events not yet acknowledged, by durable consumer


async def sample(at: float, processes: dict[str, int], nats_url: str) -> Sample:
    memory = {name: resident_mib(pid) for name, pid in processes.items()}
    return Sample(at, memory, await consumer_backlog(nats_url))


async def sample_every(every: float, processes: dict[str, int], nats_url: str, samples: list[Sample]) -> None:
    began = time.monotonic()
    while True:
        samples.append(await sample(time.monotonic() - began, processes, nats_url))
        await asyncio.sleep(every)


def print_memory(samples: list[Sample]) -> None:
    print("\nresident memory of each process (MiB) through the timed window")
    start, middle, end = samples[0].memory, samples[len(samples) // 2].memory, samples[-1].memory
    growth_rows = [
        [name, *(round(s.memory[name], 1) for s in samples), round((end[name] / start[name] - 1) * 100, 1),
         round((end[name] / middle[name] - 1) * 100, 1), "yes" if end[name] <= start[name] * 1.10 else "NO"]
        for name in sorted(start)
    ]  # fmt: skip
    print_table(
        ["process", *(f"{s.at:.0f} s" for s in samples), "growth %", "second half %", "within 10%"], growth_rows
    )
    grown = [f"{row[0]} {row[-3]:+.0f}%" for row in growth_rows if row[-1] == "NO"]
    print(f"aim: no process's memory grows beyond 10%: {'missed (' + ', '.join(grown) + ')' if grown else 'met'}")


def print_backlog(samples: list[Sample]) -> None:
    """A consumer is falling behind when what waits for it grew at every sample of the second half,
    by more than a batch in all."""
    print("\nevents waiting at each durable consumer through the timed window")
    second_half = samples[len(samples) // 2 :]
    middle, end = second_half[0].waiting, second_half[-1].waiting
    print_table(
        ["consumer", *(f"{s.at:.0f} s" for s in samples)],
        [[name, *(s.waiting.get(name, 0) for s in samples)] for name in sorted(end)],
    )
    behind = [
        f"{name} +{end[name] - middle.get(name, 0)}"
        for name in sorted(end)
        if end[name] > middle.get(name, 0) + BATCH
        and all(b.waiting.get(name, 0) > a.waiting.get(name, 0) for a, b in itertools.pairwise(second_half))
    ]
    print(f"consumers falling behind over the second half: {', '.join(behind) or 'none'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--baseline-seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--families", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample-every", type=float, default=60.0)
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(main(arguments), arguments.loop)
