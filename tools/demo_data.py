"""`make demo-data`: fill a running stack with 18 months of believable early help, through the gateway only.

Each family's story is planned first from the seed and the family's number
alone (`tools.synthetic.stories.plan_story`), so a seed gives the same families,
needs and dates on a given day whatever order the requests finish in; then it is
told to the public API as partner systems would (`tools.synthetic.loader`). The
shares follow published figures (`tools.synthetic.proportions`).
"""

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

from deploy.demo import CREDENTIALS_FILE
from tools.synthetic.gateway import LoadFailed
from tools.synthetic.loader import load
from tools.synthetic.people import MEMBERS_PER_FAMILY, SERIALS_PER_SEED


def main(argv: list[str] | None = None) -> int:
    data_dir = Path(os.environ.get("PATHWAY_DATA_DIR", ".data"))
    port = os.environ.get("PATHWAY_GATEWAY_PORT", "8000")
    parser = argparse.ArgumentParser(prog="python -m tools.demo_data", description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=10_000, help="how many families (default 10000)")
    parser.add_argument("--gateway", default=f"http://127.0.0.1:{port}", help="the gateway's URL")
    parser.add_argument("--seed", type=int, default=1, help="0-99; the same seed tells the same stories (default 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests at once (default 16)")
    parser.add_argument(
        "--credentials", type=Path, default=data_dir / CREDENTIALS_FILE, help="the demo clients, written by make up"
    )
    options = parser.parse_args(argv)
    if not 1 <= options.families <= SERIALS_PER_SEED // MEMBERS_PER_FAMILY:
        parser.error(f"--families is 1 to {SERIALS_PER_SEED // MEMBERS_PER_FAMILY}")
    if not 0 <= options.seed <= 99:
        parser.error("--seed is 0 to 99")
    if options.concurrency < 1:
        parser.error("--concurrency is at least 1")
    if not options.credentials.exists():
        parser.error(f"no demo credentials at {options.credentials}: start the stack with `make up` first")
    credentials = json.loads(options.credentials.read_text())
    try:
        print(asyncio.run(load(options.gateway, credentials, options.families, options.seed, options.concurrency)))
    except LoadFailed as failure:
        print(f"demo data: {failure}", file=sys.stderr)
        return 1
    except httpx.HTTPError as failure:
        print(f"demo data: the gateway at {options.gateway} cannot be reached: {failure!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
