"""Staff sign-in: sessions kept in the gateway's database, found by a random token in a cookie.

The session lives on the server rather than in a signed cookie so that signing
out, or an administrator disabling someone, ends it at once everywhere. The
cookie holds 256 random bits; the table holds only their SHA-256 digest, so a
copy of the database opens no session. Each session has its own CSRF token,
which every form posts back.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from gateway.config import FrontEndSettings
from gateway.credentials import HashingPool, hash_secret, verify_password
from gateway.models import Organisation, StaffSession, StaffUser

# Checked when no one has the e-mail address given, so that a wrong address takes as long as a wrong password.
_NOBODY = hash_secret(secrets.token_urlsafe(32))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, copied out of the rows so that it outlives the request's database session."""

    user_id: str
    user_name: str
    roles: str
    organisation_id: str
    organisation_name: str
    organisation_type: str
    organisation_roles: list[str]
    csrf_token: str
    expires_at: datetime
    token_digest: str = ""
    must_change_password: bool = False  # while set, changing it (or signing out) is all they may do
    email: str = ""  # their work address, by which a plan names its lead professional

    @classmethod
    def of(cls, user: StaffUser, organisation: Organisation, staff_session: StaffSession) -> "SignedIn":
        return cls(
            user.id,
            user.name,
            user.roles,
            organisation.id,
            organisation.name,
            str(organisation.type),
            organisation.roles(),
            staff_session.csrf_token,
            staff_session.expires_at,
            staff_session.token_digest,
            user.must_change_password,
            user.email,
        )

    def holds(self, role: str) -> bool:
        """Whether the member holds the role (`roles` is space-separated, as the admin API takes them)."""
        return role in self.roles.split()


class Ended(Enum):
    """Why a cookie no longer opens a session."""

    UNKNOWN = "unknown"
    TIMED_OUT = "timed-out"


async def sign_in(
    session: AsyncSession, settings: FrontEndSettings, hashing: HashingPool, email: str, password: str
) -> tuple[str, SignedIn] | None:
    """A new session's cookie token, if the address and password are right and the account is open.

    An unknown address costs the same argon2 check, on the same bounded pool, as a known one.
    """
    query = select(StaffUser, Organisation).join(Organisation).where(col(StaffUser.email) == email.strip().lower())
    row = (await session.execute(query)).first()
    await session.commit()  # the database connection let go while the password is checked
    matched = await hashing.run(verify_password, row[0].password_hash if row else _NOBODY, password)
    if row is None or not matched:
        return None
    user, organisation = row
    if user.disabled_at is not None or organisation.disabled_at is not None:
        return None
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    staff_session = StaffSession(
        token_digest=_digest(token),
        user_id=user.id,
        csrf_token=new_form_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_hours),
    )
    session.add(staff_session)
    await session.flush()
    return token, SignedIn.of(user, organisation, staff_session)


async def resume(session: AsyncSession, settings: FrontEndSettings, token: str) -> SignedIn | Ended:
    """The session a cookie opens, its idle clock restarted; or why it opens none (and the session is gone)."""
    query = (
        select(StaffSession, StaffUser, Organisation)
        .join(StaffUser, col(StaffUser.id) == col(StaffSession.user_id))
        .join(Organisation, col(Organisation.id) == col(StaffUser.organisation_id))
        .where(col(StaffSession.token_digest) == _digest(token))
    )
    row = (await session.execute(query)).first()
    if row is None:
        return Ended.UNKNOWN
    staff_session, user, organisation = row
    now = datetime.now(UTC)
    idle_until = staff_session.last_seen_at + timedelta(minutes=settings.idle_minutes)
    if now >= min(idle_until, staff_session.expires_at):
        await session.delete(staff_session)
        return Ended.TIMED_OUT
    if user.disabled_at is not None or organisation.disabled_at is not None:
        await session.delete(staff_session)
        return Ended.UNKNOWN
    staff_session.last_seen_at = now
    return SignedIn.of(user, organisation, staff_session)


async def change_password(session: AsyncSession, hashing: HashingPool, staff: SignedIn, current: str, new: str) -> bool:
    """Replace the member's password if `current` is it; their other sessions end. False if `current` is wrong."""
    user = await session.get(StaffUser, staff.user_id)
    if user is None:
        return False
    await session.commit()  # the database connection let go while argon2 runs
    if not await hashing.run(verify_password, user.password_hash, current):
        return False
    user.password_hash = await hashing.run(hash_secret, new)
    user.must_change_password = False
    session.add(user)
    await session.execute(
        delete(StaffSession).where(
            col(StaffSession.user_id) == user.id, col(StaffSession.token_digest) != staff.token_digest
        )
    )
    return True


async def sign_out(session: AsyncSession, token: str) -> None:
    await session.execute(delete(StaffSession).where(col(StaffSession.token_digest) == _digest(token)))


def same_token(given: object, expected: str) -> bool:
    return isinstance(given, str) and secrets.compare_digest(given.encode(), expected.encode())


def new_form_token() -> str:
    return secrets.token_urlsafe(32)
