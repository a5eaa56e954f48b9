"""The events the consent service emits: identifiers and periods, never who gave consent or why an override was opened.

Payload schemas are written to `schemas/events/` by `python -m services.consent.events`.
"""

from datetime import datetime

from pydantic import BaseModel

from services.kit.events.catalogue import EventCatalogue
from services.kit.events.schemas import write_event_schemas

SOURCE = "/services/consent"


class AccessChange(BaseModel):
    # The consent service's access revision after this change: a service keeping a copy of grants
    # and overrides has every change up to a revision once it has applied the event carrying it.
    revision: int | None = None


class ConsentGranted(AccessChange):
    """`consent.granted`: a family's data of these categories may be shared with these recipients."""

    grant_id: str
    family_id: str
    categories: list[str]
    recipient_organisations: list[str]
    recipient_types: list[str]
    purpose: str
    basis: str
    starts_at: datetime
    ends_at: datetime | None


class ConsentWithdrawn(AccessChange):
    """`consent.withdrawn`: the grant no longer allows anything, from `withdrawn_at`."""

    grant_id: str
    family_id: str
    withdrawn_at: datetime


class ConsentExpired(BaseModel):
    """`consent.expired`: the grant reached its end date."""

    grant_id: str
    family_id: str
    ended_at: datetime


class OverrideOpened(AccessChange):
    """`override.opened`: a named practitioner may open the family's records without consent until `expires_at`."""

    override_id: str
    family_id: str
    organisation_id: str
    practitioner: str
    opened_at: datetime
    expires_at: datetime


class OverrideExpired(AccessChange):
    """`override.expired`: the override ended, at its time limit or closed early (then with a revision)."""

    override_id: str
    family_id: str
    organisation_id: str
    ended_at: datetime


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "consent.granted": ConsentGranted,
    "consent.withdrawn": ConsentWithdrawn,
    "consent.expired": ConsentExpired,
    "override.opened": OverrideOpened,
    "override.expired": OverrideExpired,
}


emit = EventCatalogue(SOURCE, EVENT_PAYLOADS).emit


if __name__ == "__main__":
    write_event_schemas(EVENT_PAYLOADS)
