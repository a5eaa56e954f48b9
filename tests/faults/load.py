"""A steady load of partner-system work through the gateway, kept for checking afterwards.

Each worker is a council's case system: it registers a family, posts a submitted
early help assessment, waits for the plan that opens from it, and changes that
plan a few times; then the next family. It retries the way a careful client does:
a POST with the same `Idempotency-Key`, a change with the `If-Match` it was
based on, so a retry can never take effect twice. Every try is recorded, with
its time, for the checks.
"""

import asyncio
import contextlib
import itertools
import traceback
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from tests.support.samples import submitted_sample

CHANGES_PER_PLAN = 4
GIVE_UP_AFTER_SECONDS = 90.0
RETRY_PAUSE_SECONDS = 0.2
FIRST_REVIEW = date(2027, 1, 4)


@dataclass(frozen=True)
class Try:
    """One request sent. `status` is None when no answer came (refused, reset or timed out)."""

    method: str
    path: str
    needs: frozenset[str]  # the processes that must be up to answer it
    began: float
    ended: float
    status: int | None


@dataclass
class PlanWork:
    id: str
    family_id: str
    assessment_id: str
    first_version: int
    next_review_due: list[str] = field(default_factory=list)  # each change acknowledged, in order


class GaveUp(Exception):
    pass


class Load:
    def __init__(self, gateway_url: str, headers: dict[str, str], workers: int, run: str) -> None:
        self._http = httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=10)
        self._workers = workers
        self._run = run  # keeps Idempotency-Keys apart between test runs
        self._numbers = itertools.count()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._abandoned = False
        self._failures: list[str] = []  # each worker's failure, with where it happened
        self.tries: list[Try] = []
        self.families: list[str] = []  # every family registered with a 201
        self.assessments: dict[str, str] = {}  # assessment id → family id, for each submission answered 201
        self.plans: list[PlanWork] = []  # every plan whose changes were all made

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(), name=f"load-{n}") for n in range(self._workers)]

    async def stop(self) -> None:
        """Let each worker finish the family it is on, then stop."""
        self._stopping.set()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self._http.aclose()

    async def abandon(self) -> None:
        """Stop at once, after a failure elsewhere."""
        self._abandoned = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.aclose()

    def answered(self) -> int:
        return sum(1 for attempt in self.tries if attempt.status is not None and attempt.status < 300)

    async def progressed(self, plans: int = 0, answers: int = 0, within: float = 60.0) -> None:
        """Until `plans` more families have been through the whole round and `answers` more
        requests were answered 2xx; a stalled system fails here."""
        plans_wanted, answers_wanted = len(self.plans) + plans, self.answered() + answers
        deadline = asyncio.get_running_loop().time() + within
        while len(self.plans) < plans_wanted or self.answered() < answers_wanted:
            for task in self._tasks:
                if task.done():
                    self._raise_failure_of(task)
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"{len(self.plans)} plans and {self.answered()} answers, not {plans_wanted} and {answers_wanted}"
                )
            await asyncio.sleep(0.1)

    def _raise_failure_of(self, task: asyncio.Task[None]) -> None:
        """A worker's failure, raised here with where it happened; a cancellation nobody asked for included,
        which `task.result()` would raise as a bare CancelledError with no trace of its origin."""
        if task.cancelled() or task.exception() is not None:
            raise AssertionError(f"{task.get_name()} failed:\n" + "\n".join(self._failures))

    async def _worker(self) -> None:
        try:
            while not self._stopping.is_set():
                await self._one_family(next(self._numbers))
        except BaseException:
            if not self._abandoned:
                self._failures.append(traceback.format_exc())
            raise

    async def _one_family(self, number: int) -> None:
        key = f"{self._run}-{number}"
        family = await self._send(
            "POST", "/families", {"gateway", "assessment", "consent"},
            json={"members": [{"role": "child", "given_name": "Child", "family_name": f"Faults{number}"}]},
            headers={"Idempotency-Key": f"{key}-family"},
        )  # fmt: skip
        assert family.status_code == 201, family.text
        family_id = family.json()["id"]
        self.families.append(family_id)
        assessment = await self._send(
            "POST", "/assessments", {"gateway", "assessment", "consent"},
            json=submitted_sample(family_id, "early-help-assessment"), headers={"Idempotency-Key": f"{key}-assessment"},
        )  # fmt: skip
        assert assessment.status_code == 201, assessment.text
        self.assessments[assessment.json()["id"]] = family_id
        plan = await self._opened_plan(family_id)
        work = PlanWork(plan["id"], family_id, assessment.json()["id"], plan["version"])
        etag = plan["etag"]
        for change in range(CHANGES_PER_PLAN):
            due = (FIRST_REVIEW + timedelta(days=7 * change)).isoformat()
            etag = await self._change(work.id, due, etag)
            work.next_review_due.append(due)
        self.plans.append(work)

    async def _opened_plan(self, family_id: str) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + GIVE_UP_AFTER_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            listed = await self._send("GET", "/plans", {"gateway", "plan", "consent"}, params={"family_id": family_id})
            assert listed.status_code == 200, listed.text
            if listed.json():
                opened = await self._send("GET", f"/plans/{listed.json()[0]['id']}", {"gateway", "plan", "consent"})
                assert opened.status_code == 200, opened.text
                return {**opened.json(), "etag": opened.headers["ETag"]}
            await asyncio.sleep(0.3)
        raise GaveUp(f"no plan opened for family {family_id} within {GIVE_UP_AFTER_SECONDS}s")

    async def _change(self, plan_id: str, due: str, etag: str) -> str:
        """Set the plan's next review; returns the plan's new ETag."""
        path, needs = f"/plans/{plan_id}", {"gateway", "plan", "consent"}
        changed = await self._send("PATCH", path, needs, json={"next_review_due": due}, headers={"If-Match": etag})
        if changed.status_code == 200:
            return changed.headers["ETag"]
        # A 412 after a retry: the first try took effect but its answer was lost. Nobody else
        # changes this plan, so the plan as it is now must be ours; it is not sent again.
        assert changed.status_code == 412, changed.text
        now = await self._send("GET", path, needs)
        assert now.json()["next_review_due"] == due, now.text
        return now.headers["ETag"]

    async def _send(self, method: str, path: str, needs: set[str], **arguments: Any) -> httpx.Response:
        """Send until answered with anything but a 5xx, a 429 or nothing; every try is recorded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GIVE_UP_AFTER_SECONDS
        while True:
            began, response = loop.time(), None
            with contextlib.suppress(httpx.TransportError):
                response = await self._http.request(method, path, **arguments)
            status = None if response is None else response.status_code
            self.tries.append(Try(method, path, frozenset(needs), began, loop.time(), status))
            if response is not None and response.status_code < 500 and response.status_code != 429:
                return response
            if loop.time() > deadline:
                raise GaveUp(f"{method} {path}: still {status} after {GIVE_UP_AFTER_SECONDS}s")
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
