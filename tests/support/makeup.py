"""What the end-to-end tests share: a fresh copy of the repository and `make up` running in it."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

REPOSITORY = Path(__file__).resolve().parents[2]
READY_WITHIN_SECONDS = 180  # `make up` itself waits up to 120 s for each process
STOPPED_WITHIN_SECONDS = 30


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


class MakeUp:
    """One run of `make up` (or of the runner behind it, given as `command`), stopped with SIGTERM."""

    def __init__(
        self,
        checkout: Path,
        data: Path,
        port: int,
        log: Path,
        command: tuple[str, ...] = ("make", "up"),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"UV_PROJECT_ENVIRONMENT", "VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "NATS_URL"}
        }
        env |= {"PATHWAY_DATA_DIR": str(data), "PATHWAY_GATEWAY_PORT": str(port)} | (extra_env or {})
        self.checkout, self.env = checkout, env  # what another make target needs to reach this stack
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            list(command), cwd=checkout, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def wait_ready(self) -> httpx.Response:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                ready = httpx.get(f"{self.url}/readyz", timeout=2)
                if ready.status_code == 200 and "Get a token:" in self.log.read_text():
                    return ready
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"not ready within {READY_WITHIN_SECONDS}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=STOPPED_WITHIN_SECONDS)
        self._log_file.close()


def printed(log: Path) -> str:
    return "\n".join(line for line in log.read_text().splitlines() if not line.startswith("{"))


def bearer(url: str, credentials: dict[str, str]) -> dict[str, str]:
    token = httpx.post(
        f"{url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials["client_id"], credentials["client_secret"]),
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}
