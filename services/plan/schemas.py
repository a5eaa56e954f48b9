"""What the plan service's endpoints take and answer."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.kit.dates import AwareMoment, Day
from services.kit.ids import ID_PATTERN

OutcomeArea = Literal[
    "education_and_attendance",
    "early_years",
    "physical_and_mental_health",
    "substance_use",
    "family_relationships",
    "safety_from_abuse_and_exploitation",
    "crime",
    "domestic_abuse",
    "housing",
    "financial_stability_and_work",
]
NeedStatus = Literal["open", "met", "not_met"]
Stage = Literal["pre_contemplation", "contemplation", "action", "maintenance", "sustained"]
CloseReason = Literal[
    "outcomes_met",
    "stepped_up_to_social_care",
    "stepped_down_to_universal_services",
    "family_disengaged",
    "moved_away",
    "other",
]
PlanStatus = Literal["draft", "active", "closed", "discarded"]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
OrganisationId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
# A record another service keeps, looked up there by this id.
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=ID_PATTERN)]
# The shape of an address only: whether it reaches anyone is for the mail server to say.
EmailAddress = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeadProfessional(Strict):
    name: ShortText
    organisation_id: OrganisationId
    email: EmailAddress | None = Field(default=None, description="their work address, where review reminders go")


class TeamMember(Strict):
    organisation_id: OrganisationId
    role: ShortText
    name: ShortText | None = Field(default=None, description="the person, when the team names one")


class Need(Strict):
    id: ItemId | None = Field(default=None, description="kept when given; a new need gets one")
    description: Text
    outcome_area: OutcomeArea
    status: NeedStatus = "open"


class Action(Strict):
    id: ItemId | None = Field(default=None, description="kept when given; a new action gets one")
    description: Text
    owner: ShortText = Field(description="who does it")
    organisation_id: OrganisationId
    due_on: Day
    done_on: Day | None = None


class PlanIn(Strict):
    """A plan from a submitted assessment; or, for a family social care steps down, from nothing."""

    # What `service.create_plan` requires of the two ways in, declared so that the schema says it.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["assessment_id"], "properties": {"assessment_id": {"type": "string"}}},
                {
                    "required": ["family_id", "stepped_down_from_social_care"],
                    "properties": {"family_id": {"type": "string"}, "stepped_down_from_social_care": {"const": True}},
                },
            ]
        }
    )

    assessment_id: RecordId | None = None
    family_id: RecordId | None = Field(default=None, description="only for a plan without an assessment")
    lead_professional: LeadProfessional | None = None
    stepped_down_from_social_care: bool = False


class PlanPatch(Strict):
    """The parts of a plan to replace; what is left out stays as it is."""

    lead_professional: LeadProfessional | None = None
    team: list[TeamMember] | None = Field(default=None, max_length=50)
    needs: list[Need] | None = Field(default=None, max_length=50)
    actions: list[Action] | None = Field(default=None, max_length=200)
    next_review_due: Day | None = None


class GoalIn(Strict):
    need_ids: list[ItemId] = Field(min_length=1, max_length=20)
    outcome_area: OutcomeArea
    description: Text
    measure_of_success: Text


class GoalRating(Strict):
    goal_id: ItemId
    stage: Stage
    score: int = Field(ge=1, le=10)


class Attendee(Strict):
    name: ShortText
    role: ShortText
    organisation_id: OrganisationId | None = Field(default=None, description="none for the family")


class ReviewIn(Strict):
    held_on: Day
    attendees: list[Attendee] = Field(min_length=1, max_length=50)
    family_voice: Text = Field(description="what the family said about how things are going")
    ratings: list[GoalRating] = Field(min_length=1, max_length=50, description="every goal, on the change matrix")
    next_review_due: Day | None = Field(default=None, description="6 weeks after `held_on` when left out")


class ActivateIn(Strict):
    activated_on: Day | None = Field(default=None, description="today when left out")


class CloseIn(Strict):
    reason: CloseReason
    note: Text | None = None
    closed_on: Day | None = Field(default=None, description="today when left out")


class StepUpIn(Strict):
    reason: Text
    stepped_up_on: Day | None = Field(default=None, description="today when left out")


class StepDownIn(Strict):
    lead_professional: LeadProfessional | None = None


class ReopenIn(Strict):
    reason: Text


class DiscardIn(Strict):
    reason: Text = Field(description="why nobody is going on with the draft; kept with the plan, never in events")


class Goal(BaseModel):
    id: str
    need_ids: list[str]
    outcome_area: str
    description: str
    measure_of_success: str
    added_at: datetime


class Review(BaseModel):
    id: str
    held_on: date
    attendees: list[Attendee]
    family_voice: str
    ratings: list[GoalRating]
    next_review_due: date
    recorded_by: str
    organisation_id: str
    recorded_at: datetime


class Closure(BaseModel):
    reason: str
    note: str | None
    closed_on: date


class StepUp(BaseModel):
    reason: str
    stepped_up_on: date


class ReReferral(BaseModel):
    days_since_last_closure: int


class EpisodeOut(BaseModel):
    """One spell of early help on the plan: from its opening, or a reopening, to its closure."""

    number: int = Field(description="1 for the opening, one more for each reopening")
    opened_on: date
    re_referral: bool = Field(description="opened within 12 months of the family's last closure")
    days_since_last_closure: int | None
    closed_on: date | None
    close_reason: str | None = Field(description="a closing reason, `stepped_up_to_social_care` or `discarded`")
    close_note: str | None
    outcome_areas: int = Field(description="distinct outcome areas of the plan's needs, as closed")
    all_needs_met: bool = Field(description="as closed")


class PlanOut(BaseModel):
    id: str
    family_id: str
    status: PlanStatus
    version: int
    organisation_id: str
    assessment_id: str | None
    lead_professional: LeadProfessional | None
    team: list[TeamMember]
    needs: list[Need]
    goals: list[Goal]
    actions: list[Action]
    reviews: list[Review]
    level_of_need: str | None
    requested_on: date | None = Field(description="the family's request for support, when one came first")
    opened_on: date
    activated_on: date | None
    next_review_due: date | None
    closure: Closure | None
    step_up: StepUp | None
    stepped_down_from: str | None = Field(description="the plan social care took over, for a soft landing")
    re_referral: ReReferral | None
    episodes: list[EpisodeOut] = Field(description="oldest first; a reopening adds one and changes none")
    allowed_actions: list[str] = Field(
        description="what the caller may do to the plan now: what its status allows (`transitions`: change, "
        "add_goal, activate, review, close, step_up, step_down, reopen, discard, record_contact) when the caller "
        "writes the plan (`plans:write`, and its author, its lead's organisation or on its team); none to a "
        "reader by a sharing grant or safeguarding override"
    )


class PlanSummary(BaseModel):
    id: str
    family_id: str
    status: PlanStatus
    version: int
    lead_professional: LeadProfessional | None
    opened_on: date
    next_review_due: date | None


class PlanParticipants(BaseModel):
    """Who a plan names, for a platform service: no family data, only organisations and the lead's contact."""

    plan_id: str
    family_id: str
    status: PlanStatus
    organisations: list[str] = Field(description="sorted: who may see the plan by right of it (author, lead, team)")
    lead: LeadProfessional | None


