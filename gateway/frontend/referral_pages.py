"""Social care's decision on a referral, recorded from the family's page by those the plan service lets record it.

The family's page offers the form for a referral whose `allowed_actions` name `record_outcome`: the service decides
who may (the writers of the family's plans, the referrer, a coordinator; never a grant or override alone), and
this page only follows it. A refusal the member could not foresee (someone recorded it first) is shown the GOV.UK
way, with what was chosen kept.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from gateway.frontend.calls import ServiceProblem
from gateway.frontend.plan_words import REFERRAL_OUTCOMES, REFERRAL_SOURCES
from gateway.frontend.questions import read_date
from gateway.frontend.site import PREFIX, Calls, PageError, Posted, render, see_other

router = APIRouter(prefix=f"{PREFIX}/social-care-referrals", include_in_schema=False)

Id = Annotated[str, Path(max_length=36)]
RECORD = "record_outcome"


def _outcome_view(
    request: Request, referral: dict[str, Any], typed: dict[str, Any], errors: dict[str, str], status_code: int = 200
) -> Response:
    return render(
        request,
        "referral_outcome.html",
        {
            "title": "Record social care's decision",
            "referral": referral,
            "outcomes": REFERRAL_OUTCOMES,
            "sources": REFERRAL_SOURCES,
            "typed": typed,
            "errors": errors,
        },
        status_code,
    )


def _offered(referral: dict[str, Any]) -> None:
    if RECORD not in (referral.get("allowed_actions") or []):
        raise PageError(
            409,
            "This cannot be done now",
            "Social care's decision on this referral is recorded already, or your organisation may read the "
            "referral but not record its outcome.",
        )


@router.get("/{referral_id}/outcome")
async def outcome_page(request: Request, referral_id: Id, calls: Calls) -> Response:
    referral = await calls.get(f"/social-care-referrals/{referral_id}")
    _offered(referral)
    return _outcome_view(request, referral, {}, {})


@router.post("/{referral_id}/outcome")
async def record_outcome(request: Request, referral_id: Id, calls: Calls, form: Posted) -> Response:
    """Social care's decision and its date; the family's page shows it once recorded."""
    referral = await calls.get(f"/social-care-referrals/{referral_id}")
    parts, decided_on, real = read_date(form, "decided_on")
    typed: dict[str, Any] = {"outcome": str(form.get("outcome") or ""), "decided_on": parts}
    errors: dict[str, str] = {}
    if typed["outcome"] not in REFERRAL_OUTCOMES:
        errors["outcome"] = "Select what social care decided."
    if not real:
        errors["decided_on"] = "The date social care decided must be a real date, like 27 3 2026."
    elif decided_on is None:
        errors["decided_on"] = "Enter the date social care decided, like 27 3 2026."
    elif decided_on > datetime.now(UTC).date():
        errors["decided_on"] = "The date social care decided must be today or in the past."
    if errors:
        return _outcome_view(request, referral, typed, errors, 422)
    assert decided_on is not None
    try:
        await calls.post(
            f"/social-care-referrals/{referral_id}/outcome",
            {"outcome": typed["outcome"], "decided_on": decided_on.isoformat()},
        )
    except ServiceProblem as problem:
        if problem.status not in (403, 409, 422):
            raise
        found = problem.errors("/")
        refused = {name if name in typed else "outcome": message for name, message in found.items()}
        now = await calls.get(f"/social-care-referrals/{referral_id}")
        return _outcome_view(request, now, typed, refused or {"outcome": problem.detail}, problem.status)
    return see_other(f"{PREFIX}/families/{referral['family_id']}?decided=1#social-care-referrals")
