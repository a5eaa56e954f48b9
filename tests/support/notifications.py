"""The notifications service beside the plan stack, with real webhook receivers on loopback ports."""

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.organisations import Organisation
from tests.support.plan import PlanStack
from tests.support.receiver import Receiver
from tests.support.stack import Started
from tests.support.waiting import eventually

MANAGES = "subscriptions:manage"


@dataclass
class NotificationsStack:
    plans: PlanStack
    app: FastAPI
    client: httpx.AsyncClient
    receivers: list[Receiver] = field(default_factory=list)

    @classmethod
    def of(cls, stack: Started) -> "NotificationsStack":
        return cls(PlanStack.of(stack), stack.apps["notifications"], stack.clients["notifications"])

    def organisation(self, org_id: str, org_type: str = "council", scopes: str = MANAGES) -> Organisation:
        return self.plans.organisation(org_id, org_type, scopes)

    async def receiver(self, **options: Any) -> Receiver:
        receiver = Receiver(**options)
        await receiver.start()
        self.receivers.append(receiver)
        return receiver

    async def subscribe(
        self, owner: Organisation, receiver: Receiver, event_types: list[str], **more: Any
    ) -> dict[str, Any]:
        body = {"url": receiver.url, "event_types": event_types, **more}
        response = await self.client.post("/subscriptions", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        subscription: dict[str, Any] = response.json()
        receiver.secrets.append(subscription["secret"])
        return subscription

    async def deliveries(self, owner: Organisation, subscription_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/subscriptions/{subscription_id}/deliveries", params={"limit": 500}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def attempts(self, owner: Organisation, subscription_id: str, count: int) -> list[dict[str, Any]]:
        """The delivery log once it holds `count` attempts: an outcome is written just after the receiver answers."""
        found: list[dict[str, Any]] = []

        async def written() -> bool:
            found[:] = await self.deliveries(owner, subscription_id)
            return len(found) >= count

        await eventually(written)
        return found