# --- contacts and the chronology ---------------------------------------------------------

ContactKind = Literal["visit", "call", "meeting", "message", "note"]
SUMMARY_MAX_LENGTH = 10_000  # a long note of a home visit fits; a pasted document does not


class Participant(Strict):
    name: ShortText | None = Field(default=None, description="left out where only the role is recorded")
    role: ShortText = Field(description="e.g. mother, family worker, class teacher")
    organisation_id: OrganisationId | None = Field(default=None, description="none for the family")


class ContactIn(Strict):
    kind: ContactKind
    occurred_at: AwareMoment = Field(description="when it happened, with its offset; not in the future")
    participants: list[Participant] = Field(default_factory=list, max_length=20)
    summary: Annotated[str, StringConstraints(min_length=1, max_length=SUMMARY_MAX_LENGTH)] = Field(
        description="what happened and was said: a case note, never in events or logs"
    )


class ContactOut(BaseModel):
    """A contact with the family; its participants and summary are case notes (`case_notes`)."""

    id: str
    plan_id: str
    family_id: str
    kind: ContactKind
    occurred_at: datetime
    participants: list[Participant]
    summary: str
    organisation_id: str = Field(description="the organisation that recorded it")
    recorded_by: str = Field(description="the user (or client) that recorded it")
    recorded_at: datetime


class ContactEntry(BaseModel):
    """A contact in the chronology: its notes (participants, summary) only for a reader of `case_notes`."""

    id: str
    kind: ContactKind
    organisation_id: str
    participants: list[Participant] | None
    summary: str | None


