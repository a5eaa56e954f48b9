"""The scopes tokens carry and the roles staff hold: the gateway's vocabulary of permission."""

from enum import StrEnum

SCOPES: frozenset[str] = frozenset(
    {
        "assessments:read",
        "assessments:write",
        "plans:read",
        "plans:write",
        "consent:read",
        "consent:write",
        "subscriptions:manage",
        "reports:read",
        "forms:admin",
        "admin",
    }
)


class StaffRole(StrEnum):
    PRACTITIONER = "practitioner"
    MANAGER = "manager"
    DATA_PROTECTION_OFFICER = "data_protection_officer"
    ADMIN = "admin"
