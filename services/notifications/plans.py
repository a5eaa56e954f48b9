"""What the plan service tells this service about a plan: the organisations it names and who leads it.

Read as this service itself (the `service` scope), at the moment it is needed,
so that a team change or a new lead takes effect on the next delivery.
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


class PlanDirectory:
    def __init__(self, http: httpx.AsyncClient, token: ServiceToken, plan_url: str) -> None:
        self.http = http
        self.token = token
        self.plan_url = plan_url.rstrip("/")

    async def participants(self, plan_id: str) -> Participants | None:
        """None when the plan service knows no such plan; 503 when it cannot be asked."""
        try:
            response = await self.http.get(
                f"{self.plan_url}/internal/plans/{plan_id}/participants", headers=await self.token.headers()
            )
            if response.status_code == 401:
                self.token.forget()
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
