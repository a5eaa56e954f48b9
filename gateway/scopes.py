"""The scopes tokens carry and the roles staff hold: the gateway's vocabulary of permission."""

from enum import StrEnum


class Scope(StrEnum):
    ASSESSMENTS_READ = "assessments:read"
    ASSESSMENTS_WRITE = "assessments:write"
    PLANS_READ = "plans:read"
    PLANS_WRITE = "plans:write"
    CONSENT_READ = "consent:read"
    CONSENT_WRITE = "consent:write"
    AUDIT_READ = "audit:read"  # the access log: who read or changed which family's data, and its verification
    SUBSCRIPTIONS_MANAGE = "subscriptions:manage"
    REPORTS_READ = "reports:read"
    REPORTS_ALL = "reports:all"  # reports across every organisation, not only the caller's
    FORMS_ADMIN = "forms:admin"
    ADMIN = "admin"
    SERVICE = "service"  # a platform service acting as itself, not for a caller


SCOPES: frozenset[str] = frozenset(Scope)
# `service` belongs only to the services' own client, which the gateway ensures at start.
GRANTABLE_SCOPES: frozenset[str] = SCOPES - {Scope.SERVICE}


class StaffRole(StrEnum):
    PRACTITIONER = "practitioner"
    MANAGER = "manager"
    DATA_PROTECTION_OFFICER = "data_protection_officer"
    ADMIN = "admin"


# What a signed-in staff member may do, by role; a member holding several roles holds every scope of each.
ROLE_SCOPES: dict[StaffRole, frozenset[Scope]] = {
    StaffRole.PRACTITIONER: frozenset(
        {
            Scope.ASSESSMENTS_READ,
            Scope.ASSESSMENTS_WRITE,
            Scope.PLANS_READ,
            Scope.PLANS_WRITE,
            Scope.CONSENT_READ,
            Scope.CONSENT_WRITE,
        }
    ),
    StaffRole.MANAGER: frozenset({Scope.ASSESSMENTS_READ, Scope.PLANS_READ, Scope.REPORTS_READ}),
    StaffRole.DATA_PROTECTION_OFFICER: frozenset({Scope.CONSENT_READ, Scope.CONSENT_WRITE, Scope.AUDIT_READ}),
    StaffRole.ADMIN: frozenset({Scope.ADMIN, Scope.FORMS_ADMIN, Scope.AUDIT_READ}),
}


def staff_scope(roles: str) -> str:
    """The token scope of a staff member's space-separated roles; unknown roles give nothing."""
    known = {role.value: role for role in StaffRole}
    return " ".join(
        sorted({scope.value for name in roles.split() if name in known for scope in ROLE_SCOPES[known[name]]})
    )
