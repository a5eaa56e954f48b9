"""What a member and their organisation must act on: the home page's lists, and the navigation's counts of them.

The lists are asked for once a page, all at once, and kept on the request: the navigation counts them on every
page, and the home page, the front door and the access requests show them without asking again. A list a
service cannot give now is `None`: its count is left out and the page is still shown.
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
    led: Listed  # the open plans the member leads
    waiting: Listed  # requests for support waiting for a decision: a coordinator's alone
    allocated: Listed  # decided requests for support whose work was given to the member's organisation
    incoming: Listed  # access requests waiting for the organisation's answer
    drafts: Listed  # the organisation's assessments in draft

    @property
    def front_door(self) -> int | None:
        return _total(self.waiting, self.allocated)

    @property
    def access_requests(self) -> int | None:
        return _total(self.incoming)

    @property
    def my_work(self) -> int | None:
        """Everything the home page lists; no count when any list is missing, rather than one too low."""
        return _total(self.led, self.waiting, self.allocated, self.incoming, self.drafts)


def _total(*lists: Listed) -> int | None:
    if any(found is None for found in lists):
        return None
    return sum(len(found or []) for found in lists)


async def _or_none(asked: Awaitable[Any]) -> Listed:
    """A list, or `None` when the service refuses or is away: a count is never worth a failed page."""
    try:
        found = await asked
    except (ServiceProblem, ServiceUnavailable):
        return None
    return list(found) if isinstance(found, list) else None


async def _none() -> Listed:
    return []


async def _allocated(calls: StaffCalls, staff: SignedIn) -> Listed:
    """Decided requests given to the member's organisation (a coordinator is shown every decision: those are kept)."""
    decided = await calls.get("/requests-for-support", {"status": "decided"})
    return [r for r in decided if (r["decision"] or {}).get("allocated_organisation_id") == staff.organisation_id]


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
