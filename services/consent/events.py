"""The events the consent service emits: identifiers and periods, never who gave consent or why an override was opened.

Payload schemas are written to `schemas/events/` by `python -m services.consent.events`.
"""

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import AccessRecorded
from services.access.events import FamilyEvents
from services.kit.events.envelope import BaseCloudEvent
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


class AccessRequested(BaseModel):
    """`access.requested`: an organisation asked to see a family's records; whether any family matched is not told."""

    request_id: str
    organisation_id: str
    categories: list[str]


class AccessApproved(BaseModel):
    """`access.approved`: a holder of a basis shared the records asked for, by the grant named."""

    request_id: str
    organisation_id: str
    grant_id: str
    family_id: str


class AccessDeclined(BaseModel):
    """`access.declined`: the request was answered no."""

    request_id: str
    organisation_id: str


class AuditCheckpointSigned(BaseModel):
    """`audit.checkpoint`: the access log's entry at `position` had `hash`, signed with the consent service's key.

    `signature` is a compact JWS (alg Ed25519, kid `key_id`) over the sequence, position, hash and
    signing time; the public key is at `GET /audit/signing-keys`. Kept outside the database, these
    show a rewrite of the log made inside it. `sequence` numbers checkpoints from 1 without gaps.
    """

    sequence: int
    position: int
    hash: str
    key_id: str
    signature: str
    signed_at: datetime


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "consent.granted": ConsentGranted,
    "consent.withdrawn": ConsentWithdrawn,
    "consent.expired": ConsentExpired,
    "override.opened": OverrideOpened,
    "override.expired": OverrideExpired,
    "access.requested": AccessRequested,
    "access.approved": AccessApproved,
    "access.declined": AccessDeclined,
    "audit.checkpoint": AuditCheckpointSigned,
}


emit = FamilyEvents(SOURCE, EVENT_PAYLOADS).emit_about


if __name__ == "__main__":
    write_event_schemas(EVENT_PAYLOADS)


async def apply_access_recorded(session: AsyncSession, event: BaseCloudEvent) -> None:
    """Every service's `audit.recorded` events become entries of the one access log."""
    from services.consent.service import append_to_audit  # the handler calls the service, which emits through here

    await append_to_audit(session, event.get_id(), AccessRecorded.model_validate(event.get_data()))
