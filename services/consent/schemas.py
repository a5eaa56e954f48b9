"""What the consent service's endpoints take and answer."""

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Category = Literal["assessment", "plan"]
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
    given_at: datetime | None = Field(default=None, description="when the family agreed; now when left out")


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
    family_id: str = Field(max_length=36)
    person_id: str | None = Field(default=None, max_length=36, description="the child it is about; the family if none")
    given_by_role: GivenBy
    given_by_name: str | None = Field(default=None, max_length=200)
    categories: list[Category] = Field(min_length=1, max_length=2)
    recipient_organisations: list[str] = Field(default_factory=list, max_length=100)
    recipient_types: list[OrganisationType] = Field(default_factory=list, max_length=6)
    purpose: Purpose = "early-help"
    basis: LawfulBasis = "consent"
    evidence: Evidence
    starts_at: datetime | None = Field(default=None, description="now when left out")
    ends_at: datetime | None = None

    @field_validator("recipient_organisations")
    @classmethod
    def _short_ids(cls, ids: list[str]) -> list[str]:
        if any(not 1 <= len(value) <= 64 for value in ids):
            raise ValueError("organisation ids are 1 to 64 characters")
        return ids


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
    authors: list[str] = Field(default_factory=list, max_length=100, description="organisations that wrote the records")
    team: list[str] = Field(default_factory=list, max_length=100, description="organisations on the family's team")
    organisation_id: str | None = Field(default=None, max_length=64, description="another organisation than yours")
    organisation_type: OrganisationType | None = None
    practitioner: str | None = Field(default=None, max_length=255)


class Basis(BaseModel):
    kind: Literal["authorship", "team", "override", "grant"]
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
    entries: int
    first_broken_position: int | None
    problem: str | None


class AccessRevisionOut(BaseModel):
    revision: int
