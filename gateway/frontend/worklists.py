"""What a member and their organisation must act on: the home page's lists, and the navigation's counts of them.

The navigation's counts are asked for on every page, all at once, and kept on the request; the lists only by the
pages that show them (the home page, the front door, the access requests), once each. A list or count a service
cannot give now is `None`: its count is left out and the page is still shown.
"""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from gateway.frontend.calls import ServiceProblem, ServiceUnavailable, StaffCalls
from gateway.frontend.sessions import SignedIn

COORDINATOR = "coordinator"  # the organisation's standing (`org_roles`) that lets it decide requests for support

Listed = list[dict[str, Any]] | None


def is_coordinator(staff: SignedIn) -> bool:
    return COORDINATOR in staff.organisation_roles


@dataclass(frozen=True)
class Worklists:
    """The lists the home page, the front door and the access requests show."""

    led: Listed  # the open plans the member leads
    waiting: Listed  # requests for support waiting for a decision: a coordinator's alone
    allocated: Listed  # decided requests for support whose work was given to the member's organisation
    incoming: Listed  # access requests waiting for the organisation's answer
    drafts: Listed  # the organisation's assessments in draft


Counted = int | None


@dataclass(frozen=True)
class Counts:
    """The navigation's numbers: how long each list is, asked for without the lists.

    Listing a family's records is a read of them, audited item by item; a number names no family. Counting
    keeps the access log to what members opened, rather than an entry for each of their plans on every page.
    """

    led: Counted
    waiting: Counted
    allocated: Counted
    incoming: Counted
    drafts: Counted

    @property
    def front_door(self) -> int | None:
        return _total(self.waiting, self.allocated)

    @property
    def access_requests(self) -> int | None:
        return _total(self.incoming)

    @property
    def my_work(self) -> int | None:
        """Everything the home page lists; no count when any is missing, rather than one too low."""
        return _total(self.led, self.waiting, self.allocated, self.incoming, self.drafts)


def _total(*counts: Counted) -> int | None:
    if any(count is None for count in counts):
        return None
    return sum(count or 0 for count in counts)


async def _or_none(asked: Awaitable[Any]) -> Listed:
    """A list, or `None` when the service refuses or is away: a count is never worth a failed page."""
    try:
        found = await asked
    except (ServiceProblem, ServiceUnavailable):
        return None
    return list(found) if isinstance(found, list) else None


async def _none() -> Listed:
    return []


async def _count_or_none(asked: Awaitable[Any]) -> Counted:
    """A count, or `None` when the service refuses or is away: a badge is never worth a failed page."""
    try:
        found = await asked
    except (ServiceProblem, ServiceUnavailable):
        return None
    return found["count"] if isinstance(found, dict) and isinstance(found.get("count"), int) else None


async def _zero() -> Counted:
    return 0


async def _length(listed: Awaitable[Listed]) -> Counted:
    found = await listed
    return None if found is None else len(found)


async def _allocated(calls: StaffCalls, staff: SignedIn) -> Listed:
    """Decided requests given to the member's organisation (a coordinator is shown every decision: those are kept)."""
    decided = await calls.get("/requests-for-support", {"status": "decided"})
    return [r for r in decided if (r["decision"] or {}).get("allocated_organisation_id") == staff.organisation_id]


async def counts(request: Request, calls: StaffCalls, staff: SignedIn) -> Counts:
    """The navigation's numbers, asked for together once a page and kept for the rest of it."""
    kept: Counts | None = getattr(request.state, "counts", None)
    if kept is not None:
        return kept
    led, waiting, allocated, incoming, drafts = await asyncio.gather(
        _count_or_none(calls.get("/plans/led/count", {"lead_email": staff.email})) if staff.email else _zero(),
        _count_or_none(calls.get("/requests-for-support/count", {"status": "waiting"}))
        if is_coordinator(staff)
        else _zero(),
        _count_or_none(calls.get("/requests-for-support/count", {"status": "allocated"})),
        # Access requests are the consent service's own records, not a family's: listing them audits nothing.
        _length(_or_none(calls.get("/access-requests", {"direction": "incoming"}))),
        _count_or_none(calls.get("/assessments/drafts/count")),
    )
    found = Counts(led, waiting, allocated, incoming, drafts)
    request.state.counts = found
    return found


async def worklists(request: Request, calls: StaffCalls, staff: SignedIn) -> Worklists:
    """The member's lists, asked for together the first time a page wants them and kept for the rest of it."""
    kept: Worklists | None = getattr(request.state, "worklists", None)
    if kept is not None:
        return kept
    led, waiting, allocated, incoming, drafts = await asyncio.gather(
        _or_none(calls.get("/plans", {"lead_email": staff.email}) if staff.email else _none()),
        _or_none(calls.get("/requests-for-support", {"status": "waiting"}) if is_coordinator(staff) else _none()),
        _or_none(_allocated(calls, staff)),
        _or_none(calls.get("/access-requests", {"direction": "incoming"})),
        _or_none(calls.get("/assessments", {"status": "draft"})),
    )
    found = Worklists(led, waiting, allocated, incoming, drafts)
    request.state.worklists = found
    return found
