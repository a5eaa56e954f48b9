"""What the assessment service's endpoints take and answer."""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.assessment.demographics import Ethnicity, SendStatus, Sex, normalise_postcode
from services.assessment.forms import CarryForward, Layout
from services.assessment.identifiers import IdentifierSystem
from services.kit.dates import Day

Status = Literal["draft", "submitted"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentifierIn(Strict):
    system: IdentifierSystem = Field(description="nhs, upn, or local (an id of the calling organisation's own)")
    value: str = Field(min_length=1, max_length=64)


class MemberIn(Strict):
    role: Literal["child", "adult"]
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: Day | None = None
    relationship: str | None = Field(default=None, max_length=50, description="e.g. mother, grandparent, sibling")
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=10)
    sex: Sex | None = None
    ethnicity: Ethnicity | None = Field(default=None, description="one of the 19 categories of the ONS 2021 Census")
    first_language: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        pattern=r"^[^\W\d_]+([ ',()-]+[^\W\d_]+)*\)?$",
        description="the language they first learnt, in words: English, Polish, British Sign Language",
    )
    send_status: SendStatus | None = Field(
        default=None,
        description="special educational needs or disability: none, SEN support, or an education, health and "
        "care (EHC) plan",
    )
    young_carer: bool | None = Field(default=None, description="a child who looks after someone in the family")
    postcode: str | None = Field(
        default=None, max_length=10, description="a UK postcode, answered in capitals with one space: SW1A 1AA"
    )

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalised = normalise_postcode(value)
        if normalised is None:
            raise ValueError("Enter a real UK postcode, like SW1A 1AA.")
        return normalised


class FamilyIn(Strict):
    members: list[MemberIn] = Field(min_length=1, max_length=30)


class IdentifierOut(BaseModel):
    system: str
    value: str
    issuer: str | None = Field(default=None, description="for local ids: the organisation that issued it")


class MemberOut(BaseModel):
    id: str
    role: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    relationship: str | None
    identifiers: list[IdentifierOut]
    sex: Sex | None = None
    ethnicity: Ethnicity | None = None
    first_language: str | None = None
    send_status: SendStatus | None = None
    young_carer: bool | None = None
    postcode: str | None = None


class FamilyOut(BaseModel):
    id: str
    created_by_organisation: str
    created_at: datetime
    members: list[MemberOut]


MAX_VERSION = 1_000_000  # far beyond any real form, and inside every database's integer


class FormRef(Strict):
    key: str = Field(max_length=100)
    version: int = Field(ge=1, le=MAX_VERSION)


class FormStamp(BaseModel):
    key: str
    version: int
    sha256: str


class AssessmentIn(Strict):
    family_id: str = Field(max_length=36)
    form: FormRef
    answers: dict[str, Any]
    status: Status = Field(default="draft", description="submitted checks every required answer")


class AnswersIn(Strict):
    answers: dict[str, Any]


class CorrectionIn(Strict):
    answers: dict[str, Any]
    reason: str = Field(min_length=1, max_length=1000, description="why a submitted assessment is corrected")


class CarryForwardIn(Strict):
    form_version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION,
        description="the version to carry into; the newest published one when left out",
    )


class AssessmentSummary(BaseModel):
    id: str
    family_id: str
    organisation_id: str
    form: FormStamp
    status: Status
    revision: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None


class AssessmentOut(AssessmentSummary):
    answers: dict[str, Any]
    carried_from: str | None = None
    carried_forward: list[str] = Field(default_factory=list, description="pointers of answers carried forward")


class RevisionOut(BaseModel):
    number: int
    status: Status
    changed: list[str] = Field(description="JSON pointers of the answers this revision changed")
    reason: str | None
    organisation_id: str
    author: str
    created_at: datetime


class FormVersionSummary(BaseModel):
    version: int
    status: Literal["draft", "published", "retired"]
    sha256: str
    published_at: datetime | None


class FormOut(BaseModel):
    key: str
    title: str
    latest_published: int | None
    versions: list[FormVersionSummary]


