"""Telling the consent service an organisation's standing with a family, from the records of the service that knows.

Who wrote a family's records, who is on its plan's team, who leads it: each service that keeps those
records tells the consent service in the request (or event) that changes them, before it answers, so
that who may share, write and answer requests for access is decided from them and never from what a
caller says. Told twice, nothing changes there; if the consent service cannot be told, the change fails
and is rolled back (fail closed).
"""

from collections.abc import Collection

import httpx

from services.kit.problems import ServiceUnavailable
from services.kit.service_token import ServiceToken


class Standing:
    def __init__(self, token: ServiceToken, consent_url: str) -> None:
        self.token = token
        self.url = consent_url.rstrip("/") + "/internal/relations" if consent_url else ""

    async def tell(
        self,
        family_id: str,
        kind: str,
        organisation_ids: Collection[str],
        categories: Collection[str],
        *,
        replace: bool = False,
    ) -> None:
        """`kind` (authorship, team, lead, allocation) held by these organisations for these categories.

        With `replace`, they are all who hold it now: it ends for any other.
        """
        if not self.url:
            return  # deciding by authorship alone: nobody else decides, so nobody to tell
        body = {
            "family_id": family_id,
            "kind": kind,
            "organisation_ids": sorted(organisation_ids),
            "categories": sorted(categories),
            "replace": replace,
        }
        try:
            response = await self.token.request("POST", self.url, json=body)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise ServiceUnavailable("The consent service cannot be told just now; try again.") from error
