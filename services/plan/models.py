"""The plan service's tables.

A plan is one row: its needs, goals, actions, team and reviews are a document
(JSON columns) that changes as a whole under one version, which is what the
ETag names. The columns beside the document are what reports and lists filter
on. `PlanOrganisation` indexes who may see a plan by right of the plan itself
(its author, its lead's organisation, its team), so that a list or a report
can be narrowed in SQL. `AssessmentRecord` is what this service learnt from
assessment events: enough to count assessments started, time a request for
support to an active plan and spot a re-referral.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, text
from sqlmodel import Column, Field, SQLModel

from services.kit.db import UtcDateTime


class Plan(SQLModel, table=True):
    # One open plan per family, decided by the database rather than a search before the insert.
    __table_args__ = (
        Index(
            "uq_plan_open_per_family",
            "family_id",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    status: str = Field(max_length=10)  # draft, active, closed
    version: int
    organisation_id: str = Field(max_length=64)  # who opened it: the assessing organisation, or the council
    created_by: str = Field(max_length=255)
    assessment_id: str | None = Field(default=None, unique=True, max_length=36)
    lead_name: str | None = Field(default=None, max_length=200)
    lead_organisation_id: str | None = Field(default=None, index=True, max_length=64)
    lead_email: str | None = Field(default=None, max_length=254)  # a practitioner's work address; never logged
    team: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    needs: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    goals: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    actions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reviews: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    children: int = 0
    level_of_need: str | None = Field(default=None, max_length=2)
    # Practice dates, as practitioners record them (a closure may be recorded the week after);
    # reports count by these. The timestamps record when this service was told.
    requested_on: date | None = None  # the family's request for support, when one came first
    opened_on: date = Field(index=True)
    activated_on: date | None = Field(default=None, index=True)
    closed_on: date | None = Field(default=None, index=True)
    stepped_up_on: date | None = None
    working_days_to_active: int | None = None  # from the request (or the opening) to activation
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    next_review_due: date | None = Field(default=None, index=True)
    review_due_announced: date | None = None
    close_reason: str | None = Field(default=None, max_length=40)
    close_note: str | None = Field(default=None, max_length=2000)
    outcome_areas: int = 0  # distinct outcome areas of its needs, as closed
    all_needs_met: bool = False  # as closed
    step_up_reason: str | None = Field(default=None, max_length=2000)
    stepped_down_from: str | None = Field(default=None, max_length=36)  # the plan social care took over
    re_referral: bool = False
    days_since_last_closure: int | None = None


class PlanOrganisation(SQLModel, table=True):
    """An organisation that may see a plan because of the plan itself: its author, lead or team."""

    __tablename__ = "plan_organisation"

    plan_id: str = Field(foreign_key="plan.id", primary_key=True, max_length=36)
    organisation_id: str = Field(primary_key=True, index=True, max_length=64)


class AssessmentRecord(SQLModel, table=True):
    """An assessment or request for support, as the assessment service announced it."""

    __tablename__ = "assessment_record"

    assessment_id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    organisation_id: str = Field(max_length=64)
    organisation_type: str = Field(max_length=20)
    form_key: str = Field(max_length=100)
    started_at: datetime = Field(sa_type=UtcDateTime, index=True)
    submitted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    re_referral: bool = False
    days_since_last_closure: int | None = None
