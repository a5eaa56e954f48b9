"""The assessment service's tables: form versions, families and their members, assessments and revisions."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint
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


class PersonIdentifier(SQLModel, table=True):
    """An identifier names one person: the primary key is what refuses a second family for them."""

    __tablename__ = "person_identifier"

    system: str = Field(primary_key=True, max_length=100)  # nhs, upn, or local:<organisation id>
    value: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=36)
    family_id: str = Field(foreign_key="family.id", index=True, max_length=36)


class Assessment(SQLModel, table=True):
    __table_args__ = (ForeignKeyConstraint(["form_key", "form_version"], ["form_version.key", "form_version.version"]),)

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