class StatusEntry(BaseModel):
    """A step in the plan's life: `episode` is the episode it opened or closed."""

    episode: int
    reason: str | None = Field(description="the closing reason, for a closure")
    re_referral: bool | None = Field(description="for an opening or a reopening: within 12 months of a closure")
    stepped_down_from: str | None = Field(description="for `plan_stepped_down` opening this plan: the plan before")
    stepped_down_to: str | None = Field(description="for `plan_stepped_down` on a stepped-up plan: the new plan")


class ReviewEntry(BaseModel):
    id: str
    organisation_id: str
    next_review_due: date


class AssessmentEntry(BaseModel):
    """The assessment the plan was built from, on the day it started; its answers are at `GET /assessments/{id}`."""

    assessment_id: str
    form_key: str
    organisation_id: str
    submitted_at: datetime | None


class ReferralEntry(BaseModel):
    """A referral to social care linked to the plan, or social care's decision on it."""

    referral_id: str
    source: str
    organisation_id: str
    outcome: str | None = Field(description="for `social_care_outcome`: what social care decided")


ChronologyKind = Literal[
    "assessment",
    "plan_opened",
    "plan_activated",
    "contact",
    "review",
    "plan_closed",
    "plan_stepped_up",
    "plan_discarded",
    "plan_reopened",
    "plan_stepped_down",
    "social_care_referral",
    "social_care_outcome",
]


class ChronologyEntry(BaseModel):
    occurred_at: datetime | date = Field(
        description="a date-time for a contact, a date for the rest: practice dates, as practitioners record them"
    )
    kind: ChronologyKind
    contact: ContactEntry | None = None
    status: StatusEntry | None = None
    review: ReviewEntry | None = None
    assessment: AssessmentEntry | None = None
    referral: ReferralEntry | None = None


class Chronology(BaseModel):
    plan_id: str
    family_id: str
    case_notes: bool = Field(description="whether the contacts' notes are shown: the caller may read `case_notes`")
    entries: list[ChronologyEntry] = Field(description="oldest first")


# --- referrals to children's social care ------------------------------------------------

ReferralSource = Literal["step_up", "front_door", "after_closure"]
ReferralOutcome = Literal[
    "child_in_need", "child_protection", "looked_after", "no_further_action", "returned_to_early_help"
]


class ReferralIn(Strict):
    referred_on: date
    source: ReferralSource = Field(
        description="`after_closure`: after the family's early help closed; `front_door`: straight from the front "
        "door; `step_up` is recorded by `POST /plans/{id}/step-up`"
    )
    reason: Text = Field(description="why social care was asked; kept with the referral, never in events")


class OutcomeIn(Strict):
    outcome: ReferralOutcome
    decided_on: date = Field(description="when social care decided; not before the referral, not in the future")


class ReferralOut(BaseModel):
    """A referral to children's social care and, once social care has decided, its outcome."""

    id: str
    family_id: str
    referred_on: date
    source: ReferralSource
    reason: str | None = Field(description="none for a front-door referral: its assessment says why")
    organisation_id: str = Field(description="the referring organisation")
    plan_id: str | None = Field(description="the plan stepped up, or for `after_closure` the plan last closed")
    assessment_id: str | None = Field(description="the early help assessment that referred the family (front door)")
    days_since_closure: int | None = Field(description="for `after_closure`: days from the plan's closure")
    outcome: ReferralOutcome | None
    decided_on: date | None
    allowed_actions: list[str] = Field(
        default_factory=list,
        description="what the caller may do to the referral now: `record_outcome` while social care's decision is "
        "not recorded, to an organisation that writes the family's plans (not by a grant or override alone) or a "
        "coordinator",
    )


# --- reports ----------------------------------------------------------------------------


class Period(BaseModel):
    start: date
    end: date  # inclusive


class StartedRow(BaseModel):
    organisation_type: str
    organisation_id: str
    started: int
    share: float | None


class StartedByType(BaseModel):
    organisation_type: str
    started: int
    share: float | None


class StartedInLocality(BaseModel):
    locality: str
    started: int
    share: float | None
    children: int | None = Field(description="the council's child population of the locality; null unknown")
    rate_per_10000_children: float | None


class AssessmentsStarted(BaseModel):
    period: Period
    form_key: str
    locality: str | None
    definition: str
    total: int
    children: int | None = Field(description="the child population the rate is over: the council's, or the locality's")
    rate_per_10000_children: float | None
    by_organisation_type: list[StartedByType]
    by_organisation: list[StartedRow]
    by_locality: list[StartedInLocality]


class WaitRow(BaseModel):
    group: str
    plans_activated: int
    median_working_days: float | None
    within_10_working_days: int
    share_within_10_working_days: float | None


