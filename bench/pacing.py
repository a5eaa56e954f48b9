"""A load started on a steady schedule, and the trace of when each of its events was sent and arrived."""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Trace:
    """One path at one rate: when each event was sent (its commit returned, or its POST began) and arrived."""

    rate: float
    seconds: float
    started: float = 0.0
    sent: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    def backlog(self, at: float) -> int:
        """Sent but not yet arrived at `at`."""
        return sum(sent <= at for sent in self.sent.values()) - sum(arrived <= at for arrived in self.arrived.values())

    def growth(self) -> int:
        return self.backlog(self.ended) - self.backlog(self.started + self.seconds / 2)

    def milliseconds(self) -> list[float]:
        """Each event's latency, in order, with those that never arrived last as infinite."""
        return sorted(
            (self.arrived[event_id] - sent) * 1000 if event_id in self.arrived else math.inf
            for event_id, sent in self.sent.items()
        )


async def paced(rate: float, seconds: float, send: Callable[[], Awaitable[None]], in_flight: int) -> float:
    """`rate` times `seconds` calls of `send`, each started on schedule as a task of its own; returns the start.

    At most `in_flight` run at once; beyond that the schedule waits, and the rate sent shows it.
    """
    room = asyncio.Semaphore(in_flight)
    tasks: list[asyncio.Task[None]] = []

    async def one() -> None:
        try:
            await send()
        finally:
            room.release()

    started = time.perf_counter()
    for n in range(round(rate * seconds)):
        # The loop's timers are coarser than 1 ms: a late wake-up starts what fell due meanwhile at once.
        if (wait := started + n / rate - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        await room.acquire()
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return started
