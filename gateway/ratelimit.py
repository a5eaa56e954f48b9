"""Token buckets, one per client: a steady rate with room for bursts.

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