class TimeToPlan(BaseModel):
    period: Period
    by: str | None
    locality: str | None
    definition: str
    plans_activated: int
    median_working_days: float | None
    within_10_working_days: int
    share_within_10_working_days: float | None
    groups: list[WaitRow] = Field(description="one row a value of `by`; empty without `by`")


class ReasonRow(BaseModel):
    reason: str
    plans: int


class ClosureRow(BaseModel):
    group: str
    closed: int
    by_reason: list[ReasonRow]
    share_outcomes_met: float | None


class Closures(BaseModel):
    period: Period
    by: str | None
    locality: str | None
    definition: str
    closed: int
    by_reason: list[ReasonRow]
    share_outcomes_met: float | None
    groups: list[ClosureRow] = Field(description="one row a value of `by`; empty without `by`")


class Measure(BaseModel):
    """One measure for one group (none: everyone the report counts): how many of a cohort, of how many."""

    measure: str
    group: str | None = Field(description="the value of `by` this row counts; null for everyone counted")
    numerator: int
    denominator: int
    share: float | None
    complete: bool = Field(description="every window of the cohort has passed, so the share is final")
    definition: str


class ReReferrals(BaseModel):
    period: Period
    by: str | None
    definition: str
    closed: int = Field(description="episodes closed in the period, stepped-up ones aside: the denominator")
    stepped_up: int = Field(description="episodes closed by a step-up in the period, left out of the cohort")
    measures: list[Measure]


class OpenWorkRow(BaseModel):
    group: str | None
    plans: int
    families: int
    children: int


class OpenWork(BaseModel):
    on: date
    by: str | None
    definition: str
    plans: int
    families: int
    children: int
    groups: list[OpenWorkRow] = Field(description="one row a value of `by`; empty without `by`")


class DurationRow(BaseModel):
    group: str | None
    close_reason: str | None = Field(description="null: every reason")
    episodes: int
    median_days: float | None
    under_3_months: int
    from_3_to_6_months: int
    from_6_to_12_months: int
    over_12_months: int


class PlanDuration(BaseModel):
    period: Period
    by: str | None
    definition: str
    closed: int
    median_days: float | None
    rows: list[DurationRow]


class OverdueRow(BaseModel):
    group: str | None
    active: int
    overdue: int
    share: float | None


class ReviewsOverdue(BaseModel):
    on: date
    by: str
    definition: str
    active: int
    overdue: int
    share: float | None
    rows: list[OverdueRow]


class MovementRow(BaseModel):
    group: str | None
    outcome_area: str
    goals: int
    improved: int
    same: int
    worse: int


class DistanceTravelled(BaseModel):
    period: Period
    by: str | None
    definition: str
    plans: int = Field(description="plans whose latest review in the period followed an earlier one")
    goals: int
    improved: int
    same: int
    worse: int
    rows: list[MovementRow]


class StepDownRow(BaseModel):
    group: str | None
    outcome: str = Field(description="how the plan closed (its close reason), or `open`")
    plans: int


class StepDownOutcomes(BaseModel):
    period: Period
    by: str | None
    definition: str
    stepped_down: int
    outcomes: list[StepDownRow]
    measures: list[Measure]


class CaseloadRow(BaseModel):
    lead_email: str | None = Field(description="the lead professional's work address, lower case; null: none recorded")
    lead_organisation_id: str
    families: int
    children: int


class Caseload(BaseModel):
    as_of: date
    definition: str
    leads: list[CaseloadRow]


class ClaimCandidate(BaseModel):
    plan_id: str
    family_id: str
    closed_on: date
    outcome_areas: int


CLAIMS_ESTIMATE = (
    "An estimate by one local rule applied at closure, not what was claimed: the Supporting Families ledger, "
    "GET /supporting-families/claims?year=, holds the claims made against the council's outcomes plan."
)


class Claims(BaseModel):
    period: Period
    candidates: list[ClaimCandidate]
    awaiting_six_months: int  # would qualify, but 6 months have not yet passed since closure
    estimate: Literal[True] = True
    note: str = CLAIMS_ESTIMATE
    ledger: str = "/supporting-families/claims"


# --- the Supporting Families ledger -----------------------------------------------------

AreaKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ClaimRoute = Literal["significant_and_sustained", "continuous_employment"]


