"""The event the gateway emits: credentials it revoked, for every service to refuse their tokens at once.

Its schema is written to `schemas/events/` by `python -m gateway.events`; a test fails when the file drifts.
"""

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.events.catalogue import EventCatalogue
from services.kit.events.schemas import write_event_schemas
from services.kit.revocation import REVOKED_EVENT_TYPE, CredentialsRevoked

SOURCE = "/gateway"

EVENT_PAYLOADS: dict[str, type[BaseModel]] = {REVOKED_EVENT_TYPE: CredentialsRevoked}

_catalogue = EventCatalogue(SOURCE, EVENT_PAYLOADS)


def revoked(
    session: AsyncSession, revoked_at: datetime, *, subject: str | None = None, organisation_id: str | None = None
) -> None:
    """Tell every service, in the transaction that disables them, that these credentials' tokens are void."""
    payload = CredentialsRevoked(subject=subject, organisation_id=organisation_id, revoked_at=revoked_at)
    _catalogue.emit(session, payload, subject=subject or organisation_id or "")


if __name__ == "__main__":
    write_event_schemas(EVENT_PAYLOADS)
