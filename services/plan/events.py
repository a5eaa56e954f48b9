"""The events the plan service emits, and the handler of those it consumes.

What it emits is thin, with identifiers, versions and changed fields, never
what a plan says. Their payload schemas are written to `schemas/events/` by
`python -m services.plan.events`; a test fails when the files drift.

It consumes `assessment.created` and `assessment.submitted` (durable consumer
`plan-assessments`): every assessment is noted for the reports, and a
submitted early help assessment opens a draft plan when its next step calls
for one (a plan or a team around the family; not universal services), or
records a front-door referral to social care when that is its next step. It consumes its own `plan.created`
and `plan.reopened`, and `assessment.created` again (durable consumer `plan-reporting-profiles`), to keep the
family's reporting profile.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import AUDIT_EVENT_TYPE, AccessRecorded
from services.access.events import FamilyEvents
from services.access.standing import Standing
from services.kit.auth import Principal
from services.kit.events.consumer import ConsumerSpec, Handler
from services.kit.events.envelope import BaseCloudEvent, nats_subject
from services.kit.events.schemas import write_event_schemas
from services.plan.clients import AssessmentFindings, Findings
from services.plan.schemas import ClaimRoute, ContactKind, ReferralOutcome, ReferralSource

SOURCE = "/services/plan"


class PlanChange(BaseModel):
    plan_id: str
    family_id: str
    organisation_id: str  # who made the change
    version: int


class PlanCreated(PlanChange):
    """`plan.created`: a draft plan exists, from an assessment or from social care's step-down."""

    assessment_id: str | None
    re_referral: bool
    stepped_down_from: str | None


class PlanActivated(PlanChange):
    """`plan.activated`: the plan is agreed and being worked."""


class PlanUpdated(PlanChange):
    """`plan.updated`: `changed` names the parts of the plan replaced."""

    changed: list[str]


class PlanGoalAdded(PlanChange):
    """`plan.goal_added`."""

    goal_id: str


class PlanReviewRecorded(PlanChange):
    """`plan.review_recorded`: `next_review_due` is when the next one falls due."""

    review_id: str
    next_review_due: date


class PlanSteppedUp(PlanChange):
    """`plan.stepped_up`: social care takes the family over; the plan is closed."""


class PlanSteppedDown(PlanChange):
    """`plan.stepped_down`: social care stepped the family down; `plan_id` is the new early help plan."""

    from_plan_id: str


class PlanClosed(PlanChange):
    """`plan.closed`."""


class PlanReopened(PlanChange):
    """`plan.reopened`: a new episode of the plan has begun."""


class PlanDiscarded(PlanChange):
    """`plan.discarded`: a draft nobody went on with; the family may have another plan."""


class PlanContactRecorded(BaseModel):
    """`plan.contact_recorded`: a contact with the family was recorded; who took part and what was said are case
    notes, read over REST with a basis for them."""

    plan_id: str
    family_id: str
    organisation_id: str  # who recorded it
    contact_id: str
    kind: ContactKind
    occurred_at: datetime


class PlanReviewDue(BaseModel):
    """`plan.review_due`: the plan's review has fallen due; its lead professional is reminded."""

    plan_id: str
    family_id: str
    lead_organisation_id: str | None
    due_on: date


class SocialCareReferred(BaseModel):
    """`social_care.referred`: the family was referred to children's social care; why is read over REST."""

    referral_id: str
    family_id: str
    organisation_id: str  # the referring organisation
    source: ReferralSource
    plan_id: str | None  # the plan stepped up, or the plan whose closure came before
    assessment_id: str | None  # the early help assessment that referred the family


class SocialCareOutcomeRecorded(BaseModel):
    """`social_care.outcome_recorded`: what social care decided on a referral."""

    referral_id: str
    family_id: str
    organisation_id: str  # who recorded it
    outcome: ReferralOutcome


class SupportingFamiliesEnrolled(BaseModel):
    """`supporting_families.enrolled`: the family joined the Supporting Families programme in an episode of its plan;
    the areas it joined on are read over REST by the family's council."""

    enrolment_id: str
    family_id: str
    plan_id: str
    episode: int
    organisation_id: str  # who enrolled the family


class SupportingFamiliesClaimed(BaseModel):
    """`supporting_families.claimed`: a payment-by-results claim was made for the family, by a route, in a
    financial year; the evidence is read over REST by the family's council."""

    claim_id: str
    enrolment_id: str
    family_id: str
    plan_id: str
    episode: int
    organisation_id: str  # who claimed
    route: ClaimRoute
    financial_year: str


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "plan.created": PlanCreated,
    "plan.activated": PlanActivated,
    "plan.updated": PlanUpdated,
    "plan.goal_added": PlanGoalAdded,
    "plan.review_recorded": PlanReviewRecorded,
    "plan.stepped_up": PlanSteppedUp,
    "plan.stepped_down": PlanSteppedDown,
    "plan.closed": PlanClosed,
    "plan.reopened": PlanReopened,
    "plan.discarded": PlanDiscarded,
    "plan.contact_recorded": PlanContactRecorded,
    "plan.review_due": PlanReviewDue,
    "social_care.referred": SocialCareReferred,
    "social_care.outcome_recorded": SocialCareOutcomeRecorded,
    "supporting_families.enrolled": SupportingFamiliesEnrolled,
    "supporting_families.claimed": SupportingFamiliesClaimed,
    AUDIT_EVENT_TYPE: AccessRecorded,
}


