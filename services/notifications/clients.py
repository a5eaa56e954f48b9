"""Calls to other services: what the plan service says of a plan (the organisations it names, who leads it),
and whether the consent service would let an organisation read a grant or an override.

Asked as this service itself (the `service` scope), at the moment it is needed,
so that a team change, a new lead or a new grant takes effect on the next delivery.
"""

from dataclasses import dataclass

import httpx

from services.kit.problems import ServiceUnavailable
from services.kit.service_token import ServiceToken


@dataclass(frozen=True)
class Lead:
    name: str
    organisation_id: str
    email: str | None


@dataclass(frozen=True)
class Participants:
    plan_id: str
    organisations: frozenset[str]
    lead: Lead | None


class PlanClient:
    def __init__(self, token: ServiceToken, plan_url: str) -> None:
        self.token = token
        self.plan_url = plan_url.rstrip("/")

    async def participants(self, plan_id: str) -> Participants | None:
        """None when the plan service knows no such plan; 503 when it cannot be asked."""
        try:
            response = await self.token.request("GET", f"{self.plan_url}/internal/plans/{plan_id}/participants")
            if response.status_code == 404:
                return None
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ServiceUnavailable("The plan service could not be asked about a plan.") from error
        lead = answer.get("lead")
        return Participants(
            plan_id=plan_id,
            organisations=frozenset(answer["organisations"]),
            lead=Lead(lead["name"], lead["organisation_id"], lead.get("email")) if lead else None,
        )


class ConsentClient:
    def __init__(self, token: ServiceToken, consent_url: str) -> None:
        self.token = token
        self.url = consent_url.rstrip("/") + "/internal/readers" if consent_url else ""

    async def may_read(self, record: str, record_id: str, organisation_id: str, organisation_type: str) -> bool:
        """Whether the organisation could read the grant or override now; 503 when the consent service cannot say.

        With no consent service to ask (`ACCESS_DECISIONS_URL` empty) no one may: the records are its to show.
        """
        if not self.url or not self.token.settings.id:
            return False
        body = {
            "record": record,
            "record_id": record_id,
            "organisation_id": organisation_id,
            "organisation_type": organisation_type,
        }
        try:
            response = await self.token.request("POST", self.url, json=body)
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ServiceUnavailable("The consent service could not be asked who may read a record.") from error
        return answer.get("may_read") is True
