"""The events the assessment service emits: thin, with identifiers and changed pointers, never answers.

Their payload schemas are written to `schemas/events/` by
`python -m services.assessment.events`; a test fails when the files drift.
"""

from pydantic import BaseModel

from services.access.audit import AUDIT_EVENT_TYPE, AccessRecorded
from services.access.events import FamilyEvents
from services.assessment.schemas import Outcome
from services.kit.events.schemas import write_event_schemas

SOURCE = "/services/assessment"


class FormVersionPublished(BaseModel):
    """`form.version_published`: a form version can now be used, and will never change."""

    form_key: str
    version: int
    sha256: str


class AssessmentCreated(BaseModel):
    """`assessment.created`: a draft or submitted assessment exists."""

    assessment_id: str
    family_id: str
    organisation_id: str
    organisation_type: str  # of the author: councils count assessments started per agency
    form_key: str
    form_version: int
    status: str
    revision: int
    carried_from: str | None = None


class AssessmentUpdated(BaseModel):
    """`assessment.updated`: answers changed; `changed` names them by JSON pointer."""

    assessment_id: str
    family_id: str
    organisation_id: str
    revision: int
    changed: list[str]
    correction: bool = False


class AssessmentSubmitted(BaseModel):
    """`assessment.submitted`: complete and checked; its answers now change only by correction."""

    assessment_id: str
    family_id: str
    organisation_id: str
    organisation_type: str
    form_key: str
    form_version: int
    revision: int


class RequestDecided(BaseModel):
    """`request.decided`: the front door decided what happens next with a request for support, and for whom."""

    assessment_id: str  # the request for support
    family_id: str
    organisation_id: str  # the coordinator's organisation that decided
    outcome: Outcome
    allocated_organisation_id: str | None  # given the work with the family, and a basis for its records
    working_days_to_decision: int  # from submission, weekends and bank holidays of England and Wales left out


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "form.version_published": FormVersionPublished,
    "assessment.created": AssessmentCreated,
    "assessment.updated": AssessmentUpdated,
    "assessment.submitted": AssessmentSubmitted,
    "request.decided": RequestDecided,
    AUDIT_EVENT_TYPE: AccessRecorded,
}


emit = FamilyEvents(SOURCE, EVENT_PAYLOADS).emit_about


if __name__ == "__main__":
    write_event_schemas(EVENT_PAYLOADS)
