"""The whole system as `make up` wires it, under `deploy.supervisor`, with NATS as one server or a cluster.

`make up` stops everything when one process dies: right there, wrong here, where
processes are killed on purpose. So the system is `deploy.supervisor.System`
(the same commands, ports and environment), driven here: each process killed or
stopped and restarted on its own port, each outage noted. NATS is one server,
or a JetStream cluster of three on loopback, started and waited for here
before the services.
"""

import asyncio
from collections.abc import Iterable
from pathlib import Path

import httpx
import nats
from nats.errors import Error as NatsError

from deploy import demo
from deploy.supervisor import SERVICES, Process
from deploy.supervisor import System as Supervised
from services.kit.natsserver import free_port, nats_server_command

STREAM = "PATHWAY"
PROCESSES = ("gateway", *SERVICES)

__all__ = ["PROCESSES", "SERVICES", "STREAM", "Nats", "System"]


class Nats:
    """One nats-server, or a JetStream cluster of `size` nodes on loopback, as processes to supervise."""

    def __init__(self, root: Path, size: int = 1) -> None:
        self.size = size
        ports = [free_port() for _ in range(size)]
        if size == 1:
            command = nats_server_command(ports[0], root / "nats")
            self.nodes = [Process("nats-0", command, port=ports[0], log_file=root / "nats-0.log")]
            return
        routes = [f"nats://127.0.0.1:{free_port()}" for _ in range(size)]
        self.nodes = [
            Process(
                f"nats-{index}",
                [*nats_server_command(port, root / f"nats-{index}"), *_cluster_node(f"node-{index}", route, routes)],
                port=port,
                log_file=root / f"nats-{index}.log",
            )
            for index, (port, route) in enumerate(zip(ports, routes, strict=True))
        ]

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{node.port}" for node in self.nodes)

    async def ready(self, within: float = 60.0) -> None:
        """Until JetStream answers (in a cluster: until its nodes have chosen a leader)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            try:
                connection = await nats.connect(servers=self.url.split(","), connect_timeout=1, allow_reconnect=False)
                try:
                    await connection.jetstream().account_info()
                    return
                finally:
                    await connection.close()
            except (NatsError, TimeoutError, OSError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def stream_leader(self) -> int:
        """Which node leads the stream of domain events."""
        connection = await nats.connect(servers=self.url.split(","))
        try:
            cluster = (await connection.jetstream().stream_info(STREAM)).cluster
        finally:
            await connection.close()
        assert cluster is not None and cluster.leader is not None, "the stream has no leader"
        return [f"node-{index}" for index in range(self.size)].index(cluster.leader)


def _cluster_node(name: str, route: str, routes: list[str]) -> list[str]:
    """nats-server's arguments for one node of a JetStream cluster, routed to every other node."""
    others = ",".join(other for other in routes if other != route)
    return ["--server_name", name, "--cluster_name", "pathway", "--cluster", route, "--routes", others]


class System(Supervised):
    """Every process of the system, started, killed and restarted on its own ports.

    Like `make up`, it takes NATS (`NATS_URL`, naming `nats_server`), each
    process's database (`<NAME>_DATABASE_URL`) and any setting from the environment.
    """

    def __init__(self, root: Path, nats_server: Nats) -> None:
        super().__init__(root / "data", free_port(), nats_server.nodes, log_each=True)
        assert self.nats_url == nats_server.url, "NATS_URL must name this system's NATS"
        self.nats = nats_server
        self.council: dict[str, str] = {}  # the demo council's case system's Authorization header

    def log(self, name: str) -> str:
        return (self.data_dir / f"{name}.log").read_text(errors="replace")

    async def start(self, names: Iterable[str] | None = None) -> None:
        if names is not None:
            await super().start(names)
            return
        await super().start([node.name for node in self.nats.nodes])
        await self.nats.ready()
        assert self.bootstrap is not None, "a system of the faults tests starts on a fresh data folder"
        await super().start()  # the services, then the gateway in front of them, then the demo organisations
        council = demo.demo_clients(self.data_dir)["council"]
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=30) as http:
            self.council = await demo.bearer(http, council["client_id"], council["client_secret"])

    async def terminate_logged(self, name: str) -> str:
        """SIGTERM, as a deployment stops a process; returns what it logged meanwhile."""
        logged_before = len(self.log(name))
        await self.terminate(name)
        return self.log(name)[logged_before:]

    async def stop_nats_node(self, index: int, *, kill: bool) -> None:
        if kill:
            await self.kill(f"nats-{index}")
        else:
            await self.terminate(f"nats-{index}")

    async def start_nats_node(self, index: int) -> None:
        name = f"nats-{index}"
        self[name].start()
        await self[name].wait_healthy(self._http)
        await self.nats.ready()
        self.ended(name)
