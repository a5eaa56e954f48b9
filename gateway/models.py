"""The gateway's tables: who may call, and the keys their tokens are signed with."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime


class OrganisationType(StrEnum):
    SCHOOL = "school"
    HEALTH = "health"
    POLICE = "police"
    COUNCIL = "council"
    VOLUNTARY = "voluntary"
    SOCIAL_CARE = "social_care"


class Organisation(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    # A plain string column, as in the migration: no database enum type to alter when types are added.
    type: OrganisationType = Field(sa_type=String(20))
    # An early help coordinator (e.g. the council's Early Help hub) holds a basis for every family: its public task.
    coordinator: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

    def roles(self) -> list[str]:
        """The standing it holds on the platform, told to every service in its tokens (`org_roles`)."""
        return ["coordinator"] if self.coordinator else []


class ApiClient(SQLModel, table=True):
    """A partner system; it authenticates with its id and a secret stored only as a hash."""

    __tablename__ = "api_client"

    id: str = Field(primary_key=True, max_length=64)
    organisation_id: str = Field(foreign_key="organisation.id", index=True, max_length=36)
    name: str = Field(max_length=200)
    scopes: str  # space-separated, as in the token's scope claim
    secret_hash: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: str = Field(primary_key=True, max_length=36)
    organisation_id: str = Field(foreign_key="organisation.id", index=True, max_length=36)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    roles: str  # space-separated
    password_hash: str
    # Set while the password is the temporary one an administrator was given: the member must change it first.
    must_change_password: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SigningKey(SQLModel, table=True):
    """A token signing key. The newest signs; older ones stay published until `retire_at`."""

    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=64)
    private_pem: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    retire_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class StaffSession(SQLModel, table=True):
    """A signed-in staff member's session. The cookie holds a random token; only its SHA-256 digest is stored."""

    __tablename__ = "staff_session"

    token_digest: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="staff_user.id", index=True, max_length=36)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime)
    last_seen_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
