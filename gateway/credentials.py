"""Client secrets and staff passwords: made random, stored as argon2 hashes.

argon2 (through argon2-cffi) is deliberately slow, which protects the hashes at
rest but would cap token issuance near twenty a second per core. Client secrets
are 256 random bits, not guessable passwords, so once a client's secret is made
here or has passed one argon2 check, it is remembered as a SHA-256 digest, in
memory only, and later requests compare digests. A changed hash (a new secret) forgets it.
Staff passwords are always checked with argon2: a remembered digest would answer
a known address faster than an unknown one.

Each argon2 check holds 64 MiB for a tenth of a second or so, so checks run in a
`HashingPool` of a few threads of their own, never in the shared thread pool: a
flood of sign-ins or token requests waits there briefly, and past that is turned
away (503 with Retry-After) instead of taking the memory of the host.
"""

import asyncio
import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.kit.problems import ServiceUnavailable

T = TypeVar("T")

_hasher = PasswordHasher()
_verified: dict[str, bytes] = {}  # secret hash -> SHA-256 of the secret that matched it
_REMEMBERED_AT_MOST = 10_000


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def hash_client_secret(secret: str) -> str:
    """The hash of a client's new secret, remembered at once: its first token then needs no argon2 check either."""
    secret_hash = _hasher.hash(secret)
    _remember(secret_hash, hashlib.sha256(secret.encode()).digest())
    return secret_hash


def _remember(secret_hash: str, digest: bytes) -> None:
    if len(_verified) >= _REMEMBERED_AT_MOST:
        _verified.clear()
    _verified[secret_hash] = digest


def verify_secret(secret_hash: str, secret: str) -> bool:
    digest = hashlib.sha256(secret.encode()).digest()
    remembered = _verified.get(secret_hash)
    if remembered is not None:
        return hmac.compare_digest(remembered, digest)
    try:
        _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
    _remember(secret_hash, digest)
    return True


def verify_password(password_hash: str, password: str) -> bool:
    """A staff password against its hash: argon2 every time, whether it matches or not."""
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def is_remembered(secret_hash: str) -> bool:
    """Whether a client's secret is checked by digest, without argon2."""
    return secret_hash in _verified


class HashingBusy(ServiceUnavailable):
    slug, title = "hashing-busy", "Too many sign-ins at once"

    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__("Too many sign-ins and token requests are being checked at once. Try again shortly.")
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after_seconds)))}


class HashingPool:
    """argon2 work on `workers` threads of its own; at most `waiting` more wait, each at most `wait_seconds`.

    Bounded so that the memory argon2 takes is bounded too: `workers` x 64 MiB. A
    plain semaphore and executor rather than the event loop's default pool, which
    is shared with all other blocking work and unbounded in its queue.
    """

    def __init__(self, workers: int, waiting: int, wait_seconds: float) -> None:
        self.waiting = waiting
        self.wait_seconds = wait_seconds
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._running = asyncio.Semaphore(workers)
        self._queued = 0

    async def run(self, work: Callable[..., T], *args: str) -> T:
        """`work(*args)` on one of the pool's threads, or HashingBusy when none comes free in time."""
        if self._running.locked():
            if self._queued >= self.waiting:
                raise HashingBusy(self.wait_seconds)
            self._queued += 1
            try:
                async with asyncio.timeout(self.wait_seconds):
                    await self._running.acquire()
            except TimeoutError:
                raise HashingBusy(self.wait_seconds) from None
            finally:
                self._queued -= 1
        else:
            await self._running.acquire()
        # The thread is released when argon2 ends, not when a caller gives up waiting for it: a request
        # cancelled half-way must not let another check start beside one still running.
        done = asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        done.add_done_callback(lambda _: self._running.release())
        return await asyncio.shield(done)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
