"""The processes of the system, and one supervisor that starts, kills, restarts and stops them.

`plan_processes` says what runs (nats-server, each service under uvicorn, the
gateway) with its command, port and environment, as `make up` wires them; a
`Supervisor` starts them, waits until each answers, signals one (keeping its
port, which is in its command, across a restart), notes how long each was away,
tells when one dies, and stops them all. `make up`, the benchmarks, the fault
tests and the notifications crash test all run their processes through it.
Written on `subprocess.Popen` rather than asyncio's subprocesses so that a
benchmark's synchronous context managers can use the same `Process`.
"""

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy import demo, nats_users
from deploy.nats_users import Credentials
from services.consent.signing import EMBEDDED_KEY_FILE, ensure_key_file
from services.kit.natsserver import free_port, nats_server_command

SERVICES = ("assessment", "consent", "plan", "notifications")
STOP_GRACE_SECONDS = 15.0
START_TIMEOUT_SECONDS = 120.0  # a loaded 2-core machine takes over a minute to start every process
NATS_MEMORY_LIMIT = "64MiB"
GRACEFUL_SHUTDOWN = ("--timeout-graceful-shutdown", "10")  # uvicorn's options for the system's processes
POLL_SECONDS = 0.05
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Should the supervising process be killed outright, the kernel stops its children too.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def uvicorn(app: str, port: int, *options: str) -> list[str]:
    """The command that serves an app factory with one uvicorn worker on 127.0.0.1:`port`."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", app,
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *options,
    ]  # fmt: skip


async def port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def until_healthy(
    client: httpx.AsyncClient, url: str, within: float = START_TIMEOUT_SECONDS, process: "Process | None" = None
) -> None:
    """Until `GET url` answers 200, each try within `client`'s timeout; fails at once if `process` exits meanwhile."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        if process is not None and not process.running:
            raise RuntimeError(f"{process.name} exited with {process.returncode}")
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {within:g} s")
        await asyncio.sleep(0.1)


