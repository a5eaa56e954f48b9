"""What the plan service's endpoints take and answer."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
PlanStatus = Literal["draft", "active", "closed"]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
OrganisationId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
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
    due_on: date
    done_on: date | None = None


class PlanIn(Strict):
    """A plan from a submitted assessment; or, for a family social care steps down, from nothing."""

    assessment_id: ItemId | None = None
    family_id: ItemId | None = Field(default=None, description="only for a plan without an assessment")
    lead_professional: LeadProfessional | None = None
    stepped_down_from_social_care: bool = False


class PlanPatch(Strict):
    """The parts of a plan to replace; what is left out stays as it is."""

    lead_professional: LeadProfessional | None = None
    team: list[TeamMember] | None = Field(default=None, max_length=50)
    needs: list[Need] | None = Field(default=None, max_length=50)
    actions: list[Action] | None = Field(default=None, max_length=200)
    next_review_due: date | None = None


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
    held_on: date
    attendees: list[Attendee] = Field(min_length=1, max_length=50)
    family_voice: Text = Field(description="what the family said about how things are going")
    ratings: list[GoalRating] = Field(min_length=1, max_length=50, description="every goal, on the change matrix")
    next_review_due: date | None = Field(default=None, description="6 weeks after `held_on` when left out")


class ActivateIn(Strict):
    activated_on: date | None = Field(default=None, description="today when left out")


class CloseIn(Strict):
    reason: CloseReason
    note: Text | None = None
    closed_on: date | None = Field(default=None, description="today when left out")


class StepUpIn(Strict):
    reason: Text
    stepped_up_on: date | None = Field(default=None, description="today when left out")


class StepDownIn(Strict):
    lead_professional: LeadProfessional | None = None


class ReopenIn(Strict):
    reason: Text


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
