"""The assessment service's calls to the consent service, made as itself: requests for access on a caller's behalf.

Who wrote a family's records, and to whom the front door allocated the work, is told through
`services.access.standing`.
"""

import httpx

from services.access.standing import Standing
from services.kit.auth import Principal
from services.kit.problems import ServiceUnavailable
from services.kit.service_token import ServiceToken

CATEGORIES = ["assessment"]
# The work allocated by the front door is done with the family's assessments and its plan.
ALLOCATED_CATEGORIES = ["assessment", "plan"]


class Consent:
    def __init__(self, token: ServiceToken, consent_url: str) -> None:
        self.token = token
        self.url = consent_url.rstrip("/")
        self.standing = Standing(token, consent_url)

    async def tell_authorship(self, family_id: str, organisation_id: str) -> None:
        """The organisation wrote the family's records (registered it, or wrote an assessment)."""
        await self.standing.tell(family_id, "authorship", [organisation_id], CATEGORIES)

    async def tell_allocation(self, family_id: str, organisation_id: str) -> None:
        """The front door allocated the work with the family to the organisation: a basis for its records."""
        await self.standing.tell(family_id, "allocation", [organisation_id], ALLOCATED_CATEGORIES)

    async def request_access(self, family_id: str, principal: Principal) -> str | None:
        """A request for access, for a caller whose registration named a family already known; its id."""
        if not self.url:
            return None
        body = {
            "family_id": family_id,
            "organisation_id": principal.organisation_id,
            "organisation_type": principal.organisation_type,
            "requested_by": principal.subject,
            "categories": CATEGORIES,
            "reason": "Registered a child or parent already known to another organisation.",
        }
        try:
            response = await self.token.request("POST", self.url + "/internal/access-requests", json=body)
            response.raise_for_status()
            return str(response.json()["id"])
        except (httpx.HTTPError, ValueError, KeyError) as error:
            raise ServiceUnavailable("The consent service cannot be asked just now; try again.") from error
