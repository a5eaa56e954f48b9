"""The whole system as `make up` wires it, under a supervisor that kills processes and starts them again.

`deploy.local` stops everything when one process dies: right for `make up`,
wrong here, where processes are killed on purpose. So the processes are
planned by `deploy.local.plan_children` (the same commands, ports and
environment) and supervised here instead, each keeping its port across restarts.
NATS is one server, or a JetStream cluster of three on loopback.
"""

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
from nats.errors import Error as NatsError

from deploy import demo
from deploy.local import Child, plan_children, wait_healthy
from services.kit.natsserver import NatsServer, free_port

STREAM = "PATHWAY"
SERVICES = ("assessment", "consent", "plan", "notifications")
PROCESSES = ("gateway", *SERVICES)


@dataclass
class Outage:
    """When a process (or NATS) was away: from its kill to its answering again."""

    name: str
    began: float
    ended: float = float("inf")


class Nats:
    """One nats-server, or a JetStream cluster of `size` nodes on loopback."""

    def __init__(self, root: Path, size: int = 1) -> None:
        self.size = size
        if size == 1:
            self.nodes = [NatsServer(root / "nats")]
            return
        routes = [f"nats://127.0.0.1:{free_port()}" for _ in range(size)]
        self.nodes = [
            NatsServer(root / f"nats-{index}", arguments=_cluster_node(f"node-{index}", route, routes))
            for index, route in enumerate(routes)
        ]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    async def start(self) -> None:
        for node in self.nodes:
            node.start()
        await self.ready()

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

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _cluster_node(name: str, route: str, routes: list[str]) -> list[str]:
    """nats-server's arguments for one node of a JetStream cluster, routed to every other node."""
    others = ",".join(other for other in routes if other != route)
    return ["--server_name", name, "--cluster_name", "pathway", "--cluster", route, "--routes", others]


class System:
    """Every process of the system, started, killed and restarted on its own ports.

    Like `make up`, it takes NATS (`NATS_URL`, naming `nats_server`), each
    process's database (`<NAME>_DATABASE_URL`) and any setting from the environment.
    """

    def __init__(self, root: Path, nats_server: Nats) -> None:
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.nats = nats_server
        self.gateway_url = ""
        self.council: dict[str, str] = {}  # the demo council's case system's Authorization header
        self.outages: list[Outage] = []
        self._children: dict[str, Child] = {}
        self._http = httpx.AsyncClient()

    def log(self, name: str) -> str:
        return (self.data_dir / f"{name}.log").read_text(errors="replace")

    async def start(self) -> None:
        await self.nats.start()
        gateway_port = free_port()
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        bootstrap = demo.bootstrap_credentials(self.data_dir)
        children, nats_url = plan_children(
            self.data_dir, gateway_port, bootstrap, demo.service_client_credentials(self.data_dir)
        )
        assert nats_url == self.nats.url, "NATS_URL must name this system's NATS"
        for child in children:
            child.log_file = self.data_dir / f"{child.name}.log"
            self._children[child.name] = child
        for name in reversed(PROCESSES):  # the services, then the gateway in front of them
            await self._children[name].start()
        await asyncio.gather(*(wait_healthy(child, self._http) for child in self._children.values()))
        assert bootstrap is not None
        await demo.seed(self.gateway_url, self.data_dir, *bootstrap)
        council = demo.demo_clients(self.data_dir)["council"]
        async with httpx.AsyncClient(base_url=self.gateway_url) as http:
            self.council = await demo.bearer(http, council["client_id"], council["client_secret"])

    async def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in flight is cut off."""
        process = self._children[name].process
        assert process is not None and process.returncode is None, f"{name} is not running"
        self.outages.append(Outage(name, asyncio.get_running_loop().time()))
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def terminate(self, name: str) -> str:
        """SIGTERM, as a deployment stops a process; returns what it logged meanwhile."""
        process = self._children[name].process
        assert process is not None and process.returncode is None, f"{name} is not running"
        self.outages.append(Outage(name, asyncio.get_running_loop().time()))
        logged_before = len(self.log(name))
        await self._children[name].stop()
        return self.log(name)[logged_before:]

    async def restart(self, name: str) -> None:
        await self._children[name].start()
        await wait_healthy(self._children[name], self._http)
        self._ended(name)

    def stop_nats_node(self, index: int, *, kill: bool) -> None:
        self.outages.append(Outage(f"nats-{index}", asyncio.get_running_loop().time()))
        if kill:
            self.nats.nodes[index].kill()
        else:
            self.nats.nodes[index].stop()

    async def start_nats_node(self, index: int) -> None:
        self.nats.nodes[index].start()
        await self.nats.ready()
        self._ended(f"nats-{index}")

    def _ended(self, name: str) -> None:
        outage = next(o for o in reversed(self.outages) if o.name == name)
        outage.ended = asyncio.get_running_loop().time()

    async def stop(self) -> None:
        for name in PROCESSES:  # the gateway first, NATS last
            if name in self._children:
                await self._children[name].stop()
        await self._http.aclose()
        self.nats.stop()
