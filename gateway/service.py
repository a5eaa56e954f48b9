"""The gateway's rules for organisations, their clients and staff."""

import secrets
import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import events, repository
from gateway.credentials import HashingPool, hash_client_secret, hash_secret, new_secret, verify_secret
from gateway.models import ApiClient, Organisation, OrganisationType, StaffUser
from gateway.schemas import ClientIn, OrganisationIn, UserIn
from gateway.scopes import GRANTABLE_SCOPES, Scope
from services.kit.problems import Conflict, NotFound

ADMINISTRATION = "Graduated Pathway administration"
SERVICES = "Graduated Pathway services"


def _now() -> datetime:
    return datetime.now(UTC)


async def _flush_unique(session: AsyncSession, conflict: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(conflict) from None


async def create_organisation(session: AsyncSession, data: OrganisationIn) -> Organisation:
    organisation = Organisation(
        id=str(uuid.uuid4()), name=data.name, type=data.type, coordinator=data.coordinator, created_at=_now()
    )
    session.add(organisation)
    await _flush_unique(session, "An organisation with that name exists already.")
    return organisation


async def active_organisation(session: AsyncSession, organisation_id: str) -> Organisation:
    organisation = await repository.get_organisation(session, organisation_id)
    if organisation is None:
        raise NotFound("No such organisation.")
    if organisation.disabled_at is not None:
        raise Conflict("The organisation is disabled.")
    return organisation


async def create_client(session: AsyncSession, hashing: HashingPool, data: ClientIn) -> tuple[ApiClient, str]:
    """A new API client and its secret, which is returned here and never again."""
    await active_organisation(session, data.organisation_id)
    secret = new_secret()
    client = ApiClient(
        id=f"pw_{secrets.token_hex(10)}",
        organisation_id=data.organisation_id,
        name=data.name,
        scopes=" ".join(dict.fromkeys(data.scopes)),
        secret_hash=await hashing.run(hash_client_secret, secret),
        created_at=_now(),
    )
    session.add(client)
    await session.flush()
    return client, secret


async def create_user(session: AsyncSession, hashing: HashingPool, data: UserIn) -> tuple[StaffUser, str]:
    """A new staff member and a temporary password, returned here and never again; they must change it first."""
    await active_organisation(session, data.organisation_id)
    password = new_secret()[:20]
    user = StaffUser(
        id=str(uuid.uuid4()),
        organisation_id=data.organisation_id,
        email=data.email,
        name=data.name,
        roles=" ".join(dict.fromkeys(data.roles)),
        password_hash=await hashing.run(hash_secret, password),
        must_change_password=True,
        created_at=_now(),
    )
    session.add(user)
    await _flush_unique(session, "A staff member with that e-mail address exists already.")
    return user, password


class Disableable(Protocol):
    disabled_at: datetime | None


D = TypeVar("D", bound=Disableable)


async def _disable(session: AsyncSession, model: type[D], key: str, what: str) -> tuple[D, bool]:
    """Mark a row disabled (once; disabling again changes nothing), and say whether it was open until now."""
    row = await session.get(model, key)
    if row is None:
        raise NotFound(f"No such {what}.")
    newly = row.disabled_at is None
    row.disabled_at = row.disabled_at or _now()
    return row, newly


async def disable_organisation(session: AsyncSession, organisation_id: str) -> Organisation:
    """Disabled: no token for its clients or staff, and every token they hold refused everywhere within moments."""
    organisation, newly = await _disable(session, Organisation, organisation_id, "organisation")
    if newly and organisation.disabled_at is not None:
        events.revoked(session, organisation.disabled_at, organisation_id=organisation.id)
    return organisation


async def disable_client(session: AsyncSession, client_id: str) -> ApiClient:
    client, newly = await _disable(session, ApiClient, client_id, "client")
    if newly and client.disabled_at is not None:
        events.revoked(session, client.disabled_at, subject=client.id)
    return client


async def disable_user(session: AsyncSession, user_id: str) -> StaffUser:
    user, newly = await _disable(session, StaffUser, user_id, "staff member")
    if newly and user.disabled_at is not None:
        events.revoked(session, user.disabled_at, subject=user.id)
    return user


async def token_client(session: AsyncSession, client_id: str) -> tuple[ApiClient, Organisation] | None:
    """The client that may ask for a token, with its organisation; None if unknown or disabled."""
    client = await repository.get_client(session, client_id)
    if client is None or client.disabled_at is not None:
        return None
    organisation = await repository.get_organisation(session, client.organisation_id)
    if organisation is None or organisation.disabled_at is not None:
        return None
    return client, organisation


async def ensure_bootstrap_client(session: AsyncSession, client_id: str, secret: str) -> None:
    """The first admin client, from settings: every scope a client may be given."""
    await _ensure_client(session, client_id, secret, ADMINISTRATION, "Bootstrap administrator", GRANTABLE_SCOPES)


async def ensure_service_client(session: AsyncSession, client_id: str, secret: str) -> None:
    """The services' own client, from settings: for calls a service makes as itself, and nothing else."""
    await _ensure_client(session, client_id, secret, SERVICES, "Graduated Pathway services", {Scope.SERVICE})


async def _ensure_client(
    session: AsyncSession, client_id: str, secret: str, organisation_name: str, name: str, scopes: Collection[str]
) -> None:
    """A client from settings: created once, in its platform organisation, its secret kept in step with settings."""
    client = await repository.get_client(session, client_id)
    if client is not None:
        if not verify_secret(client.secret_hash, secret):
            client.secret_hash = hash_client_secret(secret)
        return
    organisations = await repository.list_organisations(session)
    organisation = next((o for o in organisations if o.name == organisation_name), None)
    if organisation is None:
        organisation = Organisation(
            id=str(uuid.uuid4()), name=organisation_name, type=OrganisationType.COUNCIL, created_at=_now()
        )
        session.add(organisation)
        await session.flush()  # the client's foreign key needs the row
    session.add(
        ApiClient(
            id=client_id,
            organisation_id=organisation.id,
            name=name,
            scopes=" ".join(sorted(scopes)),
            secret_hash=hash_client_secret(secret),
            created_at=_now(),
        )
    )
    await session.flush()
