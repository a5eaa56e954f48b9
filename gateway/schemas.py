"""What the admin API and the token endpoint take and return."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from gateway.models import OrganisationType
from gateway.scopes import GRANTABLE_SCOPES, Scope, StaffRole

# `\S`: a name of spaces alone is refused, and the schema says so.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


def _grantable(scope: Scope) -> Scope:
    if scope not in GRANTABLE_SCOPES:
        raise PydanticCustomError("scope_not_grantable", "This scope is held only by the services' own client.")
    return scope


GrantableScope = Annotated[
    Scope, AfterValidator(_grantable), WithJsonSchema({"type": "string", "enum": sorted(GRANTABLE_SCOPES)})
]


class Body(BaseModel):
    """A request body: a field it does not know is a 422 naming it, as in every service, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class OrganisationIn(Body):
    name: Name
    type: OrganisationType
    coordinator: StrictBool = Field(
        default=False, description="an early help coordinator: holds a basis for every family (public task)"
    )


class OrganisationOut(BaseModel):
    id: str
    name: str
    type: OrganisationType
    coordinator: bool
    created_at: datetime
    disabled: bool


class ClientIn(Body):
    organisation_id: str
    name: Name
    scopes: list[GrantableScope] = Field(min_length=1)


class ClientOut(BaseModel):
    id: str
    organisation_id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    disabled: bool


class ClientCreated(ClientOut):
    client_secret: str = Field(description="Shown once; only its hash is kept.")


class UserIn(Body):
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
