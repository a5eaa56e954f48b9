"""Callers of a service tested on its own: an organisation with the headers of a token the test mints."""

from dataclasses import dataclass

from services.kit.testing import TokenMint


@dataclass
class Organisation:
    id: str
    type: str
    headers: dict[str, str]


def organisation(
    mint: TokenMint, org_id: str, org_type: str, scopes: str, subject: str, roles: tuple[str, ...] = ()
) -> Organisation:
    """`roles` are the organisation's standing on the platform, as the gateway names them (e.g. "coordinator")."""
    claims = {"sub": subject, "org_roles": list(roles)}
    headers = mint.headers(scopes, organisation_id=org_id, organisation_type=org_type, claims=claims)
    return Organisation(org_id, org_type, headers)
