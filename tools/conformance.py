"""`make conformance`: schemathesis against a running gateway's OpenAPI document, with every check.

Every operation of the merged document is called with generated requests, valid
and not, and each answer is checked against the document: its status is one
the operation declares, its body fits the declared schema, valid data is
accepted and invalid data refused, and a 405 names the methods the path allows.
A partner generating a client from the document then meets no answer it was
not told of.

The operations are run in groups, one per service behind the gateway (the forms
apart) and one for the gateway's own, so that the suite can run them side by side.

    python -m tools.conformance [--url http://127.0.0.1:8000] [--group plan] [--max-examples 25]

It asks for a token with every scope as the admin client that `make up` made,
named by `GATEWAY_BOOTSTRAP_CLIENT_ID` and `GATEWAY_BOOTSTRAP_CLIENT_SECRET`.
The data it sends is made up, and it writes it through the API: point it at a
stack for development or testing, never at one that holds families' records.
"""

import argparse
import asyncio
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.proxy import ROUTES

SEED = 20261123
MAX_EXAMPLES = 25
SERVICES = sorted(set(ROUTES.values()))
GATEWAY_PATHS = ("admin", "oauth", ".well-known", "healthz", "readyz", "metrics")
OWN_GROUP = ("forms",)
# Rotating the signing key mid-run would invalidate the run's own token.
EXCLUDED_PATHS = ("/admin/signing-keys/rotate",)
DISABLING = r"^/admin/[a-z]+/\{[a-z_]+\}/disable$"
# A form definition is a deep document: generating one trips schemathesis's size, time and filter checks.
SUPPRESSED_HEALTH_CHECKS = "data_too_large,too_slow,filter_too_much"
CONFIG = Path(__file__).with_name("schemathesis.toml")


def groups() -> dict[str, str]:
    """Each group's operations, as a regular expression of their paths: a service's, or the gateway's own.

    Form definitions are deep documents, slow to generate: their operations are a group of their own,
    which takes about as long as the rest of the assessment service's.
    """
    by_service = {
        service: sorted(prefix for prefix, owner in ROUTES.items() if owner == service and prefix not in OWN_GROUP)
        for service in SERVICES
    }
    prefixes = {**by_service, **{prefix: [prefix] for prefix in OWN_GROUP}, "gateway": list(GATEWAY_PATHS)}
    return {name: rf"^/({'|'.join(map(re.escape, paths))})(/|$)" for name, paths in prefixes.items()}


@dataclass
class Outcome:
    passed: bool
    generated: int
    report: str


def command(url: str, token: str, group: str, *, disabling: bool, max_examples: int = MAX_EXAMPLES) -> list[str]:
    """The schemathesis run of one group; `disabling` lets it call the admin API's `/disable` operations.

    Those disable whatever organisation, client or member the run has seen, the admin client's own among them:
    right on a stack made for the run, not on one a developer goes on using.
    """
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    excluded = () if disabling else ("--exclude-path-regex", DISABLING)
    return [
        schemathesis, "--config-file", str(CONFIG), "run", f"{url}/openapi.json",
        "--checks", "all",
        "--header", f"Authorization: Bearer {token}",
        "--include-path-regex", groups()[group],
        *(option for path in EXCLUDED_PATHS for option in ("--exclude-path", path)), *excluded,
        "--max-examples", str(max_examples), "--seed", str(SEED), "--workers", "1",
        "--phases", "examples,coverage,fuzzing",
        "--suppress-health-check", SUPPRESSED_HEALTH_CHECKS,
    ]  # fmt: skip


async def token_of(url: str, client_id: str, secret: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=30.0
        )
        response.raise_for_status()
        access_token: str = response.json()["access_token"]
        return access_token


async def run(
    url: str, token: str, group: str, *, disabling: bool, max_examples: int = MAX_EXAMPLES, cwd: Path | None = None
) -> Outcome:
    """One group's run; `cwd` is where schemathesis keeps its example database."""
    process = await asyncio.create_subprocess_exec(
        *command(url, token, group, disabling=disabling, max_examples=max_examples),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,
    )
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    generated = int(counts[1]) if counts else 0
    passed = process.returncode == 0 and counts is not None and counts[1] == counts[2]
    return Outcome(passed, generated, report)


async def main(arguments: argparse.Namespace) -> int:
    client_id = os.environ.get("GATEWAY_BOOTSTRAP_CLIENT_ID")
    secret = os.environ.get("GATEWAY_BOOTSTRAP_CLIENT_SECRET")
    if not client_id or not secret:
        print("Set GATEWAY_BOOTSTRAP_CLIENT_ID and GATEWAY_BOOTSTRAP_CLIENT_SECRET.", file=sys.stderr)
        return 2
    token = await token_of(arguments.url, client_id, secret)
    failed = []
    for group in arguments.group or list(groups()):
        outcome = await run(arguments.url, token, group, disabling=False, max_examples=arguments.max_examples)
        print(f"{group}: {'passed' if outcome.passed else 'FAILED'} ({outcome.generated} requests)", flush=True)
        if not outcome.passed:
            print(outcome.report, flush=True)
            failed.append(group)
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway")
    parser.add_argument("--group", action="append", choices=list(groups()), help="only these; all by default")
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES, help="requests per operation and phase")
    sys.exit(asyncio.run(main(parser.parse_args())))
