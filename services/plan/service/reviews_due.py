"""Reviews falling due: a sweep announces each active plan whose review is due, once per due date."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.plan import events, repository
from services.plan.service.writing import announce


async def announce_reviews_due(session: AsyncSession, today: date | None = None) -> int:
    """Announce each active plan whose review has fallen due, once per due date."""
    due = await repository.reviews_falling_due(session, today or now().date())
    for plan in due:
        assert plan.next_review_due is not None
        plan.review_due_announced = plan.next_review_due
        await repository.save(session, plan)
        announce(
            session,
            plan,
            events.PlanReviewDue(
                plan_id=plan.id,
                family_id=plan.family_id,
                lead_organisation_id=plan.lead_organisation_id,
                due_on=plan.next_review_due,
            ),
        )
    return len(due)
