import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

pytest_plugins = ["services.kit.testing", "tests.support.fixtures"]

# The slowest tests (schemathesis over one group of operations, the forms' the longest) take minutes.
HANG_SECONDS = 900.0
# A whole-system test bounds each of its waits itself (a minute and a half each, for a machine under load), and
# starts and stops every process: on a loaded CI machine their sum, not a hang, can pass a quarter of an hour.
WHOLE_SYSTEM_HANG_SECONDS = 1800.0

# Tests that run the whole system as processes (`make up`, the fault drills) load both cores on their own;
# under pytest-xdist they share one worker, one after another, rather than meet each other.
WHOLE_SYSTEM = pytest.mark.xdist_group("whole-system")


# Started first, so that the longest tests are not what a run waits for at its end.
LONGEST = (
    "test_schemathesis_finds_no_answer_the_document_does_not_declare",
    "test_every_event_reaches_the_receiver_across_a_kill_and_a_nats_restart",
    "test_health_assesses_and_shares_the_school_reads_it_until_the_family_withdraws",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") or item.get_closest_marker("faults"):
            item.add_marker(WHOLE_SYSTEM)

    def longest_first(item: pytest.Item) -> tuple[bool, bool]:
        name = getattr(item, "originalname", item.name)
        return name not in LONGEST, item.get_closest_marker("xdist_group") is None

    items.sort(key=longest_first)


@pytest.fixture(autouse=True)
async def _report_a_hang(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A test still running after HANG_SECONDS prints where every asyncio task waits, then is cancelled.

    A hang then fails one test and says where it waited, instead of stalling the whole run silently.
    """
    loop = asyncio.get_running_loop()
    whole_system = request.node.get_closest_marker("e2e") or request.node.get_closest_marker("faults")
    allowed = WHOLE_SYSTEM_HANG_SECONDS if whole_system else HANG_SECONDS

    def report() -> None:
        tasks = asyncio.all_tasks(loop)
        print(f"\nstill running after {allowed:g} s; {len(tasks)} asyncio tasks:", file=sys.__stderr__)
        for task in tasks:
            print(f"--- {task.get_name()}", file=sys.__stderr__)
            task.print_stack(file=sys.__stderr__)
        for task in tasks:
            task.cancel()

    alarm = loop.call_later(allowed, report)
    yield
    alarm.cancel()
