"""The assessment service's tables: form versions, families and their members, assessments and revisions,
and the front door's decisions on requests for support."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index
from sqlmodel import Column, Field, SQLModel

from services.kit.db import UtcDateTime


class FormVersion(SQLModel, table=True):
    __tablename__ = "form_version"

    key: str = Field(primary_key=True, max_length=100)
    version: int = Field(primary_key=True)
    status: str = Field(max_length=20)  # draft, published, retired
    title: str = Field(max_length=200)
    # The whole definition as written (schema, layout, carry_forward), by its JSON names.
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Family(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    created_by_organisation: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime)


class Person(SQLModel, table=True):
    """A member of a family, child or adult."""

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(foreign_key="family.id", index=True, max_length=36)
    position: int  # the order members were given in
    role: str = Field(max_length=10)  # child, adult
    given_name: str = Field(max_length=100)
    family_name: str = Field(max_length=100)
    date_of_birth: date | None = None
    relationship: str | None = Field(default=None, max_length=50)
    # Optional, for reports by locality and protected characteristic; never in an event or a log.
    sex: str | None = Field(default=None, max_length=20)  # female, male, indeterminate, not_known
    ethnicity: str | None = Field(default=None, max_length=40)  # an ONS 2021 category
    first_language: str | None = Field(default=None, max_length=60)
    send_status: str | None = Field(default=None, max_length=20)  # none, sen_support, ehc_plan
    young_carer: bool | None = None
    postcode: str | None = Field(default=None, max_length=8)


class PersonIdentifier(SQLModel, table=True):
    """An identifier names one person: the primary key is what refuses a second family for them."""

    __tablename__ = "person_identifier"

    system: str = Field(primary_key=True, max_length=100)  # nhs, upn, or local:<organisation id>
    value: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=36)
    family_id: str = Field(foreign_key="family.id", index=True, max_length=36)


class Assessment(SQLModel, table=True):
    __table_args__ = (
        ForeignKeyConstraint(["form_key", "form_version"], ["form_version.key", "form_version.version"]),
        # The front door's queue: a form's submitted assessments in the order they came.
        Index("ix_assessment_form_key_status_submitted_at", "form_key", "status", "submitted_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(foreign_key="family.id", index=True, max_length=36)
    organisation_id: str = Field(max_length=64)  # the author
    created_by: str = Field(max_length=255)
    form_key: str = Field(max_length=100)
    form_version: int
    form_sha256: str = Field(max_length=64)
    status: str = Field(max_length=20)  # draft, submitted
    revision: int
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    carried_from: str | None = Field(default=None, max_length=36)
    carried_forward: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AssessmentRevision(SQLModel, table=True):
    """Every version of an assessment's answers, kept: who changed what, and when."""

    __tablename__ = "assessment_revision"

    assessment_id: str = Field(foreign_key="assessment.id", primary_key=True, max_length=36)
    number: int = Field(primary_key=True)
    status: str = Field(max_length=20)
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    changed: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str | None = Field(default=None, max_length=1000)
    organisation_id: str = Field(max_length=64)
    author: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UtcDateTime)


class RequestDecision(SQLModel, table=True):
    """What the front door decided about a submitted request for support: one decision a request, never changed.

    The primary key is what refuses a second decision, even when two coordinators decide at once.
    """

    __tablename__ = "request_decision"
    __table_args__ = (Index("ix_request_decision_decided_at", "decided_at"),)

    assessment_id: str = Field(foreign_key="assessment.id", primary_key=True, max_length=36)
    outcome: str = Field(max_length=40)
    allocated_organisation_id: str | None = Field(default=None, index=True, max_length=64)
    note: str | None = Field(default=None, max_length=2000)
    decided_by: str = Field(max_length=255)  # the practitioner, as the token names them
    decided_by_organisation: str = Field(max_length=64)
    decided_at: datetime = Field(sa_type=UtcDateTime)
    working_days_to_decision: int
