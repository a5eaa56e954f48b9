"""Token buckets, one per client: a steady rate with room for bursts; and delays that grow with each failure.

Kept in the memory of each gateway process, so N replicas allow N times the
rate; that is the trade for adding no shared store to every request.
"""

import math
import time
from collections import OrderedDict

from services.kit.problems import TooManyRequests


class RateLimiter:
    def __init__(self, per_second: float, burst: int, max_callers: int = 100_000) -> None:
        self.per_second = per_second
        self.burst = burst
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # caller -> (tokens, at)

    def take(self, caller: str) -> None:
        """Spend one token of `caller`'s bucket, or refuse with 429 and when to come back."""
        now = time.monotonic()
        tokens, at = self._buckets.pop(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens < 1.0:
            self._buckets[caller] = (tokens, now)
            retry_after = math.ceil((1.0 - tokens) / self.per_second)
            refusal = TooManyRequests(f"Slow down: at most {self.per_second:g} requests a second.")
            refusal.headers = {"Retry-After": str(retry_after)}
            raise refusal
        self._buckets[caller] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)  # the caller heard from least recently


class ProgressiveDelay:
    """Failures in a row, per key: after `free` of them, each further try waits twice as long as the last.

    From `first_delay_seconds` up to `max_delay_seconds`; never a lock-out. A success, or
    `forget_after_seconds` without a failure, starts the count again.
    """

    def __init__(
        self,
        free: int,
        max_delay_seconds: float,
        first_delay_seconds: float = 1.0,
        forget_after_seconds: float = 900.0,
        max_keys: int = 100_000,
    ) -> None:
        self.free = free
        self.max_delay_seconds = max_delay_seconds
        self.first_delay_seconds = first_delay_seconds
        self.forget_after_seconds = forget_after_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (failures, last at)

    def check(self, key: str) -> None:
        """Refuse with 429 and when to come back, if `key` must still wait."""
        failures, at = self._failures.get(key, (0, 0.0))
        if failures < self.free:
            return
        now = time.monotonic()
        if now - at > self.forget_after_seconds:
            del self._failures[key]
            return
        wait = at + min(self.max_delay_seconds, self.first_delay_seconds * 2.0 ** (failures - self.free)) - now
        if wait > 0:
            refusal = TooManyRequests(f"Too many failed attempts. Wait {math.ceil(wait)} seconds, then try again.")
            refusal.headers = {"Retry-After": str(math.ceil(wait))}
            raise refusal

    def failed(self, key: str) -> None:
        now = time.monotonic()
        failures, at = self._failures.pop(key, (0, now))
        if now - at > self.forget_after_seconds:
            failures = 0
        self._failures[key] = (failures + 1, now)
        if len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
