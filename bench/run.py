"""Runs every benchmark in turn, each in a process of its own, prints their figures and writes docs/performance.md.

The report holds the machine and versions it ran on and, for each benchmark, what
it measures (the first paragraph of its docstring) and every table it printed,
baseline rows included, as measured in this one run.
"""

import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.common import TABLES_ENV
from services.kit.natsserver import nats_server_binary

BENCHMARKS = (
    "bench.commit_to_stream",
    "bench.relay_throughput",
    "bench.http_baseline",
    "bench.gateway_overhead",
    "bench.tokens",
    "bench.validation",
    "bench.assessment_submit",
    "bench.access_decisions",
    "bench.plan_reports",
    "bench.plan_from_assessment",
    "bench.webhook_delivery",
    "bench.mixed_load",
    "bench.idle",
)
REPORT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def _command_version(*command: str) -> str:
    try:
        found = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return (found.stdout or found.stderr).strip().splitlines()[0] if (found.stdout or found.stderr) else "not found"


def machine() -> list[tuple[str, str]]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
    )
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("Memory", f"{memory_kb / 1024 / 1024:.0f} GiB"),
        ("System", platform.platform()),
        ("Python", platform.python_version()),
        (
            "PostgreSQL server",
            _command_version("psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"),
        ),
        ("nats-server", _command_version(nats_server_binary(), "--version")),
        *((name, version(name)) for name in ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "aiosqlite", "nats-py")),
    ]


def markdown(cells: list[list[str]]) -> str:
    header, *rows = cells
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def aims(output: list[str]) -> list[str]:
    """The benchmark's verdicts on its aims, as it printed them ("aim: ... met")."""
    return [line.strip() for line in output if line.startswith(("aim:", "aims:", "aim ("))]


def summary(module: str) -> str:
    doc = importlib.import_module(module).__doc__ or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def earlier_sections() -> dict[str, str]:
    """The report's sections by benchmark, from its last run, to keep those not run again."""
    if not REPORT.exists():
        return {}
    parts = REPORT.read_text().split("\n## `")[1:]
    return {part.split("`", 1)[0]: "## `" + part.rstrip("\n") + "\n" for part in parts}


def main(chosen: list[str]) -> int:
    """Every benchmark, or those named (`python -m bench.run bench.plan_reports`), whose sections it replaces."""
    if unknown := sorted(set(chosen) - set(BENCHMARKS)):
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
    failed = []
    sections = earlier_sections() if chosen else {}
    for module in chosen or BENCHMARKS:
        print(f"== {module}", flush=True)
        started = time.monotonic()
        with tempfile.NamedTemporaryFile(suffix=".jsonl") as tables:
            env = os.environ | {TABLES_ENV: tables.name}
            process = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=subprocess.PIPE, text=True)
            assert process.stdout is not None
            output = []
            for line in process.stdout:  # shown as it comes, and kept for the verdicts on the aims
                print(line, end="", flush=True)
                output.append(line)
            if process.wait() != 0:
                failed.append(module)
            printed = [json.loads(line) for line in Path(tables.name).read_text().splitlines()]
        took = time.monotonic() - started
        print(f"({took:.0f} s)\n", flush=True)
        body = "\n\n".join(markdown(table) for table in printed) or "No figures: the benchmark failed."
        if verdicts := aims(output):
            body = "\n".join(f"- {verdict}" for verdict in verdicts) + "\n\n" + body
        ran = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {took:.0f} s"
        sections[module] = f"## `{module}` ({ran})\n\n{summary(module)}\n\n{body}\n"
    header = [
        "# Performance",
        "",
        "Written by `make bench`; each section says when its benchmark ran. Each ran in a process of its "
        "own, next to its baseline in the same run; what each one measures, and its aim, is in "
        "[`bench/README.md`](../bench/README.md). Figures from one run on a shared machine vary: compare rows "
        "of the same table, not runs.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in machine()),
        "",
    ]
    if failed:
        header += [f"**Failed:** {', '.join(failed)}.", ""]
    REPORT.parent.mkdir(exist_ok=True)
    in_order = [sections[module] for module in BENCHMARKS if module in sections]
    REPORT.write_text("\n".join(header) + "\n" + "\n".join(in_order))
    print(f"wrote {REPORT}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
