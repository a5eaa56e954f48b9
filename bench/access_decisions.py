"""What enforcing consent costs a read of an assessment, and how soon a withdrawn grant stops the next one.

The aim is under 2 ms added at p99 by enforcing consent on a read. The
assessment service decides a permit from its own copy of grants while the copy
is provably current, and asks the consent service otherwise
(`services/access/projection.py`). The consent service
(`services.consent.main:create_app`) and the assessment service
(`services.assessment.main:create_app`, with `ACCESS_DECISIONS_URL` naming the
consent service and the services' own client from the gateway, as under `make
up`) each run one uvicorn worker on a free 127.0.0.1
port with a scratch database of their own, SQLite unless BENCH_DATABASE_URL
names a PostgreSQL server, and one nats-server between them (each read's audit
event goes through it to the consent service's access log). The real gateway,
with a database of its own, only issues tokens, which both services verify
against its JWKS: its admin client's, whose organisation is the author, and
those of a client of a second organisation, the reader, made through the
gateway's admin API with `assessments:read` alone. The author registers a
family, posts a submitted `early-help-assessment` v1 (the answers in
`tests/assessment/samples/early-help-assessment-1.json`) and grants the
reader's organisation the `assessment` category with `POST /consents`.

Figure 1 times, one request at a time so nothing queues, `GET /assessments/{id}`
by the reader, which the assessment service allows on the reader's grant
(from its copy, or by asking `POST /access-decisions`), next to the
same read by the author, which the assessment service allows on authorship
without a call: the baseline, in the same run. It also times the bare `POST
/access-decisions` with the same question straight to the consent service. Each
round takes fresh tokens, warms each path up and times every path in turn, the
order rotating from round to round; before each path it waits until the
consent service's access log stops growing (`GET /audit/verify` as the admin
client), so that appending one path's audit events falls in no other path's
time. The figures are medians and ranges over rounds, and the cost of
enforcement is the reader's p50 and p99 less the author's, round by round.

Figure 2 times withdrawal to refusal across the two services over `--trials`
trials. Each trial has a family, an assessment and a grant of its own (so every
decision reads one grant, as in figure 1), checks untimed that the reader may
read, then withdraws the grant with `POST /consents/{id}/withdraw`, clocks the
withdrawal's answer, and reads through the assessment service as the reader
until it answers 403 `access-refused`, clocking that answer. With the decision
asked on every read, the first read after the withdrawal is refused, so this is
one read's latency. Requests come from this process, one httpx client per path,
sharing the machine's cores with the servers.
"""

import argparse
import asyncio
import json
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import (
    SERVICE_CLIENT_ID,
    Gateway,
    Load,
    add_loop_argument,
    backend_name,
    drive,
    expect,
    load_headers,
    load_row,
    median_and_range,
    percentile,
    print_table,
    run,
    running_gateway,
    running_nats,
    scratch_database,
    scratch_folder,
    serving,
    verdict,
    wait_healthy,
)
from deploy.supervisor import acting_as, trusting
from services.kit.natsserver import free_port
from tools.synthetic.bodies import one_child, sample_answers, submitted_assessment

TARGET_ADDED_P99_MS = 2.0
REFUSAL_TIMEOUT_SECONDS = 10.0
SETTLE_POLL_SECONDS = 0.25
SETTLE_TIMEOUT_SECONDS = 120.0
# The benchmark's own fictional family, with no identifiers, so that every trial can register one afresh.
READER_ORGANISATION = {"name": "Bench reading school", "type": "school"}
READER_SCOPES = ["assessments:read"]
JSON_HEADERS = {"Content-Type": "application/json"}
PATHS = ("reader", "author", "decision")
PATH_NAMES = {
    "reader": "GET /assessments/{id}, reader: decided on its grant",
    "author": "baseline: the same GET, author: no call",
    "decision": "POST /access-decisions, reader, straight to consent",
}
BACKEND_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def refused(response: httpx.Response) -> bool:
    """A 403 `access-refused`: the assessment service found no basis for the read."""
    return response.status_code == 403 and str(response.json().get("type", "")).endswith("access-refused")


