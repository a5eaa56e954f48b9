"""Made-up plan changes: `plan.updated` events shaped by the plan service's own payload model."""

import uuid

from services.access.events import family_event
from services.kit.events.envelope import CloudEvent
from services.plan.events import SOURCE, PlanUpdated


class PlanChanges:
    """`plan.updated` events by one organisation, spread over families, each a version up on the last."""

    def __init__(self, families: int, organisation_id: str) -> None:
        self.organisation_id = organisation_id
        self.plans = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(families)]  # family, plan
        self.versions = [1] * families
        self.count = 0

    def next(self) -> CloudEvent:
        index = self.count % len(self.plans)
        self.count += 1
        family_id, plan_id = self.plans[index]
        self.versions[index] += 1
        change = PlanUpdated(
            plan_id=plan_id,
            family_id=family_id,
            organisation_id=self.organisation_id,
            version=self.versions[index],
            changed=["goals"],
        )
        return family_event(
            source=SOURCE,
            type="plan.updated",
            subject=f"plan/{plan_id}",
            data=change.model_dump(mode="json"),
            family_id=family_id,
            organisation_id=self.organisation_id,
        )