class FormVersionOut(FormVersionSummary):
    model_config = ConfigDict(populate_by_name=True)

    key: str
    title: str
    description: str | None
    answer_schema: dict[str, Any] = Field(alias="schema")
    layout: Layout
    carry_forward: CarryForward | None
    created_at: datetime
    retired_at: datetime | None


class Need(BaseModel):
    description: str
    outcome_area: str


class AssessmentNeeds(BaseModel):
    """What a submitted assessment found, for a service that plans from it: none of the other answers."""

    assessment_id: str
    family_id: str
    organisation_id: str
    form: FormRef
    submitted_at: datetime
    started_on: date | None = Field(description="the day the assessment started, as its answers record it")
    children: int = Field(description="how many of the family's members are children")
    needs: list[Need] = Field(description="empty when the form asks for none, as a request for support")
    level_of_need: str | None
    next_step: str | None


class ChildProfile(BaseModel):
    """One child of a family as a report counts them: no name, date of birth or identifier."""

    age_band: str | None = Field(description="under_1, 1_to_4, 5_to_9, 10_to_15, 16_to_17 or 18_and_over; None unknown")
    sex: Sex | None
    ethnicity: Ethnicity | None = Field(description="the ONS 2021 Census category")


class ReportingProfile(BaseModel):
    """What the reports may know of a family: pseudonymised attributes only, never a postcode or a birth date."""

    family_id: str
    on: date = Field(description="the day the age bands were worked out on")
    locality_code: str | None = Field(description="the council's locality of the family's postcode; None unknown")
    locality_name: str | None
    children: list[ChildProfile] = Field(description="the family's children, in the order they were given")


class MatchIdentifier(Strict):
    system: Literal["nhs", "upn", "local"]
    value: str = Field(min_length=1, max_length=64)


class FamilyMatchIn(Strict):
    identifiers: list[MatchIdentifier] = Field(min_length=1, max_length=10)
    date_of_birth: Day


class FamilyMatchOut(BaseModel):
    family_id: str | None


# --- the front door -----------------------------------------------------------------

Outcome = Literal[
    "no_further_action", "signpost", "early_help_assessment", "multi_agency_panel", "refer_to_social_care"
]
RequestStatus = Literal["waiting", "decided"]


class DecisionIn(Strict):
    outcome: Outcome
    allocated_organisation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the organisation given the work, which gains a basis for the family's assessments and plan: "
        "required for early_help_assessment, optional for multi_agency_panel and refer_to_social_care, "
        "refused for no_further_action and signpost",
    )
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="why, for the coordinators and the organisation allocated; no more about the family than the "
        "decision needs",
    )


class DecisionOut(BaseModel):
    outcome: Outcome
    allocated_organisation_id: str | None
    note: str | None
    decided_by: str = Field(description="the practitioner who decided")
    decided_by_organisation: str
    decided_at: datetime
    working_days_to_decision: int = Field(
        description="working days from submission to decision, weekends and bank holidays of England and Wales "
        "left out: decided on the day of submission is 0"
    )


class RequestForSupportOut(BaseModel):
    """A request in the front door's queue: identifiers and the decision, never the family's details or answers."""

    assessment_id: str
    family_id: str
    organisation_id: str = Field(description="the organisation that submitted the request")
    submitted_at: datetime
    status: RequestStatus
    working_days_waiting: int | None = Field(description="while waiting: working days since submission")
    decision: DecisionOut | None


# --- reports ----------------------------------------------------------------------------


class ReportPeriod(BaseModel):
    start: date
    end: date  # inclusive


class FrontDoorOutcome(BaseModel):
    group: str | None = Field(description="the value of `by` this row counts; null for every decision")
    outcome: str
    decisions: int


class FrontDoorTimeliness(BaseModel):
    group: str | None
    decided: int
    within_10_working_days: int
    share_within_10_working_days: float | None
    median_working_days: float | None


class FrontDoor(BaseModel):
    period: ReportPeriod
    by: str | None
    locality: str | None = Field(description="the locality code the report is narrowed to; null for every family")
    definition: str
    decided: int
    within_10_working_days: int
    share_within_10_working_days: float | None
    median_working_days: float | None
    outcomes: list[FrontDoorOutcome]
    groups: list[FrontDoorTimeliness] = Field(description="one row a value of `by`; empty without `by`")
