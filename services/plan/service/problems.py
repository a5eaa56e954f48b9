"""The plan service's expected failures, each a problem with a stable type."""

from services.kit.problems import Conflict, Forbidden, NotFound, ValidationFailed


class PlanNotFound(NotFound):
    slug, title = "plan-not-found", "No such plan"


class WrongState(Conflict):
    slug, title = "plan-state", "The plan is not in a state that allows this"

    def __init__(self, status: str, wanted: str) -> None:
        # `plan_status`, not `status`: a problem's `status` is its HTTP status code (RFC 9457).
        super().__init__(f"The plan is {status}: {wanted}.", plan_status=status)


class OpenPlanExists(Conflict):
    slug, title = "open-plan-exists", "The family already has an open plan"

    def __init__(self, detail: str, plan_id: str | None) -> None:
        super().__init__(detail, **({"plan_id": plan_id} if plan_id else {}))
        if plan_id:
            self.headers = {"Location": f"/plans/{plan_id}"}


class NotOnTheTeam(Forbidden):
    slug, title = "not-on-the-team", "Only the plan's lead, author and team change it"


class InvalidPlan(ValidationFailed):
    slug, title = "invalid-plan", "The plan would not hold together"


class ReferralNotFound(NotFound):
    slug, title = "social-care-referral-not-found", "No such referral to social care"


class OutcomeAlreadyRecorded(Conflict):
    slug, title = "outcome-already-recorded", "The referral's outcome is already recorded"


class NotAReferrer(Forbidden):
    slug, title = "not-a-referrer", "Only the family's plans' authors, leads, teams and coordinators refer it"


class InvalidReferral(ValidationFailed):
    slug, title = "invalid-referral", "The referral would not hold together"


class InvalidContact(ValidationFailed):
    slug, title = "invalid-contact", "The contact would not hold together"


class NotTheCouncil(Forbidden):
    slug, title = (
        "not-the-council",
        "Only the family's council and an early help coordinator keep its Supporting Families records",
    )


class NoOpenPlan(Conflict):
    slug, title = "no-open-plan", "The family has no open plan to enrol it in"


class AlreadyEnrolled(Conflict):
    slug, title = "already-enrolled", "The family is already enrolled in this episode of its plan"


class NotEligible(ValidationFailed):
    slug, title = "not-eligible", "The family does not meet the outcomes plan's eligibility"


class InvalidEnrolment(ValidationFailed):
    slug, title = "invalid-enrolment", "The enrolment would not hold together"


class EnrolmentNotFound(NotFound):
    slug, title = "enrolment-not-found", "No such Supporting Families enrolment"


class AlreadyClaimed(Conflict):
    slug, title = "already-claimed", "The family has already been claimed for in this episode"


class ClaimNotEvidenced(ValidationFailed):
    slug, title = "claim-not-evidenced", "The claim is not evidenced as the outcomes plan requires"