emit = FamilyEvents(SOURCE, EVENT_PAYLOADS).emit_about


# --- what it consumes ---------------------------------------------------------------------

# The forms whose submission opens a draft plan; a request for support is counted, not planned.
PLAN_OPENING_FORMS = frozenset({"early-help-assessment"})
# The next steps (an assessment's `next_step`) that are a plan; a form without the question opens one too.
PLAN_NEXT_STEPS = frozenset({"early_help_plan", "single_agency_plan", "team_around_the_family"})
# The next step that refers the family to children's social care from the front door: a referral, not a plan.
REFER_TO_SOCIAL_CARE = "refer_to_social_care"


def calls_for_a_plan(findings: Findings) -> bool:
    return findings.next_step is None or findings.next_step in PLAN_NEXT_STEPS


@dataclass(frozen=True)
class AssessmentEvents:
    """`assessment.created` and `assessment.submitted`: noted for the reports; an early help assessment's
    submission opens a draft plan, on behalf of the assessing organisation, when its next step calls for one, and
    records its referral to social care when that is its next step (once, however often the event comes)."""

    findings: Callable[[], AssessmentFindings]  # the assessment service's client, made in the app's lifespan
    standing: Callable[[], Standing]  # who to tell of the plan's author and team, made there too
    acting_as: str  # the subject this service opens plans as

    def consumer(self) -> ConsumerSpec:
        return ConsumerSpec(
            name="plan-assessments",
            subjects=[nats_subject("assessment.created"), nats_subject("assessment.submitted")],
            prepare=self.prepare,
        )

    async def prepare(self, event: BaseCloudEvent) -> Handler:
        """What the assessment found is read before the transaction opens, so no lock waits on the call."""
        # Imported here, not above: the use cases import this module for the events they emit.
        from services.plan.service import opening, referrals

        data = event.get_data()
        assert isinstance(data, dict)
        submitted = event.get_type() == "assessment.submitted"
        at = event.get_time()
        assert at is not None
        opens_a_plan = submitted and data["form_key"] in PLAN_OPENING_FORMS
        findings = await self.findings().of(data["assessment_id"]) if opens_a_plan else None

        async def apply(session: AsyncSession, _event: BaseCloudEvent) -> None:
            await opening.note_assessment(
                session,
                assessment_id=data["assessment_id"],
                family_id=data["family_id"],
                organisation_id=data["organisation_id"],
                organisation_type=data["organisation_type"],
                form_key=data["form_key"],
                at=at,
                submitted=submitted,
            )
            if findings is None:
                return
            acting = Principal(
                subject=self.acting_as,
                organisation_id=data["organisation_id"],
                organisation_type=data["organisation_type"],
                scopes=frozenset(),
            )
            if calls_for_a_plan(findings):
                await opening.open_from_submission(session, self.standing(), acting, findings)
            elif findings.next_step == REFER_TO_SOCIAL_CARE:
                await referrals.refer_from_the_front_door(session, acting, findings)

        return apply


# The events on which the family's reporting profile is read again: a plan opens or reopens for it, or an
# assessment of it is started (the reports count assessments started by locality too).
PROFILE_REFRESHES = ("plan.created", "plan.reopened", "assessment.created")


@dataclass(frozen=True)
class PlanOpenings:
    """`plan.created`, `plan.reopened` and `assessment.created`: the family's reporting profile (locality,
    children's age bands, sex and ethnicity) is read from the assessment service and kept for the reports
    (`service.reporting_profiles`)."""

    findings: Callable[[], AssessmentFindings]

    def consumer(self) -> ConsumerSpec:
        return ConsumerSpec(
            name="plan-reporting-profiles",
            subjects=[nats_subject(event_type) for event_type in PROFILE_REFRESHES],
            prepare=self.prepare,
        )

    async def prepare(self, event: BaseCloudEvent) -> Handler:
        """The profile is read before the transaction opens; a failed read fails the event, to be tried again."""
        from services.plan.service import reporting_profiles

        data = event.get_data()
        assert isinstance(data, dict)
        at = event.get_time()
        assert at is not None
        profile = await self.findings().reporting_profile(data["family_id"], at.date())

        async def apply(session: AsyncSession, _event: BaseCloudEvent) -> None:
            await reporting_profiles.keep_profile(session, profile)

        return apply


if __name__ == "__main__":
    write_event_schemas(EVENT_PAYLOADS)