@dataclass
class Clients:
    """One httpx client per path, each holding its caller's token."""

    token: httpx.AsyncClient
    admin: httpx.AsyncClient  # the gateway, with the admin client's token
    author_assessment: httpx.AsyncClient
    author_consent: httpx.AsyncClient
    reader_assessment: httpx.AsyncClient
    reader_consent: httpx.AsyncClient

    async def authorise(self, author: Gateway, reader: Gateway) -> None:
        """Fresh tokens for the author and the reader (a token lives 15 minutes)."""
        for credentials, clients in (
            (author, (self.admin, self.author_assessment, self.author_consent)),
            (reader, (self.reader_assessment, self.reader_consent)),
        ):
            issued = await self.token.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, headers=credentials.basic_auth
            )
            bearer = f"Bearer {expect(issued, 200)['access_token']}"
            for client in clients:
                client.headers["Authorization"] = bearer


async def make_reader(gateway: Gateway, admin: httpx.AsyncClient) -> tuple[Gateway, str]:
    """A second organisation and a client of it that may read assessments; its credentials and organisation id."""
    organisation = expect(await admin.post("/admin/organisations", json=READER_ORGANISATION), 201)
    client = expect(
        await admin.post(
            "/admin/clients",
            json={"organisation_id": organisation["id"], "name": "Bench reader", "scopes": READER_SCOPES},
        ),
        201,
    )
    return Gateway(gateway.url, client["id"], client["client_secret"]), str(organisation["id"])


async def family_with_assessment(clients: Clients, answers: dict[str, Any]) -> tuple[str, str]:
    """A family and a submitted assessment, both by the author; their ids."""
    family = expect(await clients.author_assessment.post("/families", json=one_child()), 201)
    body = submitted_assessment(family["id"], answers)
    assessment = expect(await clients.author_assessment.post("/assessments", json=body), 201)
    if assessment["status"] != "submitted":
        raise RuntimeError(f"the assessment was taken as {assessment['status']}, not submitted")
    return str(family["id"]), str(assessment["id"])


async def grant(clients: Clients, family_id: str, reader_organisation: str) -> str:
    """The family's grant of its assessments to the reader's organisation, recorded by the author; its id."""
    body = {
        "family_id": family_id,
        "given_by_role": "parent_or_carer",
        "evidence": "written",
        "categories": ["assessment"],
        "recipient_organisations": [reader_organisation],
    }
    granted = expect(await clients.author_consent.post("/consents", json=body), 201)
    return str(granted["id"])


async def check_decision(clients: Clients, question: bytes, grant_id: str) -> None:
    """The consent service permits the reader on the grant."""
    answer = expect(await clients.reader_consent.post("/access-decisions", content=question, headers=JSON_HEADERS), 200)
    if answer["decision"] != "permit" or answer["basis"] != {"kind": "grant", "reference": grant_id}:
        raise RuntimeError(f"POST /access-decisions answered {answer}, not a permit on grant {grant_id}")


async def settle(clients: Clients) -> None:
    """Until the consent service's access log stops growing: every earlier read's audit event is in it.

    Each read sends an audit event to the consent service, which appends it to
    the access log; waiting keeps a backlog of appends from one path out of the
    next path's timing.
    """
    started = time.perf_counter()
    last = -1
    while True:
        verified = expect(await clients.author_consent.get("/audit/verify", params={"full": "true"}), 200)
        if not verified["valid"]:
            raise RuntimeError(f"the consent service's access log does not verify: {verified}")
        if verified["entries"] == last:
            return
        if time.perf_counter() - started > SETTLE_TIMEOUT_SECONDS:
            raise RuntimeError(f"the access log was still growing after {SETTLE_TIMEOUT_SECONDS:g} s")
        last = verified["entries"]
        await asyncio.sleep(SETTLE_POLL_SECONDS)


