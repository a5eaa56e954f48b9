"""Runs every benchmark in turn, each in a process of its own, and prints their figures."""

import subprocess
import sys
import time

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
)


def main() -> int:
    failed = []
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        started = time.monotonic()
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
        print(f"({time.monotonic() - started:.0f} s)\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
