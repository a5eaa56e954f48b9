"""Every read and change of a family's data, written as an `audit.recorded` event.

The entry goes into the outbox in the transaction of the read or change it
records, so there is no access without its entry. It names who, which
organisation, what was done to which record and on which basis; never what
the record holds. The service that keeps the access log consumes these events.
"""

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import Basis
from services.access.events import family_event
from services.kit.auth import Principal
from services.kit.events.outbox import record_event

AUDIT_EVENT_TYPE = "audit.recorded"


class AccessRecorded(BaseModel):
    """`audit.recorded`: one read or change of a family's data."""

    actor: str
    organisation_id: str
    organisation_type: str
    action: str  # read, create, update, submit, correct, carry_forward, ...
    resource_type: str
    resource_id: str
    family_id: str
    basis: str
    basis_reference: str
    occurred_at: datetime


def record_access(
    session: AsyncSession,
    principal: Principal,
    *,
    source: str,
    action: str,
    resource_type: str,
    resource_id: str,
    family_id: str,
    basis: Basis,
) -> None:
    entry = AccessRecorded(
        actor=principal.subject,
        organisation_id=principal.organisation_id,
        organisation_type=principal.organisation_type,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        family_id=family_id,
        basis=basis.kind,
        basis_reference=basis.reference,
        occurred_at=datetime.now(UTC),
    )
    record_event(
        session,
        family_event(
            source=source,
            type=AUDIT_EVENT_TYPE,
            subject=f"{resource_type}/{resource_id}",
            data=entry.model_dump(mode="json"),
            family_id=family_id,
            organisation_id=principal.organisation_id,
        ),
    )
