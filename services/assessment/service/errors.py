"""Every problem the assessment service's rules raise, each with its stable `type` slug.

In one module rather than beside the use cases: the slugs are the service's
public contract (clients branch on the `type` URI), several are raised across
modules (an assessment names an unknown form version or family), and one list
keeps them unique at a glance.
"""

from collections.abc import Sequence

from services.assessment.forms import Problem
from services.kit.problems import Conflict, Forbidden, NotFound, ValidationFailed

# --- form versions ------------------------------------------------------------------


class FormVersionNotFound(NotFound):
    slug, title = "form-version-not-found", "No such form version"


class UnknownFormVersion(ValidationFailed):
    slug, title = "unknown-form-version", "The form version named does not exist"

    @classmethod
    def named(cls, key: str, version: int) -> "UnknownFormVersion":
        return cls(
            f"Form '{key}' has no version {version}; GET /forms lists the versions.",
            errors=[{"pointer": "/form/version", "detail": "No such form version."}],
        )


class FormVersionNotOpen(ValidationFailed):
    slug, title = "form-version-not-open", "The form version named cannot take new assessments"


class FormVersionPublishedAlready(Conflict):
    slug, title = "form-version-published", "A published form version never changes"


class InvalidDefinition(ValidationFailed):
    slug, title = "invalid-form-definition", "The form definition is not sound"


# --- families -----------------------------------------------------------------------


class FamilyNotFound(NotFound):
    slug, title = "family-not-found", "No such family"


class UnknownFamily(ValidationFailed):
    slug, title = "unknown-family", "The family named does not exist"


class FamilyKnownAlready(Conflict):
    slug, title = "family-exists", "A member of this family is already known"


# --- assessments --------------------------------------------------------------------


class AssessmentNotFound(NotFound):
    slug, title = "assessment-not-found", "No such assessment"


class AssessmentSubmittedAlready(Conflict):
    slug, title = "assessment-submitted", "The assessment is submitted"


class NotSubmitted(Conflict):
    slug, title = "assessment-not-submitted", "Only a submitted assessment is corrected"


class StillADraft(Conflict):
    slug, title = "assessment-draft", "The assessment is still a draft"


class NotTheAuthor(Forbidden):
    slug, title = "not-the-author", "Only the organisation that wrote an assessment changes it"


class InvalidAnswers(ValidationFailed):
    slug, title = "invalid-answers", "Some answers need attention"

    def __init__(self, problems: Sequence[Problem], *, complete: bool) -> None:
        detail = (
            "Answer every required question and correct the answers listed."
            if complete
            else "Correct the answers listed; a draft may leave questions unanswered."
        )
        super().__init__(detail, errors=[problem.as_dict("/answers") for problem in problems])


# --- the front door -----------------------------------------------------------------


class NotACoordinator(Forbidden):
    slug, title = "not-a-coordinator", "Only an early help coordinator decides a request for support"


class RequestForSupportNotFound(NotFound):
    slug, title = "request-for-support-not-found", "No such request for support"


class RequestNotSubmitted(Conflict):
    slug, title = "request-for-support-not-submitted", "The request for support is still a draft"


class RequestDecidedAlready(Conflict):
    slug, title = "request-for-support-decided", "The request for support is decided already"
