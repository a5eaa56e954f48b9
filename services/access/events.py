"""The family an event concerns, named in its envelope: what decides who may receive it.

Every event about a family carries the CloudEvents extension attribute `familyid`, so a
subscriber's right to it is decided from the envelope without reading the payload.
"""

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.events.catalogue import EventCatalogue
from services.kit.events.envelope import CloudEvent, new_event

FAMILY_EXTENSION = "familyid"


class FamilyEvents(EventCatalogue):
    """A service's catalogue of events, each naming the family it concerns."""

    def emit_about(
        self, session: AsyncSession, payload: BaseModel, *, subject: str, family_id: str | None = None
    ) -> None:
        self.emit(session, payload, subject=subject, extensions={FAMILY_EXTENSION: family_id})


def family_event(
    *,
    source: str,
    type: str,
    subject: str,
    data: dict[str, object],
    family_id: str | None,
    organisation_id: str | None = None,
) -> CloudEvent:
    """A new event about a family (or about none, with `family_id` None)."""
    return new_event(
        source=source,
        type=type,
        subject=subject,
        data=data,
        organisation_id=organisation_id,
        extensions={FAMILY_EXTENSION: family_id},
    )