@dataclass
class Process:
    """One process of the system: its command and environment, and how to tell it is up.

    It is up when `health_url` answers 200, or else when something listens on `port`.
    """

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    health_url: str | None = None
    port: int | None = None
    log_file: Path | None = None  # instead of the terminal
    popen: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def start(self) -> None:
        output = self.log_file.open("ab") if self.log_file else None
        try:
            self.popen = subprocess.Popen(
                self.command, env={**os.environ, **self.env}, preexec_fn=_die_with_parent,
                stdout=output, stderr=subprocess.STDOUT if output else None,
            )  # fmt: skip
        finally:
            if output is not None:
                output.close()

    async def wait_healthy(self, client: httpx.AsyncClient, within: float = START_TIMEOUT_SECONDS) -> None:
        if self.health_url is not None:
            await until_healthy(client, self.health_url, within, self)
            return
        assert self.port is not None, f"{self.name}: no health URL and no port to wait for"
        deadline = asyncio.get_running_loop().time() + within
        while not await port_open(self.port):
            if not self.running:
                raise RuntimeError(f"{self.name} exited with {self.returncode}")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self.name}: nothing listens on {self.port} within {within:g} s")
            await asyncio.sleep(POLL_SECONDS)

    async def exited(self) -> int:
        """Its exit status, once it has exited."""
        assert self.popen is not None, f"{self.name} was never started"
        if (code := self.popen.poll()) is not None:
            return code
        # A pidfd turns readable when the process exits: the loop is told, and nothing polls.
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(self.popen.pid)
        gone: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pidfd, lambda: None if gone.done() else gone.set_result(None))
        try:
            await gone
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self.popen.wait()

    async def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in flight is cut off."""
        assert self.popen is not None and self.running, f"{self.name} is not running"
        self.popen.kill()
        await self.exited()

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM, and SIGKILL if it has not exited within `grace` seconds."""
        if self.popen is None or not self.running:
            return
        self.popen.terminate()
        try:
            await asyncio.wait_for(self.exited(), grace)
        except TimeoutError:
            await self.kill()

    def stop_blocking(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """`stop` for a synchronous caller."""
        if self.popen is None or not self.running:
            return
        self.popen.terminate()
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class Outage:
    """When a process was away: from its kill or stop to its answering again."""

    name: str
    began: float
    ended: float = float("inf")


class Supervisor:
    """The processes of a system, by name, in the order they start; they stop in the reverse order."""

    def __init__(self, processes: Sequence[Process]) -> None:
        self.processes = {process.name: process for process in processes}
        self.outages: list[Outage] = []
        self._http = httpx.AsyncClient(timeout=1.0)  # a health check that takes longer is tried again

    def __getitem__(self, name: str) -> Process:
        return self.processes[name]

    async def start(self, names: Iterable[str] | None = None) -> None:
        """Start those named (every one not yet started, by default) in order, then wait until each is up."""
        if names is None:
            chosen = [process for process in self.processes.values() if process.popen is None]
        else:
            chosen = [self.processes[name] for name in names]
        for process in chosen:
            process.start()
        await asyncio.gather(*(process.wait_healthy(self._http) for process in chosen))

    async def kill(self, name: str) -> None:
        """SIGKILL one process; the outage lasts until it is restarted."""
        self._began(name)
        await self.processes[name].kill()

    async def terminate(self, name: str) -> None:
        """SIGTERM one process, as a deployment stops it; the outage lasts until it is restarted."""
        assert self.processes[name].running, f"{name} is not running"
        self._began(name)
        await self.processes[name].stop()

    async def restart(self, name: str) -> None:
        """Start a stopped process again, on the same port, and wait until it is up."""
        process = self.processes[name]
        process.start()
        await process.wait_healthy(self._http)
        self.ended(name)

    def _began(self, name: str) -> None:
        self.outages.append(Outage(name, asyncio.get_running_loop().time()))

    def ended(self, name: str) -> None:
        """The latest outage of `name` is over."""
        outage = next(o for o in reversed(self.outages) if o.name == name)
        outage.ended = asyncio.get_running_loop().time()

    async def first_exit(self) -> Process:
        """The first process to exit of those running."""
        running = [process for process in self.processes.values() if process.running]
        exits = {asyncio.create_task(process.exited()): process for process in running}
        try:
            done, _ = await asyncio.wait(exits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in exits:
                task.cancel()
        return exits[next(iter(done))]

    async def stop(self) -> None:
        """Stop every process, the last started first."""
        for process in reversed(self.processes.values()):
            await process.stop()
        await self._http.aclose()


def trusting(gateway_url: str) -> dict[str, str]:
    """A service's settings to verify tokens against the gateway's keys, wherever it listens."""
    return {"AUTH_ISSUER": gateway_url, "AUTH_JWKS_URL": f"{gateway_url}/.well-known/jwks.json"}


def acting_as(client: tuple[str, str], gateway_url: str) -> dict[str, str]:
    """A service's settings to act as itself (on an event, with no caller), with a token from the gateway."""
    return {
        "SERVICE_CLIENT_ID": client[0],
        "SERVICE_CLIENT_SECRET": client[1],
        "SERVICE_CLIENT_TOKEN_URL": f"{gateway_url}/oauth/token",
    }


def own_database(name: str, environment: Mapping[str, str]) -> dict[str, str]:
    """The database a process was given by name, if any; the embedded SQLite file otherwise."""
    url = environment.get(f"{name.upper()}_DATABASE_URL")
    return {"DATABASE_URL": url} if url else {}


def plan_processes(
    data_dir: Path,
    gateway_port: int,
    bootstrap: tuple[str, str] | None,
    service_client: tuple[str, str],
    settings: Mapping[str, str] | None = None,
) -> tuple[list[Process], str, Credentials | None]:
    """The system as `make up` runs it, NATS first and the gateway last, the NATS URL they share, and
    the NATS users' credentials.

    NATS is a nats-server of its own unless `NATS_URL` names one; each process's database is
    `<NAME>_DATABASE_URL` when set. `settings` are added to the environment every process inherits.
    A nats-server of its own lets in only the users of `deploy.nats_users`, whose credentials are
    generated into `<data>/nats-users`, each process signing in as its own; a server named by
    `NATS_URL` is signed in to as the environment says (`NATS_NKEY_SEED_FILE`, ...).
    """
    environment = {**os.environ, **(settings or {})}
    processes: list[Process] = []
    nats_url = environment.get("NATS_URL", "")
    credentials: Credentials | None = None
    if not nats_url:
        nats_port = free_port()
        nats_url = f"nats://127.0.0.1:{nats_port}"
        credentials = nats_users.generate(data_dir / "nats-users")
        nats_command = [
            *nats_server_command(nats_port, data_dir / "nats"), "--config", str(credentials.accounts_config),
        ]  # fmt: skip
        # nats-server is a Go program: without a soft memory limit its heap gives memory back
        # lazily, and its resident size kept climbing with the stream under a steady load
        # (docs/performance.md). GOMEMLIMIT set in the environment wins.
        memory_limit = {"GOMEMLIMIT": environment.get("GOMEMLIMIT", NATS_MEMORY_LIMIT)}
        processes.append(Process("nats", nats_command, memory_limit, port=nats_port, log_file=data_dir / "nats.log"))
    common = {"PATHWAY_DATA_DIR": str(data_dir), "NATS_URL": nats_url}
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    issuer, as_itself = trusting(gateway_url), acting_as(service_client, gateway_url)
    ports = {name: free_port() for name in SERVICES}
    upstreams = {f"UPSTREAM_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()}
    for name, port in ports.items():
        env = common | own_database(name, environment) | issuer | as_itself | signed_in(credentials, name)
        # Reads of a family's data are decided by the consent service, on every read.
        env["ACCESS_DECISIONS_URL"] = upstreams["UPSTREAM_CONSENT_URL"]
        # The plan service reads a submitted assessment's needs from the assessment service, as itself,
        # and the consent service matches requests for access there.
        env["PLAN_ASSESSMENT_URL"] = upstreams["UPSTREAM_ASSESSMENT_URL"]
        env["CONSENT_ASSESSMENT_URL"] = upstreams["UPSTREAM_ASSESSMENT_URL"]
        # Notifications ask the plan service which organisations a plan names and who leads it,
        # and link reminders to the plans as the front end serves them.
        env["NOTIFICATIONS_PLAN_URL"] = upstreams["UPSTREAM_PLAN_URL"]
        env["NOTIFICATIONS_FRONT_END_URL"] = f"{gateway_url}/staff"
        if name == "consent":  # the key that signs the access log's checkpoints, kept beside the data, never committed
            key_file = environment.get("CONSENT_AUDIT_SIGNING_KEY_FILE") or ensure_key_file(
                data_dir / EMBEDDED_KEY_FILE
            )
            env["CONSENT_AUDIT_SIGNING_KEY_FILE"] = str(key_file)
        command = uvicorn(f"services.{name}.main:create_app", port, *GRACEFUL_SHUTDOWN)
        processes.append(Process(name, command, env, f"http://127.0.0.1:{port}/healthz", port))
    identity = {demo.SERVICE_CLIENT_ID_ENV: service_client[0], demo.SERVICE_CLIENT_SECRET_ENV: service_client[1]}
    if bootstrap:
        identity |= {demo.BOOTSTRAP_ID_ENV: bootstrap[0], demo.BOOTSTRAP_SECRET_ENV: bootstrap[1]}
    # Reached over plain HTTP on loopback, so its session cookie cannot be marked Secure.
    gateway_env = (
        common
        | own_database("gateway", environment)
        | upstreams
        | issuer
        | identity
        | signed_in(credentials, "gateway")
    )
    gateway_env["FRONT_END_SECURE_COOKIES"] = "false"
    gateway_command = uvicorn("gateway.main:create_app", gateway_port, *GRACEFUL_SHUTDOWN)
    processes.append(Process("gateway", gateway_command, gateway_env, f"{gateway_url}/readyz", gateway_port))
    for process in processes:
        process.env = {**(settings or {}), **process.env}
    return processes, nats_url, credentials


def signed_in(credentials: Credentials | None, user: str) -> dict[str, str]:
    """A process's settings to sign in to NATS as its own user, when NATS has users."""
    return credentials.settings_of(user) if credentials is not None else {}


class System(Supervisor):
    """The whole system as `make up` runs it, its demo organisations seeded on the first start.

    NATS processes of the caller's own (a cluster's nodes, say) go in `nats_nodes`, and
    `NATS_URL` must name them; they start, and are up, before anything else.
    """

    def __init__(
        self,
        data_dir: Path,
        gateway_port: int,
        nats_nodes: Sequence[Process] = (),
        settings: Mapping[str, str] | None = None,
        log_each: bool = False,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        self.bootstrap = demo.bootstrap_credentials(data_dir)
        planned, self.nats_url, self.nats_credentials = plan_processes(
            data_dir, gateway_port, self.bootstrap, demo.service_client_credentials(data_dir), settings
        )
        if log_each:  # each process's output in a file of its own, `<data>/<name>.log`
            for process in planned:
                process.log_file = data_dir / f"{process.name}.log"
        super().__init__([*nats_nodes, *planned])
        self.nats_processes = list(nats_nodes) or [process for process in planned if process.name == "nats"]

    async def start(self, names: Iterable[str] | None = None) -> None:
        """Start those named; by default NATS, then every other process not yet started, then seed the demo
        organisations on the first start."""
        if names is not None:
            await super().start(names)
            return
        await super().start([process.name for process in self.nats_processes if process.popen is None])
        if self.nats_credentials is not None:  # the services wait for the streams and consumers it makes
            await nats_users.provision(self.nats_credentials.nats_settings(nats_users.STREAMS_USER, self.nats_url))
        await super().start()
        if self.bootstrap:
            await demo.seed(self.gateway_url, self.data_dir, *self.bootstrap)