async def enforcement(
    clients: Clients,
    author: Gateway,
    reader: Gateway,
    reader_organisation: str,
    answers: dict[str, Any],
    arguments: argparse.Namespace,
) -> dict[str, list[Load]]:
    """Each round's one-at-a-time load on the reader's read, the author's read and the bare decision."""
    family_id, assessment_id = await family_with_assessment(clients, answers)
    path = f"/assessments/{assessment_id}"
    if not refused(await clients.reader_assessment.get(path)):
        raise RuntimeError("the reader could read the assessment before any grant: is ACCESS_DECISIONS_URL set?")
    grant_id = await grant(clients, family_id, reader_organisation)
    expect(await clients.reader_assessment.get(path), 200)
    # The question names no authors: the consent service decides from its own records (docs/security.md).
    question = json.dumps({"family_id": family_id, "category": "assessment", "purpose": "early-help"}).encode()
    await check_decision(clients, question, grant_id)

    sends: dict[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]] = {
        "reader": lambda client: client.get(path),
        "author": lambda client: client.get(path),
        "decision": lambda client: client.post("/access-decisions", content=question, headers=JSON_HEADERS),
    }
    senders = {
        "reader": clients.reader_assessment,
        "author": clients.author_assessment,
        "decision": clients.reader_consent,
    }
    loads: dict[str, list[Load]] = {name: [] for name in PATHS}
    for round_number in range(arguments.rounds):
        await clients.authorise(author, reader)
        for name in PATHS:
            await drive([senders[name]], arguments.warmup, sends[name])
        shift = round_number % len(PATHS)
        for name in PATHS[shift:] + PATHS[:shift]:
            await settle(clients)
            loads[name].append(await drive([senders[name]], arguments.requests, sends[name]))
        await check_decision(clients, question, grant_id)
    return loads


@dataclass(frozen=True)
class Trial:
    milliseconds: float  # from the withdrawal's answer to the first refusal's
    reads: int  # reads sent until one was refused


async def withdrawal_trial(
    clients: Clients, reader_organisation: str, answers: dict[str, Any], withdrawal: bytes
) -> Trial:
    family_id, assessment_id = await family_with_assessment(clients, answers)
    path = f"/assessments/{assessment_id}"
    grant_id = await grant(clients, family_id, reader_organisation)
    expect(await clients.reader_assessment.get(path), 200)

    withdrawn = await clients.author_consent.post(
        f"/consents/{grant_id}/withdraw", content=withdrawal, headers=JSON_HEADERS
    )
    withdrawn_at = time.perf_counter()
    if expect(withdrawn, 200)["status"] != "withdrawn":
        raise RuntimeError(f"the withdrawal answered {withdrawn.text[:500]}")
    reads = 0
    while True:
        read = await clients.reader_assessment.get(path)
        answered_at = time.perf_counter()
        reads += 1
        if read.status_code != 200:
            break
        if answered_at - withdrawn_at > REFUSAL_TIMEOUT_SECONDS:
            raise RuntimeError(f"the reader could still read {REFUSAL_TIMEOUT_SECONDS:g} s after the withdrawal")
    if not refused(read):
        raise RuntimeError(f"GET {path} after the withdrawal answered {read.status_code}: {read.text[:500]}")
    return Trial((answered_at - withdrawn_at) * 1000, reads)


