"""The consent service's calls to the assessment service, made as itself."""

from datetime import date

import httpx

from services.kit.problems import ServiceUnavailable
from services.kit.service_token import ServiceToken


class FamilyMatcher:
    """Finds the family a request for access names, by identifiers and date of birth, without learning more."""

    def __init__(self, token: ServiceToken, assessment_url: str) -> None:
        self.token = token
        self.url = assessment_url.rstrip("/") + "/internal/families/match"

    async def match(self, identifiers: list[tuple[str, str]], date_of_birth: date) -> str | None:
        """The family's id when a member holds one of the identifiers and was born on that day; None otherwise."""
        if not self.url.startswith("http"):
            raise ServiceUnavailable("Requests for access cannot be matched: no ASSESSMENT_URL is set.")
        body = {
            "identifiers": [{"system": system, "value": value} for system, value in identifiers],
            "date_of_birth": date_of_birth.isoformat(),
        }
        try:
            response = await self.token.request("POST", self.url, json=body)
            response.raise_for_status()
            family_id = response.json().get("family_id")
        except (httpx.HTTPError, ValueError) as error:
            raise ServiceUnavailable("The request cannot be matched just now; try again.") from error
        return str(family_id) if family_id else None
