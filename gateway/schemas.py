"""What the admin API and the token endpoint take and return."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic_core import PydanticCustomError

from gateway.models import OrganisationType
from gateway.scopes import GRANTABLE_SCOPES, Scope, StaffRole

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


def _grantable(scope: Scope) -> Scope:
    if scope not in GRANTABLE_SCOPES:
        raise PydanticCustomError("scope_not_grantable", "This scope is held only by the services' own client.")
    return scope


class OrganisationIn(BaseModel):
    name: Name
    type: OrganisationType


class OrganisationOut(BaseModel):
    id: str
    name: str
    type: OrganisationType
    created_at: datetime
    disabled: bool


class ClientIn(BaseModel):
    organisation_id: str
    name: Name
    scopes: list[Annotated[Scope, AfterValidator(_grantable)]] = Field(min_length=1)


class ClientOut(BaseModel):
    id: str
    organisation_id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    disabled: bool


class ClientCreated(ClientOut):
    client_secret: str = Field(description="Shown once; only its hash is kept.")


class UserIn(BaseModel):
    organisation_id: str
    email: Email
    name: Name
    roles: list[StaffRole] = Field(min_length=1)


class UserOut(BaseModel):
    id: str
    organisation_id: str
    email: str
    name: str
    roles: list[StaffRole]
    created_at: datetime
    disabled: bool


class UserCreated(UserOut):
    initial_password: str = Field(description="Shown once; the user changes it at first sign-in.")


class SigningKeyOut(BaseModel):
    kid: str
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str