class EnrolmentIn(Strict):
    family_id: RecordId
    areas: list[AreaKey] = Field(
        min_length=1,
        max_length=20,
        description="the headline outcome areas of the council's outcomes plan that make the family eligible "
        "(as many as the plan's `minimum_areas`, two in the demo's)",
    )
    enrolled_on: Day | None = Field(
        default=None, description="when the family joined; today when left out, never before its episode opened"
    )


class EnrolmentOut(BaseModel):
    """A family in the Supporting Families programme, in one episode of its plan."""

    id: str
    family_id: str
    plan_id: str
    episode: int = Field(description="the plan's episode the family joined in")
    areas: list[str]
    enrolled_on: date
    organisation_id: str = Field(description="the organisation that enrolled the family")
    claim_id: str | None = Field(description="the claim made for the family in this episode, once made")


class OutcomeEvidence(Strict):
    area: AreaKey
    indicator: AreaKey = Field(description="one of the area's indicators in the outcomes plan")
    achieved_on: Day = Field(description="when the indicator was first met; not before the family's episode opened")
    sustained_until: Day = Field(
        description="the last day it was seen to hold; at least the area's months after `achieved_on`"
    )


class EmploymentEvidence(Strict):
    started_on: Day = Field(description="when the adult started work; not before the family's episode opened")
    sustained_until: Day = Field(description="the last day of work without a break seen, on or before the claim")


class ClaimIn(Strict):
    enrolment_id: RecordId
    route: ClaimRoute
    outcomes: list[OutcomeEvidence] | None = Field(
        default=None,
        max_length=20,
        description="`significant_and_sustained`: the evidence for every area the family was enrolled on",
    )
    employment: EmploymentEvidence | None = Field(default=None, description="`continuous_employment`: the work")
    claimed_on: Day | None = Field(default=None, description="today when left out; never in the future")


class ClaimOut(BaseModel):
    """A payment-by-results claim for a family, in the financial year of its date."""

    id: str
    enrolment_id: str
    family_id: str
    plan_id: str
    episode: int
    route: ClaimRoute
    outcomes: list[OutcomeEvidence]
    employment: EmploymentEvidence | None
    claimed_on: date
    financial_year: str = Field(description="April to March, as 2025-26")
    payment: int = Field(description="whole pounds, as the outcomes plan said when the claim was made")
    organisation_id: str = Field(description="the organisation that claimed")


class ClaimsByRoute(BaseModel):
    significant_and_sustained: int
    continuous_employment: int


class Ledger(BaseModel):
    """The claims of one financial year against the outcomes plan's target for it."""

    year: str
    starts_on: date
    ends_on: date
    target: int | None = Field(description="families to claim for in the year; none when the plan sets no target")
    claimed: int
    by_route: ClaimsByRoute
    share_of_target: float | None
    remaining_to_target: int | None
    payment_per_claim: int = Field(description="whole pounds, as the outcomes plan says today")
    payment_due: int = Field(description="whole pounds: the sum of the claims' payments")
    claims: list[ClaimOut]


class IndicatorOut(BaseModel):
    key: str
    description: str


class HeadlineAreaOut(BaseModel):
    key: str
    name: str
    sustained_months: int
    indicators: list[IndicatorOut]


class TargetOut(BaseModel):
    year: str
    families: int


class OutcomesPlanOut(BaseModel):
    """The council's outcomes plan, as the service loaded it at start."""

    council: str
    minimum_areas: int
    continuous_employment_months: int
    payment_per_claim: int
    headline_areas: list[HeadlineAreaOut]
    targets: list[TargetOut]


class LocalityRow(BaseModel):
    code: str
    name: str | None
    children: int | None = Field(description="the council's child population of the locality; null unknown")


class Localities(BaseModel):
    """The localities a report may be filtered by (`locality=`): the council's, and any a family is kept in."""

    localities: list[LocalityRow]


class SourceRow(BaseModel):
    source: str
    count: int
    share: float | None


class SourceGroupRow(BaseModel):
    group: str
    plans_opened: int
    plan_sources: list[SourceRow] = Field(description="each with its share of the group's plans")


class ReferralSources(BaseModel):
    period: Period
    by: str | None
    locality: str | None
    definition: str
    plans_opened: int
    plan_sources: list[SourceRow]
    requests_for_support: int
    request_sources: list[SourceRow]
    groups: list[SourceGroupRow] = Field(description="the plans opened, one row a value of `by`; empty without `by`")


class NeedRow(BaseModel):
    outcome_area: str
    plans: int
    needs: int
    share: float | None


class NeedsProfile(BaseModel):
    period: Period
    locality: str | None
    definition: str
    plans_opened: int
    top: int
    rows: list[NeedRow]
