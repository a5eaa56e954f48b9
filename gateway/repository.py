"""Every query the gateway makes."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from gateway.models import ApiClient, Organisation, SigningKey, StaffUser


async def get_organisation(session: AsyncSession, organisation_id: str) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def list_organisations(session: AsyncSession) -> Sequence[Organisation]:
    return (await session.execute(select(Organisation).order_by(col(Organisation.name)))).scalars().all()


async def get_client(session: AsyncSession, client_id: str) -> ApiClient | None:
    return await session.get(ApiClient, client_id)


async def list_clients(session: AsyncSession, organisation_id: str | None) -> Sequence[ApiClient]:
    query = select(ApiClient).order_by(col(ApiClient.created_at))
    if organisation_id:
        query = query.where(ApiClient.organisation_id == organisation_id)
    return (await session.execute(query)).scalars().all()


async def get_user(session: AsyncSession, user_id: str) -> StaffUser | None:
    return await session.get(StaffUser, user_id)


async def list_users(session: AsyncSession, organisation_id: str | None) -> Sequence[StaffUser]:
    query = select(StaffUser).order_by(col(StaffUser.created_at))
    if organisation_id:
        query = query.where(StaffUser.organisation_id == organisation_id)
    return (await session.execute(query)).scalars().all()


async def published_keys(session: AsyncSession, now: datetime) -> Sequence[SigningKey]:
    """Keys not yet retired, newest first."""
    query = (
        select(SigningKey)
        .where(col(SigningKey.retire_at).is_(None) | (col(SigningKey.retire_at) > now))
        .order_by(col(SigningKey.created_at).desc())
    )
    return (await session.execute(query)).scalars().all()
