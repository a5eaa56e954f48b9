"""Home: the member's own work, and their organisation's, each list with its count."""

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.frontend.front_door_pages import OUTCOMES
from gateway.frontend.pages import organisation_names
from gateway.frontend.site import HOME, Calls, Staff, render
from gateway.frontend.worklists import is_coordinator, worklists
from services.kit.db import SessionDep

router = APIRouter(include_in_schema=False)


async def _with_family(calls: Calls, plan: dict[str, Any]) -> dict[str, Any]:
    """A plan with its family, for the child's name: the lead's organisation may read both, and each read is audited."""
    return plan | {"family": await calls.get(f"/families/{plan['family_id']}")}


@router.get(HOME)
async def home_page(request: Request, calls: Calls, staff: Staff, session: SessionDep) -> Response:
    """What the member and their organisation must act on; each list is what the services let them see.

    The lists are those the navigation counted for this page; one a service could not give is said so.
    """
    work = await worklists(request, calls, staff)
    plans = None
    if work.led is not None:
        plans = list(await asyncio.gather(*(_with_family(calls, plan) for plan in work.led)))
    today = datetime.now(UTC).date()
    return render(
        request,
        "home.html",
        {
            "title": "My work",
            "section": "home",
            "plans": plans,
            "overdue": {
                plan["id"]
                for plan in plans or []
                if plan["next_review_due"] and date.fromisoformat(plan["next_review_due"]) < today
            },
            "coordinator": is_coordinator(staff),
            "waiting": work.waiting,
            "allocated": work.allocated,
            "incoming": work.incoming,
            "drafts": work.drafts,
            "outcomes": OUTCOMES,
            "names": await organisation_names(session),
        },
    )
