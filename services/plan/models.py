"""The plan service's tables.

A plan is one row: its needs, goals, actions, team and reviews are a document
(JSON columns, typed by `document`) that changes as a whole under one version,
which is what the ETag names. The columns beside the document are what reports and lists filter
on. `PlanEpisode` holds each episode of the document as a row, for the
reports that count closures and re-referrals. `SocialCareReferral` is a referral to children's social care
and its outcome. `PlanContact` is a contact recorded on a plan (a visit, call, meeting, message or note): its
participants and summary are the family's case notes, a category of their own. `SupportingFamiliesEnrolment` and
`SupportingFamiliesClaim` are the Supporting Families ledger: who joined, on which areas, and what was claimed.
`ReportingFamily` and `ReportingChild` are the reports' pseudonymised read model: a family's locality and its
children's age bands, sex and ethnicity, never a name, birth date or postcode. `PlanOrganisation` indexes
who may see a plan by right of the plan itself (its author, its lead's organisation, its team), so that a list
or a report can be narrowed in SQL. `AssessmentRecord` is what this service learnt from
assessment events: enough to count assessments started, time a request for
support to an active plan and spot a re-referral.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint, text
from sqlmodel import Column, Field, SQLModel

from services.kit.db import UtcDateTime
from services.plan.document import (
    Action,
    Episode,
    Goal,
    Need,
    Participant,
    PlanDocumentColumn,
    Review,
    TeamMember,
)

OPEN = "status NOT IN ('closed', 'discarded')"  # a family has one plan at a time in this state


class Plan(SQLModel, table=True):
    # One open plan per family, decided by the database rather than a search before the insert.
    __table_args__ = (
        Index(
            "uq_plan_open_per_family",
            "family_id",
            unique=True,
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    status: str = Field(max_length=10)  # draft, active, closed, discarded: see `transitions`
    version: int
    organisation_id: str = Field(max_length=64)  # who opened it: the assessing organisation, or the council
    created_by: str = Field(max_length=255)
    assessment_id: str | None = Field(default=None, unique=True, max_length=36)
    lead_name: str | None = Field(default=None, max_length=200)
    lead_organisation_id: str | None = Field(default=None, index=True, max_length=64)
    lead_email: str | None = Field(default=None, max_length=254)  # a practitioner's work address; never logged
    team: list[TeamMember] = Field(
        default_factory=list, sa_column=Column(PlanDocumentColumn(TeamMember), nullable=False)
    )
    needs: list[Need] = Field(default_factory=list, sa_column=Column(PlanDocumentColumn(Need), nullable=False))
    goals: list[Goal] = Field(default_factory=list, sa_column=Column(PlanDocumentColumn(Goal), nullable=False))
    actions: list[Action] = Field(default_factory=list, sa_column=Column(PlanDocumentColumn(Action), nullable=False))
    reviews: list[Review] = Field(default_factory=list, sa_column=Column(PlanDocumentColumn(Review), nullable=False))
    episodes: list[Episode] = Field(default_factory=list, sa_column=Column(PlanDocumentColumn(Episode), nullable=False))
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


class PlanEpisode(SQLModel, table=True):
    """An episode of a plan (`document.Episode`) as a row, written with the plan, for the reports to count."""

    __tablename__ = "plan_episode"
    # The reports' look-up of a family's next episode after a closure, read from the index alone (plan_0008).
    __table_args__ = (
        Index("ix_plan_episode_family_id_opened_on", "family_id", "opened_on", "close_reason", "plan_id", "number"),
    )

    plan_id: str = Field(foreign_key="plan.id", primary_key=True, max_length=36)
    number: int = Field(primary_key=True)
    family_id: str = Field(index=True, max_length=36)
    opened_on: date = Field(index=True)
    re_referral: bool = False
    closed_on: date | None = Field(default=None, index=True)
    close_reason: str | None = Field(default=None, max_length=40)
    outcome_areas: int = 0
    all_needs_met: bool = False


def episode_rows(plan: Plan) -> list[PlanEpisode]:
    """The plan's episodes as the rows the reports count."""
    return [
        PlanEpisode(
            plan_id=plan.id,
            number=episode.number,
            family_id=plan.family_id,
            opened_on=episode.opened_on,
            re_referral=episode.re_referral,
            closed_on=episode.closed_on,
            close_reason=episode.close_reason,
            outcome_areas=episode.outcome_areas,
            all_needs_met=episode.all_needs_met,
        )
        for episode in plan.episodes
    ]


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


