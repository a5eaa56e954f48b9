"""Contacts with the family recorded on a plan: visits, calls, meetings, messages and notes.

Whoever may change the plan records them (its author, lead and team), on a
draft or active plan; recording one leaves the plan and its version as they
are, so it takes no `If-Match`. Who took part and what was said are the
family's case notes (`case_notes`): reading them needs a basis for that
category (`access.authorised_for_case_notes`), and every read is audited. The
event says that a contact of a kind happened, and when; never who or what.
"""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import record_access
from services.access.decisions import AccessPolicy, Basis
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.kit.paging import Page, page_of
from services.kit.problems import ValidationFailed
from services.plan import events, repository
from services.plan.document import Participant
from services.plan.models import PlanContact
from services.plan.schemas import ContactIn
from services.plan.service.access import authorised_for_case_notes, found, writable
from services.plan.service.lifecycle import moved
from services.plan.service.problems import InvalidContact
from services.plan.service.writing import announce

RESOURCE = "contact"
# A partner system's clock may run a little ahead of ours: a contact "now" by its clock is not in the future.
CLOCK_SKEW = timedelta(minutes=5)


async def record_contact(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, plan_id: str, body: ContactIn
) -> PlanContact:
    """A contact on the plan, locked against a closure meanwhile; announced without its notes, and audited."""
    plan = await writable(session, policy, principal, plan_id, "record_contact")
    moved(plan, "record_contact")
    if body.occurred_at > now() + CLOCK_SKEW:
        raise InvalidContact("The contact's time is in the future.")
    contact = PlanContact(
        id=new_id(),
        plan_id=plan.id,
        family_id=plan.family_id,
        kind=body.kind,
        occurred_at=body.occurred_at,
        participants=[Participant.model_validate(p.model_dump()) for p in body.participants],
        summary=body.summary,
        organisation_id=principal.organisation_id,
        recorded_by=principal.subject,
        recorded_at=now(),
    )
    repository.save_contact(session, contact)
    announce(
        session,
        plan,
        events.PlanContactRecorded(
            plan_id=plan.id,
            family_id=plan.family_id,
            organisation_id=principal.organisation_id,
            contact_id=contact.id,
            kind=body.kind,
            occurred_at=contact.occurred_at,
        ),
    )
    # Whoever records a contact writes it: that is the basis of its first entry.
    record_access(
        session,
        principal,
        source=events.SOURCE,
        action="create",
        resource_type=RESOURCE,
        resource_id=contact.id,
        family_id=plan.family_id,
        basis=Basis("authorship", principal.organisation_id),
    )
    return contact


async def plan_contacts(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, plan_id: str, limit: int, after: str | None
) -> Page[PlanContact]:
    """A page of the plan's contacts in the order they happened, to a reader of its case notes; audited."""
    plan = await found(session, plan_id)
    await authorised_for_case_notes(session, policy, principal, plan, "read_contacts")
    start = None
    if after is not None:
        start = await repository.contact(session, after)
        if start is None or start.plan_id != plan.id:
            raise ValidationFailed(
                "Page on with the `after` of the previous page's `next` link.",
                errors=[{"parameter": "after", "in": "query", "detail": "Names no contact of this plan."}],
            )
    rows = await repository.plan_contacts(session, plan.id, limit=limit + 1, after=start)
    return page_of(rows, limit, lambda contact: contact.id)
