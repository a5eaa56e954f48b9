"""`make up` on a fresh copy of the repository runs the system and stops it cleanly."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from services.kit.natsserver import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
READY_WITHIN_SECONDS = 60
STOPPED_WITHIN_SECONDS = 30

pytestmark = pytest.mark.e2e


def fresh_copy(destination: Path) -> None:
    """The files a clone would have, and the working tree's edits to them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPOSITORY, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPOSITORY / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def processes_under(folder: Path) -> list[str]:
    """Command lines of live processes that run from inside `folder`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if str(folder) in command and "zombie" not in state:
            found.append(command)
    return found


def test_make_up_serves_the_gateway_and_sigterm_leaves_nothing_running(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    fresh_copy(checkout)
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"UV_PROJECT_ENVIRONMENT", "VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "NATS_URL"}
    }
    env |= {"PATHWAY_DATA_DIR": str(tmp_path / "data"), "PATHWAY_GATEWAY_PORT": str(port)}
    log = (tmp_path / "make-up.log").open("wb")
    make = subprocess.Popen(["make", "up"], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        ready = None
        while time.monotonic() < deadline and make.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, (tmp_path / "make-up.log").read_text()[-3000:]
        checks = ready.json()["checks"]
        assert checks == {
            "database": True, "nats": True, "assessment": True, "consent": True, "plan": True, "notifications": True,
        }  # fmt: skip
        assert processes_under(checkout), "the services should run from the fresh copy"
    finally:
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=STOPPED_WITHIN_SECONDS)
        log.close()

    deadline = time.monotonic() + 5
    while processes_under(checkout) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(checkout) == []
    assert (tmp_path / "data" / "assessment.db").exists()
    assert (tmp_path / "data" / "nats" / "jetstream").is_dir()
