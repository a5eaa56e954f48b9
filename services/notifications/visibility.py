"""Who may hear of each event type, and whether a subscriber may now: decided at delivery, as a read would be.

An event is about a record, and it goes to a subscriber only if the
subscriber's organisation could read that record at that moment, by the rule
its own reads follow:

- an event about a family's assessment or plan, to an organisation holding a
  basis for that family's data of that category (it made the change, is on the
  plan's team or leads it, or holds a grant or override the consent service,
  or this service's current copy of its grants, says covers it);
- an event about a sharing grant or a safeguarding override, to an organisation
  that could `GET` that grant or override now, which the consent service answers
  (`POST /internal/readers`) with the code its own reads use;
- an event about no family that carries nothing private (a form version
  published), to anyone subscribed to it.

Every event type has its line in `HEARD_BY`; a type without one is forwarded to
no one, and a test fails when a published event schema has none.
"""

import json
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import AccessPolicy
from services.kit.auth import Principal
from services.kit.service_token import ServiceToken
from services.notifications.clients import ConsentClient, PlanClient
from services.notifications.models import ForwardedEvent, Subscription

PURPOSE = "early-help"


@dataclass(frozen=True)
class Audience:
    """Who may hear of events of one type, and why."""

    kind: Literal["family_data", "sharing_record", "anyone", "no_one"]
    why: str
    category: str | None = None  # family_data: the category of the family's data the event is about
    record: Literal["consent", "override"] | None = None  # sharing_record: which record
    record_field: str | None = None  # sharing_record: the field of the event's data naming it

    @property
    def forwarded(self) -> bool:
        return self.kind != "no_one"


ASSESSMENT = Audience(
    "family_data", "organisations that may read the family's assessments at that moment", category="assessment"
)
PLAN = Audience("family_data", "organisations that may read the family's plan at that moment", category="plan")
GRANT = Audience(
    "sharing_record",
    "organisations that may read the grant (it recorded it or is named in it), holding `consent:read`",
    record="consent",
    record_field="grant_id",
)
OVERRIDE = Audience(
    "sharing_record",
    "the organisation that opened the override, holding `consent:read`",
    record="override",
    record_field="override_id",
)
ANYONE = Audience("anyone", "anyone subscribed: it is about no family and carries nothing private")

HEARD_BY: dict[str, Audience] = {
    "assessment.created": ASSESSMENT,
    "assessment.submitted": ASSESSMENT,
    "assessment.updated": ASSESSMENT,
    "plan.created": PLAN,
    "plan.activated": PLAN,
    "plan.updated": PLAN,
    "plan.goal_added": PLAN,
    "plan.review_recorded": PLAN,
    "plan.review_due": PLAN,
    "plan.stepped_up": PLAN,
    "plan.stepped_down": PLAN,
    "plan.closed": PLAN,
    "plan.reopened": PLAN,
    "plan.discarded": PLAN,
    # Only that a contact of a kind happened on the plan, and when, as its chronology shows any reader of the plan;
    # who took part and what was said are case notes, read over REST with a basis for them.
    "plan.contact_recorded": PLAN,
    "consent.granted": GRANT,
    "consent.withdrawn": GRANT,
    "consent.expired": GRANT,
    "override.opened": OVERRIDE,
    "override.expired": OVERRIDE,
    "form.version_published": ANYONE,
    "access.requested": Audience(
        "no_one", "not forwarded: holders of a basis read requests with `GET /access-requests?direction=incoming`"
    ),
    "access.approved": Audience("no_one", "not forwarded: the requester reads `GET /access-requests/{id}`"),
    "access.declined": Audience("no_one", "not forwarded: the requester reads `GET /access-requests/{id}`"),
    "credentials.revoked": Audience(
        "no_one", "not forwarded: the platform's own signal to refuse tokens, naming clients and staff"
    ),
    "request.decided": Audience(
        "no_one", "not forwarded: the allocated organisation reads `GET /requests-for-support?status=decided`"
    ),
    "social_care.referred": Audience(
        "no_one", "not forwarded: referrals are read with `GET /families/{id}/social-care-referrals`, audited"
    ),
    "social_care.outcome_recorded": Audience(
        "no_one", "not forwarded: referrals are read with `GET /families/{id}/social-care-referrals`, audited"
    ),
    "supporting_families.enrolled": Audience(
        "no_one",
        "not forwarded: the programme is the council's; it reads enrolments with "
        "`GET /supporting-families/enrolments`, audited",
    ),
    "supporting_families.claimed": Audience(
        "no_one",
        "not forwarded: the programme is the council's; it reads claims with `GET /supporting-families/claims`, "
        "audited",
    ),
    "audit.recorded": Audience("no_one", "not forwarded: who read what is answered by `GET /audit`"),
    "audit.checkpoint": Audience(
        "no_one", "not forwarded: the access log's signed checkpoints are checked with `GET /audit/verify`"
    ),
    "notification.subscription_failing": Audience(
        "no_one", "not forwarded: the owner reads its subscription's status and delivery log"
    ),
}


def audience_of(event_type: str) -> Audience | None:
    return HEARD_BY.get(event_type)


class Visibility:
    def __init__(self, policy: AccessPolicy, plans: PlanClient, consent: ConsentClient, token: ServiceToken) -> None:
        self.policy = policy
        self.plans = plans
        self.consent = consent
        self.token = token

    async def may_see(self, session: AsyncSession, subscription: Subscription, event: ForwardedEvent) -> bool:
        audience = audience_of(event.type)
        if audience is None or audience.kind == "no_one":
            return False
        if audience.kind == "anyone":
            return event.family_id is None  # one that names a family is not what its type promised: held back
        if event.family_id is None:
            return False
        if audience.kind == "sharing_record":
            assert audience.record is not None and audience.record_field is not None
            record_id = _data(event).get(audience.record_field)
            return isinstance(record_id, str) and await self.consent.may_read(
                audience.record, record_id, subscription.organisation_id, subscription.organisation_type
            )
        assert audience.category is not None
        return await self._may_read_family_data(session, subscription, event, audience.category)

    async def _may_read_family_data(
        self, session: AsyncSession, subscription: Subscription, event: ForwardedEvent, category: str
    ) -> bool:
        assert event.family_id is not None
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
            plan_id = _data(event).get("plan_id")  # every plan event names its plan
            participants = await self.plans.participants(plan_id) if isinstance(plan_id, str) else None
            team = participants.organisations if participants else frozenset()
            if subscription.organisation_id in team:
                return True
        return basis is not None


def _data(event: ForwardedEvent) -> dict[str, object]:
    data = json.loads(event.body).get("data")
    return data if isinstance(data, dict) else {}
