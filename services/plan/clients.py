"""What a submitted assessment found, and a family's reporting profile, read from the assessment service by this
service as itself.

Events are thin, so the needs an assessment found are not in
`assessment.submitted`: they are fetched over HTTP from the assessment
service's internal endpoint, with this service's own token (tried once more
with a fresh one when refused), and the read is audited there like any other.
"""

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from services.kit.problems import NotFound, ServiceUnavailable, ValidationFailed
from services.kit.service_token import ServiceToken


class FoundNeed(BaseModel):
    description: str
    outcome_area: str


class Findings(BaseModel):
    assessment_id: str
    family_id: str
    organisation_id: str
    submitted_at: datetime
    started_on: date | None = None
    children: int
    needs: list[FoundNeed]
    level_of_need: str | None = None
    next_step: str | None = None  # what the assessor decided comes next; None for a form without the question


class ChildProfile(BaseModel):
    age_band: str | None
    sex: str | None
    ethnicity: str | None


class ReportingProfile(BaseModel):
    """A family as the reports may know it: its locality and its children's bands and categories."""

    family_id: str
    on: date
    locality_code: str | None
    locality_name: str | None
    children: list[ChildProfile]


class UnknownFamily(NotFound):
    slug, title = "unknown-family", "No such family"


class UnknownAssessment(NotFound):
    slug, title = "unknown-assessment", "No such assessment"


class AssessmentNotSubmitted(ValidationFailed):
    slug, title = "assessment-not-submitted", "A plan starts from a submitted assessment"


@dataclass
class AssessmentFindings:
    """The assessment service, as this service reads it."""

    token: ServiceToken
    base_url: str

    async def of(self, assessment_id: str) -> Findings:
        # The id comes from a caller: quoted whole, so it names one path segment whatever it holds.
        url = f"{self.base_url.rstrip('/')}/internal/assessments/{quote(assessment_id, safe='')}/needs"
        try:
            response = await self.token.request("GET", url)
        except httpx.HTTPError as error:
            raise ServiceUnavailable("The assessment service cannot be reached just now; try again.") from error
        if response.status_code == 404:
            raise UnknownAssessment(f"There is no assessment {assessment_id}.")
        if response.status_code == 409:
            raise AssessmentNotSubmitted("Submit the assessment first; its needs are settled only then.")
        if response.status_code != 200:
            raise ServiceUnavailable(f"The assessment service answered {response.status_code}; try again.")
        return Findings.model_validate_json(response.content)

    async def reporting_profile(self, family_id: str, on: date) -> ReportingProfile:
        """The family's pseudonymised reporting profile, its children's age bands worked out on `on`."""
        url = f"{self.base_url.rstrip('/')}/internal/families/{quote(family_id, safe='')}/reporting-profile"
        try:
            response = await self.token.request("GET", url, params={"on": on.isoformat()})
        except httpx.HTTPError as error:
            raise ServiceUnavailable("The assessment service cannot be reached just now; try again.") from error
        if response.status_code == 404:
            raise UnknownFamily(f"There is no family {family_id}.")
        if response.status_code != 200:
            raise ServiceUnavailable(f"The assessment service answered {response.status_code}; try again.")
        return ReportingProfile.model_validate_json(response.content)
