"""What the consent service's endpoints take and answer."""

import re
from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.kit.dates import Day, Moment

# `case_notes` are a plan's contacts (visits, calls, meetings, notes): a basis for `plan` never opens them.
Category = Literal["assessment", "plan", "case_notes"]
CATEGORY_COUNT = len(get_args(Category))
OrganisationId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
OrganisationType = Literal["school", "health", "police", "council", "voluntary", "social_care"]
GivenBy = Literal["parent_or_carer", "competent_young_person"]
Evidence = Literal["written", "verbal", "electronic"]
LawfulBasis = Literal["consent", "public_task", "legal_obligation", "vital_interests"]
Purpose = Literal["early-help"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgreementIn(Strict):
    family_id: str = Field(max_length=36)
    given_by_role: GivenBy
    given_by_name: str | None = Field(default=None, max_length=200)
    evidence: Evidence
    given_at: Moment | None = Field(default=None, description="when the family agreed; now when left out")


class AgreementOut(BaseModel):
    id: str
    family_id: str
    given_by_role: str
    given_by_name: str | None
    evidence: str
    organisation_id: str
    recorded_by: str
    given_at: datetime
    withdrawn_at: datetime | None


class GrantIn(Strict):
    # What `service.grant_consent` requires, declared so that the schema says it: someone to share with.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [field], "properties": {field: {"minItems": 1}}}
                for field in ("recipient_organisations", "recipient_types")
            ]
        }
    )

    family_id: str = Field(max_length=36)
    person_id: str | None = Field(default=None, max_length=36, description="the child it is about; the family if none")
    given_by_role: GivenBy
    given_by_name: str | None = Field(default=None, max_length=200)
    categories: list[Category] = Field(min_length=1, max_length=CATEGORY_COUNT)
    recipient_organisations: list[OrganisationId] = Field(default_factory=list, max_length=100)
    recipient_types: list[OrganisationType] = Field(default_factory=list, max_length=6)
    purpose: Purpose = "early-help"
    basis: LawfulBasis = "consent"
    evidence: Evidence
    starts_at: Moment | None = Field(default=None, description="now when left out")
    ends_at: Moment | None = None


class WithdrawalIn(Strict):
    reason: str | None = Field(default=None, max_length=1000)


class GrantOut(BaseModel):
    id: str
    family_id: str
    person_id: str | None
    given_by_role: str
    given_by_name: str | None
    categories: list[str]
    recipient_organisations: list[str]
    recipient_types: list[str]
    purpose: str
    basis: str
    evidence: str
    organisation_id: str
    recorded_by: str
    starts_at: datetime
    ends_at: datetime | None
    withdrawn_at: datetime | None
    status: Literal["active", "not_started", "ended", "withdrawn"]


class AccessQuestionIn(Strict):
    family_id: str = Field(max_length=36)
    category: Category
    purpose: Purpose = "early-help"
    organisation_id: str | None = Field(
        default=None, max_length=64, description="another organisation than yours: platform services only"
    )
    organisation_type: OrganisationType | None = None
    practitioner: str | None = Field(default=None, max_length=255)


class ReaderQuestionIn(Strict):
    """Whether an organisation could read one grant or override now, as its own `GET` would answer."""

    record: Literal["consent", "override"]
    record_id: str = Field(max_length=36)
    organisation_id: str = Field(max_length=64)
    organisation_type: OrganisationType


class ReaderAnswerOut(BaseModel):
    may_read: bool


class Basis(BaseModel):
    kind: Literal["authorship", "team", "allocation", "override", "grant", "public_task"]
    reference: str


class AccessDecisionOut(BaseModel):
    decision: Literal["permit", "deny"]
    basis: Basis | None
    reason: str


class OverrideIn(Strict):
    family_id: str = Field(max_length=36)
    justification: str = Field(min_length=40, max_length=4000, description="why a child may be at risk of harm")
    hours: int = Field(default=24, ge=1, le=72)

    @field_validator("justification")
    @classmethod
    def _of_substance(cls, text: str) -> str:
        words = {re.sub(r"\W", "", word.casefold()) for word in text.split()} - {""}
        if len(words) < 8:
            raise ValueError("say why, in at least a sentence: which child may be at risk, and of what")
        return text


class OverrideOut(BaseModel):
    id: str
    family_id: str
    organisation_id: str
    practitioner: str
    justification: str
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None


class AuditEntryOut(BaseModel):
    position: int
    actor: str
    organisation_id: str
    organisation_type: str
    action: str
    resource_type: str
    resource_id: str
    basis: str
    basis_reference: str
    occurred_at: datetime


class VerificationOut(BaseModel):
    valid: bool
    entries: int = Field(description="How many entries this verification read.")
    first_broken_position: int | None
    problem: str | None
    checked_from: int = Field(description="The first position read: 1, or the last signed checkpoint's entry.")
    checkpoints: int = Field(description="How many signed checkpoints the entries were compared with.")


class PublicKeyOut(BaseModel):
    """An Ed25519 public key as a JWK (RFC 8037)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["Ed25519"]
    use: Literal["sig"]


class SigningKeysOut(BaseModel):
    keys: list[PublicKeyOut]


RelationKind = Literal["authorship", "team", "lead", "allocation"]


class RelationsIn(Strict):
    """What a service tells of organisations' standing with a family, from its own records."""

    family_id: str = Field(max_length=36)
    kind: RelationKind
    organisation_ids: list[str] = Field(max_length=100)
    categories: list[Category] = Field(min_length=1, max_length=CATEGORY_COUNT)
    replace: bool = Field(
        default=False, description="the organisations named are all who hold it now: end it for the others"
    )


IdentifierSystem = Literal["nhs", "upn", "local"]


class IdentifierIn(Strict):
    system: IdentifierSystem
    value: str = Field(min_length=1, max_length=64)


class AccessRequestIn(Strict):
    identifiers: list[IdentifierIn] = Field(min_length=1, max_length=10)
    date_of_birth: Day
    categories: list[Category] = Field(min_length=1, max_length=CATEGORY_COUNT)
    reason: str = Field(min_length=10, max_length=2000, description="why your organisation needs to see the records")


class RegisteredAccessRequestIn(Strict):
    """A request made for a caller whose registration named a family already known (a service tells it)."""

    family_id: str = Field(max_length=36)
    organisation_id: str = Field(max_length=64)
    organisation_type: OrganisationType
    requested_by: str = Field(max_length=255)
    categories: list[Category] = Field(min_length=1, max_length=CATEGORY_COUNT)
    reason: str = Field(max_length=2000)


class AccessRequestAccepted(BaseModel):
    id: str
    status: Literal["waiting"]


class AccessRequestOut(BaseModel):
    id: str
    status: Literal["waiting", "approved", "declined", "expired"]
    family_id: str | None = Field(description="shown to the requester once approved, and to those who may answer")
    organisation_id: str
    organisation_type: str
    requested_by: str
    categories: list[str]
    reason: str
    origin: Literal["request", "registration"]
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    grant_id: str | None
    decline_reason: str | None


class ApprovalIn(Strict):
    given_by_role: GivenBy
    given_by_name: str | None = Field(default=None, max_length=200)
    evidence: Evidence
    basis: LawfulBasis = "consent"
    ends_at: Moment | None = None


class DeclineIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)