class SocialCareReferral(SQLModel, table=True):
    """A referral to children's social care: from a step-up, the front door, or after early help closed; and
    what social care decided, recorded once."""

    __tablename__ = "social_care_referral"

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    organisation_id: str = Field(max_length=64)  # the referring organisation
    source: str = Field(max_length=20)  # step_up, front_door, after_closure
    referred_on: date = Field(index=True)
    reason: str | None = Field(default=None, max_length=2000)  # never in events or logs
    plan_id: str | None = Field(default=None, foreign_key="plan.id", index=True, max_length=36)
    # One referral per assessment, however often its event comes: decided by the database.
    assessment_id: str | None = Field(default=None, unique=True, max_length=36)
    days_since_closure: int | None = None
    outcome: str | None = Field(default=None, max_length=30)
    decided_on: date | None = None
    created_at: datetime = Field(sa_type=UtcDateTime)
    outcome_recorded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class PlanContact(SQLModel, table=True):
    """A contact with the family recorded on a plan; its participants and summary are case notes (`case_notes`).

    A row of its own rather than a part of the plan's document: recording one changes neither the plan nor its
    version, and a plan's contacts are read, and paged, apart from it.
    """

    __tablename__ = "plan_contact"
    __table_args__ = (Index("ix_plan_contact_plan_id_occurred_at", "plan_id", "occurred_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    plan_id: str = Field(foreign_key="plan.id", max_length=36)
    family_id: str = Field(index=True, max_length=36)
    kind: str = Field(max_length=10)  # visit, call, meeting, message, note
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    participants: list[Participant] = Field(
        default_factory=list, sa_column=Column(PlanDocumentColumn(Participant), nullable=False)
    )
    summary: str = Field(sa_type=Text)  # free text about the family: never in events, logs or metrics
    organisation_id: str = Field(max_length=64)  # who recorded it
    recorded_by: str = Field(max_length=255)
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class SupportingFamiliesEnrolment(SQLModel, table=True):
    """A family joining the Supporting Families programme in an episode of its plan, on the headline outcome areas
    that make it eligible; one per episode, decided by the database."""

    __tablename__ = "supporting_families_enrolment"
    __table_args__ = (UniqueConstraint("plan_id", "episode"),)

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    plan_id: str = Field(foreign_key="plan.id", max_length=36)
    episode: int
    areas: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # never in events
    enrolled_on: date
    organisation_id: str = Field(max_length=64)  # who enrolled the family
    enrolled_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UtcDateTime)


class SupportingFamiliesClaim(SQLModel, table=True):
    """A payment-by-results claim for an enrolled family: by significant and sustained progress (with the evidence
    per area) or by continuous employment; once per family and episode, decided by the database."""

    __tablename__ = "supporting_families_claim"
    __table_args__ = (UniqueConstraint("family_id", "plan_id", "episode"),)

    id: str = Field(primary_key=True, max_length=36)
    enrolment_id: str = Field(foreign_key="supporting_families_enrolment.id", unique=True, max_length=36)
    family_id: str = Field(max_length=36)
    plan_id: str = Field(max_length=36)
    episode: int
    route: str = Field(max_length=30)  # significant_and_sustained, continuous_employment
    outcomes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    employment: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    claimed_on: date
    financial_year: str = Field(index=True, max_length=7)  # 2025-26: April 2025 to March 2026
    payment: int  # whole pounds, as the outcomes plan set it when the claim was made
    organisation_id: str = Field(index=True, max_length=64)  # who claimed
    claimed_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UtcDateTime)


class ReportingFamily(SQLModel, table=True):
    """What the reports know of a family beyond its plans: the council's locality, not the postcode. Written from
    the assessment service's reporting profile each time a plan opens or reopens for the family."""

    __tablename__ = "reporting_family"

    family_id: str = Field(primary_key=True, max_length=36)
    locality_code: str | None = Field(default=None, index=True, max_length=40)
    locality_name: str | None = Field(default=None, max_length=100)
    profiled_on: date  # the day the children's age bands were worked out on
    refreshed_at: datetime = Field(sa_type=UtcDateTime)


class ReportingChild(SQLModel, table=True):
    """One child of a family as the reports count them: an age band, sex and ethnicity category; no name, date of
    birth or identifier. Replaced whole with the family's profile."""

    __tablename__ = "reporting_child"

    family_id: str = Field(primary_key=True, max_length=36)
    position: int = Field(primary_key=True)  # the order of the family's children in the profile
    age_band: str | None = Field(default=None, max_length=20)
    sex: str | None = Field(default=None, max_length=20)
    ethnicity: str | None = Field(default=None, max_length=40)