async def main(arguments: argparse.Namespace) -> None:
    answers = sample_answers()
    withdrawal = json.dumps({"reason": "The family asked us to stop sharing."}).encode()
    trials: list[Trial] = []
    with scratch_folder() as folder, running_nats(folder / "nats") as server:
        async with AsyncExitStack() as stack:
            databases = {
                name: await stack.enter_async_context(scratch_database(folder, name))
                for name in ("gateway", "consent", "assessment")
            }
            consent_port, assessment_port = free_port(), free_port()
            service_secret = secrets.token_urlsafe(32)
            gateway = stack.enter_context(
                running_gateway(
                    folder, server.url, databases["gateway"], f"http://127.0.0.1:{assessment_port}", service_secret
                )
            )
            common_env = {
                "NATS_URL": server.url,
                **trusting(gateway.url),
                "SERVICE_LOG_LEVEL": "WARNING",
                # Its own client lets the assessment service keep a copy of grants it can trust, as under make up.
                **acting_as((SERVICE_CLIENT_ID, service_secret), gateway.url),
            }
            urls: dict[str, str] = {}
            for name, port, app in (
                ("consent", consent_port, "services.consent.main:create_app"),
                ("assessment", assessment_port, "services.assessment.main:create_app"),
            ):
                data_dir = folder / name
                data_dir.mkdir()
                env = {**common_env, "PATHWAY_DATA_DIR": str(data_dir), "DATABASE_URL": databases[name]}
                if name == "assessment":
                    env["ACCESS_DECISIONS_URL"] = urls["consent"]
                urls[name] = stack.enter_context(serving(app, port, env, folder / f"{name}.log"))

            async def client(url: str) -> httpx.AsyncClient:
                return await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30.0))

            clients = Clients(
                token=await client(gateway.url),
                admin=await client(gateway.url),
                author_assessment=await client(urls["assessment"]),
                author_consent=await client(urls["consent"]),
                reader_assessment=await client(urls["assessment"]),
                reader_consent=await client(urls["consent"]),
            )
            for health in (clients.token, clients.author_consent, clients.author_assessment):
                await wait_healthy(health)
            author = gateway
            await clients.authorise(author, author)
            reader, reader_organisation = await make_reader(gateway, clients.admin)
            await clients.authorise(author, reader)

            loads = await enforcement(clients, author, reader, reader_organisation, answers, arguments)
            await clients.authorise(author, reader)
            for _ in range(arguments.trials):
                trials.append(await withdrawal_trial(clients, reader_organisation, answers, withdrawal))
            backend = BACKEND_TITLES.get(backend_name(databases["assessment"]), backend_name(databases["assessment"]))

    report(backend, loads, trials, arguments)


def report(backend: str, loads: dict[str, list[Load]], trials: Sequence[Trial], arguments: argparse.Namespace) -> None:
    print(
        f"Access decisions on {backend}: a submitted early-help-assessment read by another organisation on the "
        "family's grant, decided from the assessment service's current copy of grants or by asking"
    )
    print(
        f"(one uvicorn worker each, one request at a time, after {arguments.warmup:,} warm-up requests per path "
        "and round; the client runs in this process on the same cores)"
    )
    print_table(load_headers("path"), [load_row(PATH_NAMES[name], arguments.requests, loads[name]) for name in PATHS])
    pairs = list(zip(loads["reader"], loads["author"], strict=True))
    added_p50 = [reader.p50 - author.p50 for reader, author in pairs]
    added_p99 = [reader.p99 - author.p99 for reader, author in pairs]
    print(f"cost of enforcement, reader - author: p50 {median_and_range(added_p50, ' ms')}")
    print(f"                                      p99 {median_and_range(added_p99, ' ms')}")
    added = statistics.median(added_p99)
    print(f"aim: under {TARGET_ADDED_P99_MS:g} ms added at p99: {verdict(added < TARGET_ADDED_P99_MS)}")

    print()
    print(
        f"Withdrawal to refusal on {backend}, {len(trials):,} trials: from the answer to "
        "POST /consents/{id}/withdraw to the answer 403 to the reader's next GET /assessments/{id}"
    )
    ordered = sorted(trial.milliseconds for trial in trials)
    print_table(
        ["trials", "p50 ms", "p99 ms", "max ms"],
        [[len(trials), percentile(ordered, 50), percentile(ordered, 99), ordered[-1]]],
    )
    first = sum(1 for trial in trials if trial.reads == 1)
    most = max(trial.reads for trial in trials)
    print(f"refused at the first read after the withdrawal: {first:,} of {len(trials):,} trials (most reads: {most})")
    reader_p50 = statistics.median(load.p50 for load in loads["reader"])
    print(f"for comparison, one read by the reader (above): p50 {reader_p50:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=1_000, help="requests timed per path and round (default: %(default)s)"
    )
    parser.add_argument(
        "--warmup", type=int, default=100, help="untimed requests per path and round first (default: %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds on each path (default: %(default)s)")
    parser.add_argument(
        "--trials", type=int, default=200, help="withdrawals timed to the first refusal (default: %(default)s)"
    )
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(main(arguments), arguments.loop)
