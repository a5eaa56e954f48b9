"""The whole system at idle: the CPU each process uses and the log lines it writes while nothing happens.

The system runs as `make up` runs it (`deploy.supervisor.System`: a nats-server, every service and the
gateway in a process of its own, each on SQLite in a scratch folder, its output in a file of its own,
the demo organisations seeded). Once it has started it is left alone for `--settle` seconds, then for
`--seconds` (30) the script reads each process's CPU time from `/proc` (its own and its children's) and
counts the lines each adds to its log, and, among them, the requests one service made to another's
`/internal/` endpoints. It prints, per process and in all, the share of one core, log lines per second
and internal requests per second (aim: under 2% of a core in all, and no request and no log line).
"""

import argparse
import asyncio
import os
import time
from contextlib import AsyncExitStack
from pathlib import Path

from bench.common import print_table, scratch_folder, verdict
from deploy.supervisor import System
from services.kit.natsserver import free_port

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """The CPU time of `pid` and every process below it, user and system, in seconds."""
    total = 0.0
    for each in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND  # utime, stime
    return total


def _descendants(pid: int) -> list[int]:
    below = _children(pid)
    return [*below, *(grandchild for child in below for grandchild in _descendants(child))]


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def internal_requests(path: Path, skip_lines: int) -> int:
    if not path.exists():
        return 0
    lines = path.read_bytes().split(b"\n")[skip_lines:]
    return sum(1 for line in lines if b'"/internal/' in line or b" /internal/" in line)


async def main(arguments: argparse.Namespace) -> None:
    async with AsyncExitStack() as stack:
        data_dir = stack.enter_context(scratch_folder())
        system = System(data_dir, free_port(), log_each=True)
        stack.push_async_callback(system.stop)
        try:
            await system.start()
        except (RuntimeError, TimeoutError) as failure:
            tails = "\n".join(f"{name}: {(data_dir / f'{name}.log').read_text()[-2000:]}" for name in system.processes)
            raise SystemExit(f"the system did not start: {failure}\n{tails}") from failure
        await asyncio.sleep(arguments.settle)

        names = list(system.processes)
        logs = {name: data_dir / f"{name}.log" for name in names}
        pids = {name: system.processes[name].pid for name in names}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        lines_before = {name: line_count(logs[name]) for name in names}
        started = time.monotonic()
        await asyncio.sleep(arguments.seconds)
        elapsed = time.monotonic() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        lines = {name: line_count(logs[name]) - lines_before[name] for name in names}
        asked = {name: internal_requests(logs[name], lines_before[name]) for name in names}

    total_cpu = 100 * sum(cpu.values()) / elapsed
    rows: list[list[object]] = [
        [name, 100 * cpu[name] / elapsed, lines[name] / elapsed, asked[name] / elapsed] for name in names
    ]
    rows.append(["all", total_cpu, sum(lines.values()) / elapsed, sum(asked.values()) / elapsed])
    print_table(["process", "CPU, % of one core", "log lines/s", "requests to /internal/ per s"], rows)
    quiet = sum(lines.values()) == 0 and sum(asked.values()) == 0
    print(f"aim: under 2% of one core at idle: {verdict(total_cpu < 2.0)} ({total_cpu:.1f}%)")
    print(f"aim: no request between services and no log line at idle: {verdict(quiet)}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to sample (default: %(default)s)")
    parser.add_argument("--settle", type=float, default=10.0, help="idle time before sampling (default: %(default)s)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
