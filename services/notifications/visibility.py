"""Whether a subscriber may be told of an event: decided at the moment of delivery, as a read would be.

An event about a family reveals that something happened to that family's
assessment or plan, so it goes only where that data could be read: the
organisation made the change, is on the plan's team or leads it, or holds a
grant or override the consent service (or this service's current copy of its
grants) says covers it. A subscriber that loses its grant stops hearing at once.
"""

import json

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.access import AccessPolicy
from services.kit.auth import Principal
from services.kit.service_token import ServiceToken
from services.notifications.models import ForwardedEvent, Subscription
from services.notifications.plans import PlanDirectory
from services.notifications.service import category_of

PURPOSE = "early-help"


class Visibility:
    def __init__(self, policy: AccessPolicy, plans: PlanDirectory, token: ServiceToken) -> None:
        self.policy = policy
        self.plans = plans
        self.token = token

    async def may_see(self, session: AsyncSession, subscription: Subscription, event: ForwardedEvent) -> bool:
        category = category_of(event.type)
        if category is None or event.family_id is None:
            return True
        # This service asks for the subscriber's organisation, as itself: the question names
        # the organisation, and the token says which service is asking.
        subscriber = Principal(
            subject=f"subscription:{subscription.id}",
            organisation_id=subscription.organisation_id,
            organisation_type=subscription.organisation_type,
            scopes=frozenset(),
            # Without a client of its own the service asks no one: authorship alone decides.
            token=await self.token.bearer() if self.token.settings.id else "",
        )
        authors = {event.organisation_id} if event.organisation_id else set()
        basis = await self.policy.basis_for(
            session, subscriber, family_id=event.family_id, category=category, purpose=PURPOSE, authors=authors
        )
        if basis is None and category == "plan" and self.token.settings.id:
            participants = await self.plans.participants(_plan_id(event))
            team = participants.organisations if participants else frozenset()
            if subscription.organisation_id in team:
                return True
        return basis is not None


def _plan_id(event: ForwardedEvent) -> str:
    plan_id = json.loads(event.body)["data"]["plan_id"]  # every plan event names its plan
    assert isinstance(plan_id, str)
    return plan_id
