"""The scopes tokens carry and the roles staff hold: the gateway's vocabulary of permission."""

from enum import StrEnum


class Scope(StrEnum):
    ASSESSMENTS_READ = "assessments:read"
    ASSESSMENTS_WRITE = "assessments:write"
    PLANS_READ = "plans:read"
    PLANS_WRITE = "plans:write"
    CONSENT_READ = "consent:read"
    CONSENT_WRITE = "consent:write"
    SUBSCRIPTIONS_MANAGE = "subscriptions:manage"
    REPORTS_READ = "reports:read"
    FORMS_ADMIN = "forms:admin"
    ADMIN = "admin"


SCOPES: frozenset[str] = frozenset(Scope)


class StaffRole(StrEnum):
    PRACTITIONER = "practitioner"
    MANAGER = "manager"
    DATA_PROTECTION_OFFICER = "data_protection_officer"
    ADMIN = "admin"
