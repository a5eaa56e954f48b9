"""The admin API: organisations, their API clients and staff, and signing keys."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from gateway import repository, service
from gateway.models import ApiClient, Organisation, StaffUser
from gateway.oauth import HashingDep, SigningKeysDep
from gateway.schemas import (
    ClientCreated,
    ClientIn,
    ClientOut,
    OrganisationIn,
    OrganisationOut,
    SigningKeyOut,
    UserCreated,
    UserIn,
    UserOut,
)
from gateway.scopes import Scope, StaffRole
from services.kit.auth import require_scope
from services.kit.db import SessionDep
from services.kit.ids import ID_PATTERN
from services.kit.openapi import problems

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_scope("admin"))])

OrganisationFilter = Annotated[str | None, Query(description="Only those of this organisation.")]
Id = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]


def organisation_out(organisation: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=organisation.id,
        name=organisation.name,
        type=organisation.type,
        coordinator=organisation.coordinator,
        created_at=organisation.created_at,
        disabled=organisation.disabled_at is not None,
    )


def client_out(client: ApiClient) -> ClientOut:
    return ClientOut(
        id=client.id,
        organisation_id=client.organisation_id,
        name=client.name,
        scopes=[Scope(scope) for scope in client.scopes.split()],
        created_at=client.created_at,
        disabled=client.disabled_at is not None,
    )


def user_out(user: StaffUser) -> UserOut:
    return UserOut(
        id=user.id,
        organisation_id=user.organisation_id,
        email=user.email,
        name=user.name,
        roles=[StaffRole(role) for role in user.roles.split()],
        created_at=user.created_at,
        disabled=user.disabled_at is not None,
    )


@router.post("/organisations", status_code=201, responses=problems(409))
async def create_organisation(body: OrganisationIn, session: SessionDep) -> OrganisationOut:
    """Register an organisation."""
    return organisation_out(await service.create_organisation(session, body))


@router.get("/organisations")
async def list_organisations(session: SessionDep) -> list[OrganisationOut]:
    """Every organisation."""
    return [organisation_out(o) for o in await repository.list_organisations(session)]


@router.post("/organisations/{organisation_id}/disable")
async def disable_organisation(organisation_id: Id, session: SessionDep) -> OrganisationOut:
    """Stop an organisation, its clients and its staff from getting tokens."""
    return organisation_out(await service.disable_organisation(session, organisation_id))


@router.post("/clients", status_code=201, responses=problems(404, 409))
async def create_client(body: ClientIn, session: SessionDep, hashing: HashingDep) -> ClientCreated:
    """Register an API client; its secret is in this answer and nowhere else."""
    client, secret = await service.create_client(session, hashing, body)
    return ClientCreated(**client_out(client).model_dump(), client_secret=secret)


@router.get("/clients")
async def list_clients(session: SessionDep, organisation_id: OrganisationFilter = None) -> list[ClientOut]:
    """API clients, without their secrets."""
    return [client_out(c) for c in await repository.list_clients(session, organisation_id)]


@router.post("/clients/{client_id}/disable")
async def disable_client(client_id: Id, session: SessionDep) -> ClientOut:
    """Stop a client from getting tokens."""
    return client_out(await service.disable_client(session, client_id))


@router.post("/users", status_code=201, responses=problems(404, 409))
async def create_user(body: UserIn, session: SessionDep, hashing: HashingDep) -> UserCreated:
    """Register a staff member; the first password is in this answer and nowhere else: they change it first."""
    user, password = await service.create_user(session, hashing, body)
    return UserCreated(**user_out(user).model_dump(), initial_password=password)


@router.get("/users")
async def list_users(session: SessionDep, organisation_id: OrganisationFilter = None) -> list[UserOut]:
    """Staff members."""
    return [user_out(u) for u in await repository.list_users(session, organisation_id)]


@router.post("/users/{user_id}/disable")
async def disable_user(user_id: Id, session: SessionDep) -> UserOut:
    """Stop a staff member from signing in."""
    return user_out(await service.disable_user(session, user_id))


@router.post("/signing-keys/rotate", status_code=201)
async def rotate_signing_key(session: SessionDep, keys: SigningKeysDep) -> SigningKeyOut:
    """Start signing with a new key; tokens signed by the old one stay valid until they expire."""
    row = await keys.rotate(session)
    return SigningKeyOut(kid=row.kid, created_at=row.created_at)
